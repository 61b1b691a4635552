"""Fault tests of the shared kernel on real infrastructure: poison events, crashed consumers, a database
restart. Bounded in time; the broker and server they break are their own."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
from contextlib import AsyncExitStack

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from asgi_lifespan import LifespanManager
import httpx
from sqlalchemy import func, select, text

from services.common.consumer import replay_dead_letters
from services.common.contracts.intake import ClueReceived
from services.common.db import create_engine
from services.common.events import dlq_name
from services.common.observability import EVENTS_CONSUMED
from services.common.settings import ServiceSettings
from services.intake.app import create_app as create_intake
from services.intake.models import outbox as intake_outbox
from services.intake.settings import IntakeSettings

from ..conftest import create_database, drop_database
from ..factories import clue_received
from ..fault_worker import fault_consumer, fault_tables
from ..support import REPO, eventually
from .test_slice import a_report, triage_has


def clue_event(text_: str = "群众反映窗口人员态度冷漠、推诿扯皮") -> ClueReceived:
    return clue_received(text=text_)


async def fault_schema(settings_kwargs: dict):
    """A schema and topic prefix of the test's own, with the fault tables (inbox + effects) created."""
    schema = f"faults_{secrets.token_hex(3)}"
    prefix = f"{settings_kwargs['topic_prefix']}{schema}."
    settings = ServiceSettings(**{**settings_kwargs, "topic_prefix": prefix})
    metadata, _, _ = fault_tables(schema)
    engine = create_engine(settings, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(metadata.create_all)
    return schema, prefix, settings, engine


async def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value=value, key=b"k")
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str, expect: int, timeout: float = 20.0):
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"reader-{secrets.token_hex(4)}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    records = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(records) < expect and asyncio.get_running_loop().time() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def test_poison_event_goes_to_the_dlq_and_the_consumer_keeps_going(suite, ids, settings_kwargs):
    bootstrap, prefix = settings_kwargs["kafka_bootstrap_servers"], settings_kwargs["topic_prefix"]
    topic = ClueReceived.topic(prefix)
    poison = b'{"specversion": "1.0", "type": "zuofeng.intake.clue-received.v1", "oops": ' + secrets.token_hex(4).encode()
    await produce(bootstrap, topic, [poison])

    dead = [r for r in await read_all(bootstrap, dlq_name(topic), expect=1) if r.value == poison]
    assert dead, "the poison message did not reach the DLQ"
    headers = dict(dead[0].headers)
    assert headers["zuofeng-original-topic"] == topic.encode()
    assert headers["zuofeng-error"].startswith(b"unparseable")

    after = await suite.gateway.post("/api/v1/intake/feeds/12345/reports", json=a_report(),
                                     headers=ids.bearer("triage_officer"))
    await eventually(lambda: triage_has(suite, ids, after.json()["tracking_number"]))


async def test_replayed_dead_letter_is_handled_once_its_cause_is_gone(suite, ids, settings_kwargs):
    """An event that failed earlier (here: placed straight into the DLQ) is handled after `dlq-replay`."""
    topic = ClueReceived.topic(settings_kwargs["topic_prefix"])
    event = clue_event()
    envelope = event.to_cloudevent().to_bytes()
    await produce(settings_kwargs["kafka_bootstrap_servers"], dlq_name(topic), [envelope])

    replayed = await replay_dead_letters(ServiceSettings(**settings_kwargs), topic)
    assert replayed >= 1
    received = await eventually(lambda: triage_has(suite, ids, event.tracking_number))
    assert received["id"] == str(event.clue_id)

    # An operator replaying the same event again: the inbox recognises it and nothing is handled twice.
    duplicates = EVENTS_CONSUMED.labels("triage", topic, "duplicate")
    before = duplicates._value.get()
    await produce(settings_kwargs["kafka_bootstrap_servers"], dlq_name(topic), [envelope])
    assert await replay_dead_letters(ServiceSettings(**settings_kwargs), topic) >= 1

    async def duplicate_dropped():
        return duplicates._value.get() > before
    await eventually(duplicate_dropped)


@pytest.mark.fault
async def test_consumer_killed_mid_batch_leaves_no_duplicate_effects(infra, settings_kwargs):
    schema, prefix, settings, engine = await fault_schema(settings_kwargs)
    _, _, effects = fault_tables(schema)

    events = [clue_event() for _ in range(60)]
    consumer = fault_consumer(settings, schema, kill_after=25)
    from services.common.kafka import ensure_topics
    await ensure_topics(settings, consumer.topics())
    await produce(settings.kafka_bootstrap_servers, ClueReceived.topic(prefix),
                  [e.to_cloudevent().to_bytes() for e in events])

    env = {**os.environ, "DATABASE_URL": settings.database_url, "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
           "KAFKA_TOPIC_PREFIX": prefix}
    crashed = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "tests.fault_worker", schema, "25"], cwd=REPO, env=env, timeout=120)
    assert crashed.returncode == -signal.SIGKILL

    async def effect_counts():
        async with engine.connect() as conn:
            return (await conn.execute(select(func.count(), func.count(effects.c.clue_id.distinct())))).one()

    total, distinct = await effect_counts()
    # The process died inside a transaction: what committed before it is intact and unrepeated, the rest
    # (batched together with the 26th) rolled back, and no offset past it was committed.
    assert total == distinct <= 25

    task = asyncio.create_task(fault_consumer(settings, schema, kill_after=None).run())
    try:
        async def all_handled():
            counts = await effect_counts()
            return counts if counts[0] >= 60 else None
        await eventually(all_handled, timeout=60)
        await asyncio.sleep(1)  # a duplicate would land now, after the catch-up
        assert tuple(await effect_counts()) == (60, 60)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()


