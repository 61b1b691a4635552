"""The kernel's gauges measure what they say: the outbox backlog counts what waits, above all while the
broker cannot be reached (what the critical alert on ``zuofeng_outbox_backlog`` is for), and the group lag
counts what the consumer group has not committed."""

from __future__ import annotations

import asyncio
import secrets
import socket

from sqlalchemy import MetaData, text

from services.common.db import create_engine, create_session_factory, session_scope
from services.common.observability import OUTBOX_BACKLOG
from services.common.outbox import Outbox, OutboxRelay, outbox_table
from services.common.settings import ServiceSettings

from ..support import eventually
from .test_faults_kernel import clue_event


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_the_backlog_is_counted_while_the_broker_is_unreachable(settings_kwargs):
    schema = f"backlog_{secrets.token_hex(3)}"
    settings = ServiceSettings(**{**settings_kwargs, "kafka_bootstrap_servers": f"127.0.0.1:{_closed_port()}",
                                  "outbox_poll_seconds": 0.2})
    metadata = MetaData(schema=schema)
    table = outbox_table(metadata)
    engine = create_engine(settings, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(metadata.create_all)
    sessions = create_session_factory(engine)
    outbox = Outbox(table, settings)
    service = f"backlog-{schema}"
    gauge = OUTBOX_BACKLOG.labels(service)

    async def publish(n: int) -> None:
        async with session_scope(sessions) as session:
            await outbox.publish_many(session, [clue_event() for _ in range(n)])

    async def gauge_is(n: int) -> bool:
        return gauge._value.get() == n

    await publish(5)
    relay = OutboxRelay(service=service, table=table, engine=engine, settings=settings, topics={})
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: gauge_is(5), timeout=30)
        await publish(3)
        await eventually(lambda: gauge_is(8), timeout=30)
        assert relay.published == 0 and not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()


async def test_the_backlog_falls_to_zero_once_the_relay_has_published(settings_kwargs):
    schema = f"backlog_{secrets.token_hex(3)}"
    settings = ServiceSettings(**{**settings_kwargs, "topic_prefix": f"{settings_kwargs['topic_prefix']}{schema}.",
                                  "outbox_poll_seconds": 0.2})
    metadata = MetaData(schema=schema)
    table = outbox_table(metadata)
    engine = create_engine(settings, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(metadata.create_all)
    service = f"backlog-{schema}"
    gauge = OUTBOX_BACKLOG.labels(service)
    gauge.set(-1)  # not a figure the relay could report: only a count overwrites it
    async with session_scope(create_session_factory(engine)) as session:
        await Outbox(table, settings).publish_many(session, [clue_event() for _ in range(4)])
    relay = OutboxRelay(service=service, table=table, engine=engine, settings=settings,
                        topics={clue_event().topic(settings.topic_prefix): False})
    task = asyncio.create_task(relay.run())
    try:
        async def drained() -> bool:
            return relay.published == 4 and gauge._value.get() == 0
        await eventually(drained, timeout=30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()


async def test_the_group_lag_counts_what_a_held_consumer_has_not_committed(settings_kwargs, monkeypatch):
    """While an outage holds the stream nothing is committed, and the broker-side lag says how much waits."""
    from services.common import consumer as consumer_module
    from services.common.consumer import EventConsumer
    from services.common.contracts.intake import ClueReceived
    from services.common.kafka import ensure_topics
    from services.common.observability import CONSUMER_GROUP_LAG

    from ..fault_worker import fault_tables
    from .test_faults_kernel import produce

    monkeypatch.setattr(consumer_module, "GROUP_LAG_SECONDS", 0.2)
    schema = f"lag_{secrets.token_hex(3)}"
    settings = ServiceSettings(**{**settings_kwargs, "topic_prefix": f"{settings_kwargs['topic_prefix']}{schema}."})
    metadata, inbox, _ = fault_tables(schema)
    engine = create_engine(settings, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(metadata.create_all)

    async def unreachable(session, event, envelope) -> None:
        raise ConnectionRefusedError(111, "a dependency is down")

    service = f"lag-{schema}"
    consumer = EventConsumer(service=service, settings=settings, sessions=create_session_factory(engine),
                             inbox=inbox, handlers={ClueReceived: unreachable})
    await ensure_topics(settings, consumer.topics())
    topic = ClueReceived.topic(settings.topic_prefix)
    await produce(settings.kafka_bootstrap_servers, topic, [clue_event().to_cloudevent().to_bytes() for _ in range(6)])
    task = asyncio.create_task(consumer.run())

    async def lag() -> float:
        return sum(m.value for metric in CONSUMER_GROUP_LAG.collect() for m in metric.samples
                   if m.labels["service"] == service and m.labels["topic"] == topic)
    try:
        assert await eventually(lambda: _at(lag, 6), timeout=30) == 6
        assert consumer.held is not None and consumer.handled == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()


async def _at(probe, n: float):
    value = await probe()
    return value if value >= n else None
