"""Kafka clients configured one way for the whole suite, and topic creation at start-up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context

from .contracts.base import EventContract
from .events import dlq_name
from .settings import ServiceSettings

log = logging.getLogger(__name__)


def client_options(settings: ServiceSettings) -> dict[str, Any]:
    """Connection and authentication options shared by every producer, consumer and admin client."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol.startswith("SASL"):
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": settings.kafka_sasl_password,
        }
    if settings.kafka_security_protocol.endswith("SSL"):
        # The brokers' certificate is checked against the cluster CA (Strimzi's <cluster>-cluster-ca-cert),
        # or the system's trust store when no file is given.
        cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        options["ssl_context"] = create_ssl_context(cafile=cafile)
    return options


def new_producer(settings: ServiceSettings, client_id: str) -> AIOKafkaProducer:
    # Idempotent and acks=all: a retried send never duplicates within a producer session, and an
    # acknowledged event survives the loss of the leader.
    return AIOKafkaProducer(
        **client_options(settings),
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        request_timeout_ms=15000,
        compression_type=None,
    )


def topics_for(contracts: Iterable[type[EventContract]], prefix: str) -> dict[str, bool]:
    """Topic name → compacted, for the contracts a service produces or consumes, with their DLQs."""
    topics: dict[str, bool] = {}
    for contract in contracts:
        topics[contract.topic(prefix)] = contract.compacted
        topics[dlq_name(contract.topic(prefix))] = False
    return topics


async def ensure_topics(settings: ServiceSettings, topics: dict[str, bool]) -> None:
    """Create missing topics. Every service calls this for what it touches, so start order never matters."""
    admin = AIOKafkaAdminClient(**client_options(settings), request_timeout_ms=10000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name,
                num_partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication,
                topic_configs={"cleanup.policy": "compact"} if compacted else {},
            )
            for name, compacted in topics.items()
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another service created it meanwhile
                await admin.create_topics(missing)
            await _await_leaders(admin, [t.name for t in missing])
            log.info("created topics", extra={"topics": [t.name for t in missing]})
    finally:
        await admin.close()


async def _await_leaders(admin: AIOKafkaAdminClient, names: list[str], timeout: float = 10.0) -> None:
    """Waits (bounded) until every partition of the new topics has a leader: a producer that sends
    before that gets NotLeaderForPartition, and the outbox would only try again."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        described = await admin.describe_topics(names)
        if all(t["error_code"] == 0 and t["partitions"] and all(p["leader"] >= 0 for p in t["partitions"])
               for t in described):
            return
        await asyncio.sleep(0.1)
    log.warning("new topics still without leaders", extra={"topics": names})


async def delete_topics(bootstrap_servers: str, prefix: str) -> list[str]:
    """Deletes every topic whose name starts with ``prefix`` (a test run's or a benchmark's): left behind,
    each run adds dozens of partitions to the broker, and one holding thousands starts slowly."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10000)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
        return names
    finally:
        await admin.close()


async def kafka_reachable(bootstrap_servers: str, timeout: float = 1.0) -> bool:
    """A TCP check of the first reachable bootstrap server: cheap enough for every /readyz."""
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
        except (TimeoutError, OSError):
            continue
        writer.close()
        return True
    return False
