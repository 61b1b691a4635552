"""The Java sample of the signing kit (docs/examples/HotlineSigner.java), compiled and run against a live
gateway on a real socket: it signs and posts a hotline ticket in Chinese, reads it back by a non-ASCII
external id (percent-encoded path, signed as sent), and a wrong secret is refused."""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gateway.app import create_app
from gateway.settings import GatewaySettings
from services.common.suite import SERVICES

from ..support import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]
KEY_ID, SECRET = "hotline-12345-java", "java-sample-secret-7f3a9c1e5b2d4f6a8c0e"

pytestmark = pytest.mark.skipif(not (shutil.which("javac") and shutil.which("java")),
                                reason="no JDK (javac) to compile docs/examples/HotlineSigner.java")


@pytest.fixture(scope="module")
async def gateway_url(suite, settings_kwargs, keys):
    settings = GatewaySettings(**settings_kwargs, upstreams={n: f"http://{n}.test" for n in SERVICES},
                               staff_jwt_public_key=keys["staff_public"], rate_limits={},
                               hotline_keys={KEY_ID: {"line": "12345", "secret": SECRET}})
    app = create_app(settings)
    async with LifespanManager(app):
        await app.state.http.aclose()
        app.state.http = httpx.AsyncClient(
            mounts={f"http://{n}.test": httpx.ASGITransport(app=suite.apps[n]) for n in SERVICES})
        async with LoopbackServer(app) as server:
            yield server.base_url
        await app.state.http.aclose()


@pytest.fixture(scope="module")
async def java_classes(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("java")
    process = await asyncio.create_subprocess_exec(
        "javac", "-d", str(out), str(ROOT / "docs/examples/HotlineSigner.java"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, output.decode()
    return out


async def java_send(classes: Path, base: str, secret: str, method: str, target: str, body: bytes,
                    tmp_path: Path) -> tuple[int, str]:
    """Runs the sample's ``send`` in a subprocess (the gateway keeps serving on this event loop meanwhile)."""
    body_file = tmp_path / f"body-{secrets.token_hex(4)}"
    body_file.write_bytes(body)
    process = await asyncio.create_subprocess_exec(
        "java", "-cp", str(classes), "HotlineSigner", "send", base, KEY_ID, secret, method, target, str(body_file),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    status, _, text = out.decode("utf-8").partition("\n")
    return int(status), text.strip()


async def test_the_java_sample_posts_and_reads_a_ticket_through_the_gateway(gateway_url, java_classes, tmp_path):
    external_id = f"热线-{secrets.token_hex(4)}"
    report = {"external_id": external_id, "subject": "某区政务服务中心",
              "text": "窗口工作人员推诿扯皮，群众材料齐全仍被要求反复跑腿。"}
    body = json.dumps(report, ensure_ascii=False).encode("utf-8")
    status, text = await java_send(java_classes, gateway_url, SECRET, "POST",
                                   "/api/v1/intake/feeds/12345/reports", body, tmp_path)
    assert status == 201, text
    clue = json.loads(text)
    assert clue["tracking_number"].startswith("ZF-") and clue["channel"] == "hotline_12345"

    # The non-ASCII external id goes in the path percent-encoded as UTF-8, and is signed that way.
    target = f"/api/v1/intake/feeds/12345/reports/{quote(external_id, safe='')}"
    assert "%E7%83%AD" in target
    status, text = await java_send(java_classes, gateway_url, SECRET, "GET", target, b"", tmp_path)
    assert status == 200, text
    assert json.loads(text)["tracking_number"] == clue["tracking_number"]


async def test_the_gateway_refuses_the_java_sample_with_a_wrong_secret(gateway_url, java_classes, tmp_path):
    body = json.dumps({"external_id": f"J-{secrets.token_hex(4)}", "subject": "某单位", "text": "测试"}).encode()
    status, text = await java_send(java_classes, gateway_url, "not-the-secret-" + "x" * 30, "POST",
                                   "/api/v1/intake/feeds/12345/reports", body, tmp_path)
    assert status == 401, text
    assert json.loads(text)["status"] == 401
