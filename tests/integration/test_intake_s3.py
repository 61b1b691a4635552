"""Intake's S3 blob store (what Kubernetes runs: every intake pod sees every attachment) against a real
S3-compatible server: SeaweedFS's S3 gateway, built once by deploy/local/seaweedfs.sh (cached in .run/)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from services.intake.attachments import S3BlobStore, StagedFile, blob_store
from services.intake.settings import IntakeSettings

REPO = Path(__file__).resolve().parents[2]
# Below Linux's ephemeral range, apart from the brokers' test ports; gRPC ports are these + 10000.
PORTS = {"master": 19633, "volume": 18680, "filer": 18688, "s3": 18633}
ACCESS, SECRET = "zuofeng-intake", "3f0c8a1d5e7b49a2b6c4d8e0f1a3b5c7"


def _weed() -> str:
    if shutil.which("go") is None and not (REPO / ".run/go/bin/weed").exists():
        pytest.skip("no go toolchain to build SeaweedFS (deploy/local/seaweedfs.sh); S3 store not tested")
    out = subprocess.run(["bash", str(REPO / "deploy/local/seaweedfs.sh"), "bin"], check=True,
                         capture_output=True, text=True, timeout=3600)
    return out.stdout.strip()


def _wait_for(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "weed server exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.25)
    raise AssertionError(f"weed's S3 gateway did not listen on {port}")


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    weed = _weed()
    root = tmp_path_factory.mktemp("seaweedfs")
    config = root / "s3.json"
    config.write_text(json.dumps({"identities": [
        {"name": "intake", "credentials": [{"accessKey": ACCESS, "secretKey": SECRET}],
         "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    process = subprocess.Popen(
        [weed, "server", f"-dir={root}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-s3",
         f"-master.port={PORTS['master']}", f"-volume.port={PORTS['volume']}", f"-filer.port={PORTS['filer']}",
         f"-s3.port={PORTS['s3']}", f"-s3.config={config}", "-volume.max=4"],
        stdout=(root / "weed.log").open("wb"), stderr=subprocess.STDOUT)
    try:
        _wait_for(PORTS["s3"], process)
        yield f"http://127.0.0.1:{PORTS['s3']}"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def aws_keys(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def _settings(endpoint: str, bucket: str, tmp_path: Path) -> IntakeSettings:
    return IntakeSettings(_env_file=None, attachment_store="s3", s3_endpoint_url=endpoint, s3_bucket=bucket,
                          data_dir=str(tmp_path))


def _staged(tmp_path: Path, content: bytes) -> StagedFile:
    path = tmp_path / f"staged-{hashlib.sha256(content).hexdigest()[:8]}"
    path.write_bytes(content)
    return StagedFile(path, hashlib.sha256(content).hexdigest(), len(content), "image/jpeg")


def _bucket(endpoint: str, name: str) -> None:
    import boto3

    deadline = time.monotonic() + 60
    while True:  # the gateway listens before the filer behind it is ready
        try:
            boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=name)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


async def test_an_attachment_round_trips_and_a_second_pod_reads_it(s3_endpoint, aws_keys, tmp_path):
    bucket = f"zuofeng-{os.urandom(4).hex()}"
    _bucket(s3_endpoint, bucket)
    content = b"\xff\xd8\xff\xe0" + os.urandom(300_000)  # bigger than one small read; random, so unique
    staged = _staged(tmp_path, content)
    pod_a, pod_b = (blob_store(_settings(s3_endpoint, bucket, tmp_path)) for _ in range(2))
    assert isinstance(pod_a, S3BlobStore)
    await pod_a.put(staged)
    assert not staged.path.exists()  # staged copy gone once stored
    assert await pod_b.get(staged.sha256) == content  # another intake pod, same evidence
    # Content-addressed: storing the same file again is a no-op, not an error or a second object.
    await pod_b.put(_staged(tmp_path, content))
    assert await pod_a.get(staged.sha256) == content


async def test_wrong_keys_are_refused(s3_endpoint, aws_keys, monkeypatch, tmp_path):
    bucket = f"zuofeng-{os.urandom(4).hex()}"
    _bucket(s3_endpoint, bucket)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-key-at-all-000000")
    store = blob_store(_settings(s3_endpoint, bucket, tmp_path))
    with pytest.raises(Exception):  # noqa: B017 — botocore's ClientError (SignatureDoesNotMatch/AccessDenied)
        await store.put(_staged(tmp_path, b"\xff\xd8\xff\xe0 evidence"))
