"""A PostgreSQL outage under a steady stream: the consumer holds its stream instead of dead-lettering it,
and catches up by itself once the database is back — every event's effect exactly once, none lost.

The database is a private instance (PG_INSTANCE) the test stops and starts; the broker is the shared one,
left alone, with topics of the test's own prefix."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select, text

from services.common.contracts.intake import ClueReceived
from services.common.db import create_engine
from services.common.events import dlq_name
from services.common.kafka import ensure_topics
from services.common.observability import CONSUMER_HELD, EVENTS_CONSUMED
from services.common.settings import ServiceSettings

from ..fault_worker import fault_consumer, fault_tables
from ..support import REPO, eventually
from .test_faults_kernel import clue_event, read_all

# Below Linux's ephemeral range, and not the other fault tests' instance (25442).
OUTAGE_PG = {"PG_INSTANCE": "outage", "PG_PORT": "25452"}
OUTAGE_SECONDS = 25
RATE = 20  # events per second, on distinct keys, so every partition sees some


async def outage_postgres(action: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | OUTAGE_PG
    await asyncio.to_thread(subprocess.run, ["bash", str(REPO / "deploy/local/postgres.sh"), action],
                            check=True, env=env, stdout=subprocess.DEVNULL)


@pytest.mark.fault
async def test_a_database_outage_holds_the_stream_and_loses_nothing(settings_kwargs):
    await outage_postgres("up")
    schema = f"outage_{secrets.token_hex(3)}"
    prefix = f"{settings_kwargs['topic_prefix']}{schema}."
    settings = ServiceSettings(**{**settings_kwargs, "topic_prefix": prefix, "database_url":
                                  f"postgresql+asyncpg://zuofeng:zuofeng@127.0.0.1:{OUTAGE_PG['PG_PORT']}/zuofeng"})
    metadata, _, effects = fault_tables(schema)
    engine = create_engine(settings, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(metadata.create_all)

    consumer = fault_consumer(settings, schema, kill_after=None)
    await ensure_topics(settings, consumer.topics())
    topic = ClueReceived.topic(prefix)
    dead_lettered = EVENTS_CONSUMED.labels(consumer.service, topic, "dead_lettered")
    sent: list[str] = []
    streaming = True

    async def stream() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all",
                                    enable_idempotence=True)
        await producer.start()
        try:
            while streaming:
                event = clue_event()
                await producer.send_and_wait(topic, value=event.to_cloudevent().to_bytes(), key=event.key().encode())
                sent.append(str(event.clue_id))
                await asyncio.sleep(1 / RATE)
        finally:
            await producer.stop()

    async def effect_counts() -> tuple[int, int]:
        async with engine.connect() as conn:
            return tuple((await conn.execute(select(func.count(), func.count(effects.c.clue_id.distinct())))).one())

    async def handled_at_least(n: int):
        counts = await effect_counts()
        return counts if counts[0] >= n else None

    consuming = asyncio.create_task(consumer.run())
    producing = asyncio.create_task(stream())
    try:
        await eventually(lambda: handled_at_least(RATE), timeout=60)

        await outage_postgres("down")
        await eventually(lambda: _true(consumer.held is not None), timeout=15)
        assert CONSUMER_HELD.labels(consumer.service)._value.get() == 1
        await asyncio.sleep(OUTAGE_SECONDS)
        assert consumer.held is not None and not consuming.done()

        await outage_postgres("up")
        back, backlog = asyncio.get_running_loop().time(), len(sent)
        # Recovered by itself: everything streamed during the outage handled within 10 s of the return.
        await eventually(lambda: handled_at_least(backlog), timeout=10, interval=0.2)
        print(f"outage {OUTAGE_SECONDS} s: {backlog} events streamed so far, caught up "
              f"{asyncio.get_running_loop().time() - back:.1f} s after the database's return")
        assert consumer.held is None and CONSUMER_HELD.labels(consumer.service)._value.get() == 0

        await asyncio.sleep(2)
        streaming = False
        await producing
        await eventually(lambda: handled_at_least(len(sent)), timeout=15)
        await asyncio.sleep(1)  # a duplicate would land now, after the catch-up
        total, distinct = await effect_counts()
        assert total == distinct == len(sent), (total, distinct, len(sent))
        async with engine.connect() as conn:
            assert {r[0] for r in (await conn.execute(select(effects.c.clue_id))).all()} == set(sent)
        assert dead_lettered._value.get() == 0
        assert await read_all(settings.kafka_bootstrap_servers, dlq_name(topic), expect=1, timeout=3) == []
    finally:
        streaming = False
        consuming.cancel()
        await asyncio.gather(consuming, producing, return_exceptions=True)
        await outage_postgres("up")
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()
        await outage_postgres("down")


async def _true(value: bool) -> bool:
    return value