# Below Linux's ephemeral range (32768–60999): while this server is down for the test, a client socket
# elsewhere on the machine could otherwise take the port as its local one and block the restart.
PRIVATE_PG = {"PG_INSTANCE": "fault", "PG_PORT": "25442"}


async def private_postgres(action: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | PRIVATE_PG
    await asyncio.to_thread(subprocess.run, ["bash", str(REPO / "deploy/local/postgres.sh"), action],
                            check=True, env=env, stdout=subprocess.DEVNULL)


@pytest.mark.fault
async def test_database_restart_readiness_is_truthful_and_the_service_recovers(settings_kwargs, ids, run_id):
    await private_postgres("up")
    server = f"postgresql+asyncpg://zuofeng:zuofeng@127.0.0.1:{PRIVATE_PG['PG_PORT']}/zuofeng"
    database = f"zuofeng_{run_id}_pg"
    url = await asyncio.to_thread(create_database, server, database)
    settings = IntakeSettings(**{**settings_kwargs, "database_url": url, "topic_prefix": f"{run_id}pg."})
    try:
        async with AsyncExitStack() as stack:
            app = create_intake(settings)
            manager = await stack.enter_async_context(LifespanManager(app, startup_timeout=30, shutdown_timeout=30))
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url="http://intake.test"))
            post = lambda: client.post("/api/v1/intake/feeds/12345/reports", json=a_report(),  # noqa: E731
                                       headers=ids.as_hotline("12345"))
            assert (await client.get("/readyz")).status_code == 200

            await private_postgres("down")
            not_ready = await client.get("/readyz")
            assert not_ready.status_code == 503
            assert any(f.startswith("database") for f in not_ready.json()["failures"])
            refused = await post()
            assert refused.status_code == 503, refused.text
            assert refused.json()["type"].endswith("/database-unavailable")
            assert refused.headers["retry-after"]

            await private_postgres("up")
            await eventually(lambda: _ready(client), timeout=30, interval=0.3)
            accepted = await post()
            assert accepted.status_code == 201, accepted.text
            async def outbox_drained():
                async with app.state.sessions() as session:
                    return await session.scalar(select(func.count()).select_from(intake_outbox)) == 0
            await eventually(outbox_drained, timeout=30)
    finally:
        await private_postgres("up")
        await asyncio.to_thread(drop_database, server, database)
        await private_postgres("down")


async def _ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/readyz")).status_code == 200


async def test_one_failing_event_in_a_batch_costs_only_itself(settings_kwargs):
    """The batch transaction rolls back, each event is retried alone, the culprit goes to the DLQ and the
    other events of the batch take effect exactly once."""
    from services.common.consumer import EventConsumer, PermanentError
    from services.common.db import create_session_factory
    from services.common.kafka import ensure_topics

    schema, prefix, settings, engine = await fault_schema(settings_kwargs)
    _, inbox, effects = fault_tables(schema)

    async def on_clue(session, event: ClueReceived, envelope) -> None:
        await session.execute(effects.insert().values(clue_id=str(event.clue_id)))
        if event.text == "bad":
            raise PermanentError("this clue contradicts our records")

    consumer = EventConsumer(service=f"fault-{schema}", settings=settings, sessions=create_session_factory(engine),
                             inbox=inbox, handlers={ClueReceived: on_clue})
    await ensure_topics(settings, consumer.topics())
    events = [clue_event() for _ in range(9)]
    events.insert(4, clue_event("bad"))
    await produce(settings.kafka_bootstrap_servers, ClueReceived.topic(prefix),
                  [e.to_cloudevent().to_bytes() for e in events])
    task = asyncio.create_task(consumer.run())
    try:
        async def nine_effects():
            async with engine.connect() as conn:
                return (await conn.execute(select(func.count(), func.count(effects.c.clue_id.distinct())))).one()
        counts = await eventually(lambda: _at_least(nine_effects, 9), timeout=30)
        dead = await read_all(settings.kafka_bootstrap_servers, dlq_name(ClueReceived.topic(prefix)), expect=1)
        assert [dict(r.headers)["zuofeng-error"].decode() for r in dead] == ["rejected: this clue contradicts our records"]
        await asyncio.sleep(0.5)
        assert tuple(await nine_effects()) == (9, 9) == tuple(counts)
        async with engine.connect() as conn:
            handled = {row[0] for row in (await conn.execute(select(effects.c.clue_id))).all()}
        assert str(events[4].clue_id) not in handled
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()


async def _at_least(probe, n: int):
    counts = await probe()
    return counts if counts[0] >= n else None
