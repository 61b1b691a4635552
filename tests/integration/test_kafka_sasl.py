"""The Kafka clients authenticate with SASL/SCRAM-SHA-512, as in Kubernetes (where each service is a
KafkaUser on a TLS + SCRAM listener): against a broker of this test's own with a SCRAM listener
(``deploy/local/kafka.sh`` with KAFKA_SASL_PORT, the credential created at format time)."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from aiokafka import AIOKafkaConsumer

from services.common.kafka import client_options, ensure_topics, new_producer
from services.common.settings import ServiceSettings
from tests.support import PrivateBroker

# Fixed: the credential is written when the instance's data dir is formatted (its first start).
USER, PASSWORD = "zuofeng-intake", "b6d1c2f0e3a44f5e9d8c7b6a5f4e3d2c"
SASL_PORT = 19394
sasl_broker = PrivateBroker("sasl", 19392)
sasl_broker.env |= {"KAFKA_SASL_PORT": str(SASL_PORT), "KAFKA_SASL_USERS": f"{USER}:{PASSWORD}"}


@pytest.fixture(scope="module")
async def broker():
    await sasl_broker("up")
    yield f"127.0.0.1:{SASL_PORT}"
    await sasl_broker("down")


def _settings(bootstrap: str, **overrides) -> ServiceSettings:
    return ServiceSettings(**{
        "_env_file": None, "kafka_bootstrap_servers": bootstrap, "kafka_security_protocol": "SASL_PLAINTEXT",
        "kafka_sasl_mechanism": "SCRAM-SHA-512", "kafka_sasl_username": USER, "kafka_sasl_password": PASSWORD,
        **overrides})


async def test_a_service_produces_and_consumes_as_its_scram_user(broker):
    settings = _settings(broker)
    topic = f"sasl{secrets.token_hex(4)}.zuofeng.intake.clue-received.v1"
    await ensure_topics(settings, {topic: False})  # the admin client authenticates too
    producer = new_producer(settings, "intake-relay")
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"clue", key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, **client_options(settings), group_id=f"{topic}-g",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=10000)
    finally:
        await consumer.stop()
    assert [m.value for records in batch.values() for m in records] == [b"clue"]


async def test_a_wrong_password_or_no_authentication_is_refused(broker):
    for settings in (_settings(broker, kafka_sasl_password="not-the-password"),
                     ServiceSettings(_env_file=None, kafka_bootstrap_servers=broker)):  # plaintext to SASL
        producer = new_producer(settings, "intruder")
        producer.client._request_timeout_ms = 5000
        with pytest.raises(Exception):  # noqa: B017 — aiokafka reports either as a connection/auth error
            await asyncio.wait_for(producer.start(), timeout=20)
        await producer.stop()


def test_sasl_without_credentials_refuses_to_start():
    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME"):
        ServiceSettings(_env_file=None, kafka_security_protocol="SASL_SSL")


def test_ssl_clients_verify_the_brokers_against_the_cluster_ca(tmp_path):
    import ssl

    settings = ServiceSettings(_env_file=None, kafka_security_protocol="SSL")
    context = client_options(settings)["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
