"""The Kafka clients over TLS, configured as the Kubernetes manifests configure them (base/config.env:
SASL_SSL, SCRAM-SHA-512, the cluster CA's file): against a broker of this test's own with TLS listeners
(``deploy/local/kafka.sh`` with KAFKA_TLS_DIR), its certificate signed by a CA openssl makes here. The
brokers' certificate is checked against that CA and the address (as Strimzi's are against the cluster CA)."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from services.common.kafka import client_options, ensure_topics, new_producer
from services.common.settings import ServiceSettings
from tests.support import PrivateBroker

ROOT = Path(__file__).resolve().parents[2]
USER, PASSWORD = "zuofeng-triage", "5e0b7c2d9a1f4e38b6c5d4e3f2a1b0c9"
SASL_SSL_PORT, SSL_PORT = 19404, 19405
tls_broker = PrivateBroker("tls", 19402)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _ca(directory: Path, name: str) -> Path:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.crt",
             "-days", "2", "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
    return directory / f"{name}.crt"


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (deploy/local/install-deps.sh installs it)")
    directory = tmp_path_factory.mktemp("kafka-tls")
    _ca(directory, "cluster-ca")
    _ca(directory, "other-ca")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key", "-out", "broker.csr",
             "-subj", "/CN=zuofeng-kafka-0", cwd=directory)
    (directory / "broker.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", "broker.csr", "-CA", "cluster-ca.crt", "-CAkey", "cluster-ca.key",
             "-CAcreateserial", "-out", "broker.crt", "-days", "2", "-extfile", "broker.ext", cwd=directory)
    # Kafka's PEM keystore: the (PKCS#8, unencrypted) key, then the certificate chain.
    (directory / "broker.pem").write_bytes(b"".join(
        (directory / name).read_bytes() for name in ("broker.key", "broker.crt", "cluster-ca.crt")))
    return directory


@pytest.fixture(scope="module")
async def broker(tls_dir):
    tls_broker.env |= {"KAFKA_TLS_DIR": str(tls_dir), "KAFKA_SASL_SSL_PORT": str(SASL_SSL_PORT),
                       "KAFKA_SSL_PORT": str(SSL_PORT), "KAFKA_SASL_USERS": f"{USER}:{PASSWORD}"}
    await tls_broker("up")
    yield
    await tls_broker("down")


def manifest_config() -> dict[str, str]:
    lines = (ROOT / "deploy" / "k8s" / "base" / "config.env").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def _settings(protocol: str, port: int, cafile: Path, **overrides) -> ServiceSettings:
    config = manifest_config()
    return ServiceSettings(**{
        "_env_file": None, "kafka_bootstrap_servers": f"127.0.0.1:{port}", "kafka_security_protocol": protocol,
        "kafka_sasl_mechanism": config["KAFKA_SASL_MECHANISM"], "kafka_sasl_username": USER,
        "kafka_sasl_password": PASSWORD, "kafka_ssl_cafile": str(cafile), **overrides})


async def _round_trip(settings: ServiceSettings) -> list[bytes]:
    topic = f"tls{secrets.token_hex(4)}.zuofeng.triage.clue-triaged.v1"
    await ensure_topics(settings, {topic: False})  # the admin client goes over TLS too
    producer = new_producer(settings, "triage-relay")
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"triaged", key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, **client_options(settings), group_id=f"{topic}-g",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=10000)
    finally:
        await consumer.stop()
    return [m.value for records in batch.values() for m in records]


async def test_a_service_produces_and_consumes_over_tls_with_scram_as_in_kubernetes(broker, tls_dir):
    config = manifest_config()
    assert (config["KAFKA_SECURITY_PROTOCOL"], config["KAFKA_SASL_MECHANISM"]) == ("SASL_SSL", "SCRAM-SHA-512")
    # The manifests mount the cluster CA at KAFKA_SSL_CAFILE; here it is the CA this test made.
    settings = _settings(config["KAFKA_SECURITY_PROTOCOL"], SASL_SSL_PORT, tls_dir / "cluster-ca.crt")
    assert await _round_trip(settings) == [b"triaged"]


async def test_a_service_produces_and_consumes_over_tls_alone(broker, tls_dir):
    settings = _settings("SSL", SSL_PORT, tls_dir / "cluster-ca.crt", kafka_sasl_username="", kafka_sasl_password="")
    assert await _round_trip(settings) == [b"triaged"]


async def test_a_broker_certificate_from_another_ca_or_a_plaintext_client_is_refused(broker, tls_dir):
    for settings in (
        _settings("SASL_SSL", SASL_SSL_PORT, tls_dir / "other-ca.crt"),  # a broker we cannot verify
        _settings("SASL_SSL", SASL_SSL_PORT, tls_dir / "cluster-ca.crt", kafka_sasl_password="wrong-password"),
        ServiceSettings(_env_file=None, kafka_bootstrap_servers=f"127.0.0.1:{SSL_PORT}"),  # plaintext to TLS
    ):
        producer = new_producer(settings, "intruder")
        producer.client._request_timeout_ms = 5000
        with pytest.raises(Exception):  # noqa: B017 — aiokafka reports each as a connection/auth error
            await asyncio.wait_for(producer.start(), timeout=20)
        await producer.stop()
