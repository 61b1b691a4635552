"""The hotline signing kit in docs/hotline-signing.md: its test vectors are what the gateway computes,
and the Java sample computes the same (compiled and run here when a JDK is present)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gateway.hotline import signature

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "hotline-signing.md"
SECRET = "zuofeng-test-vector-secret-0123456789abcdef"


def vectors() -> list[dict]:
    (block,) = re.findall(r"<!-- vectors -->\s*```json\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    return json.loads(block)


def test_the_documented_vectors_are_what_the_gateway_signs():
    assert SECRET in DOC.read_text(encoding="utf-8")
    found = vectors()
    assert len(found) >= 3 and any("%" in v["target"] for v in found)  # a non-ASCII query among them
    for v in found:
        assert signature(SECRET, v["method"], v["target"], v["timestamp"], v["nonce"],
                         v["body"].encode()) == v["signature"], v["target"]
    # One changed byte of the body changes the signature.
    v = found[0]
    assert signature(SECRET, v["method"], v["target"], v["timestamp"], v["nonce"],
                     v["body"].encode() + b" ") != v["signature"]


def test_the_java_sample_signs_the_vectors_alike(tmp_path):
    if not (shutil.which("javac") and shutil.which("java")):
        pytest.skip("no JDK (javac) to compile docs/examples/HotlineSigner.java")
    subprocess.run(["javac", "-d", str(tmp_path), str(ROOT / "docs/examples/HotlineSigner.java")],
                   check=True, capture_output=True, timeout=120)
    for i, v in enumerate(vectors()):
        body = tmp_path / f"body{i}"
        body.write_bytes(v["body"].encode())
        out = subprocess.run(
            ["java", "-cp", str(tmp_path), "HotlineSigner", SECRET, v["method"], v["target"], v["timestamp"],
             v["nonce"], str(body)], check=True, capture_output=True, text=True, timeout=60)
        assert out.stdout.strip() == v["signature"], v["target"]
