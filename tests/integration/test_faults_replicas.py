"""Replicas: two of each consumer service and two relays per schema, each a process of its own (what two
pods of every Deployment are). Mid-stream, SIGKILL the leading relay of the source schema, one replica of
alpha (its consumer and its schema's leading relay) and one replica of beta: the consumer groups rebalance,
the relays' advisory locks move to the survivors, and every effect still happens exactly once, in each
key's order, in both stages.

Runs in about a minute on a quiet machine: mostly six interpreters starting and the broker noticing the
killed members (its session timeout). The generous timeouts are for a loaded machine, not for the test."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import uuid
import zlib
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy import select, text

from services.common.contracts.intake import ClueReceived
from services.common.db import create_engine, create_session_factory, session_scope
from services.common.kafka import delete_topics
from services.common.outbox import Outbox
from services.common.settings import ServiceSettings

from ..replica_worker import replica_tables
from ..support import REPO, eventually

KEYS = 10


async def _lock_holder(dsn: str, schema: str) -> int | None:
    """The backend pid holding a schema's relay lock (the relay's key, see services/common/outbox.py)."""
    key = zlib.crc32(f"zuofeng-outbox-{schema}".encode())
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                                   " AND classid = 0 AND objid = $1::bigint::oid AND objsubid = 1", key)
    finally:
        await conn.close()


@pytest.mark.fault
async def test_two_replicas_of_each_service_lose_one_each_and_every_effect_happens_once_in_order(settings_kwargs):
    prefix = f"replicas_{secrets.token_hex(3)}"
    topic_prefix = f"{settings_kwargs['topic_prefix']}{prefix}."
    settings = ServiceSettings(**{**settings_kwargs, "topic_prefix": topic_prefix})
    engine = create_engine(settings, pool_size=2)
    stages = {role: replica_tables(f"{prefix}_{role}") for role in ("src", "alpha", "beta")}
    async with engine.begin() as conn:
        for role, (metadata, *_) in stages.items():
            await conn.execute(text(f'CREATE SCHEMA "{prefix}_{role}"'))
            await conn.run_sync(metadata.create_all)
    env = {**os.environ, "DATABASE_URL": settings.database_url, "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
           "KAFKA_TOPIC_PREFIX": topic_prefix, "OUTBOX_POLL_SECONDS": "0.3", "LOG_LEVEL": "WARNING",
           "CONSUMER_COMMIT_INTERVAL_MS": "300"}
    processes: list[subprocess.Popen] = []

    def spawn(role: str) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-m", "tests.replica_worker", role, prefix], cwd=REPO, env=env)
        processes.append(process)
        return process

    async def led_by_one(schema: str):
        return await _lock_holder(settings.asyncpg_dsn, schema)

    async def effects(role: str):
        table = stages[role][3]
        async with engine.connect() as conn:
            return (await conn.execute(select(table.c.key, table.c.seq, table.c.by).order_by(table.c.n))).all()

    keys = [uuid.uuid4() for _ in range(KEYS)]
    outbox = Outbox(stages["src"][2], settings)
    sessions = create_session_factory(engine)
    written = 0
    writer: asyncio.Task | None = None

    async def write_round(seq: int) -> None:
        """One event per key, in one transaction: each key's seqs go out in order."""
        nonlocal written
        async with session_scope(sessions) as session:
            await outbox.publish_many(session, [ClueReceived(
                clue_id=key, tracking_number=f"ZF-{n}-{seq}", channel="hotline_12345",
                received_at=datetime.now(UTC), text=str(seq)) for n, key in enumerate(keys)])
        written = seq

    async def stream(until: asyncio.Event) -> None:
        """The source's stream, a round every 0.3 s until told to stop (so it spans the kill however slowly
        the replicas start), then a last round."""
        seq = 0
        while not until.is_set():
            seq += 1
            await write_round(seq)
            await asyncio.sleep(0.3)

    try:
        # The first replica of each schema starts alone, so it is the one leading the relay when killed.
        first = {"source": spawn("source"), "alpha": spawn("alpha")}
        for role in ("src", "alpha"):
            await eventually(lambda role=role: led_by_one(f"{prefix}_{role}"), timeout=120)
        leaders = {role: await led_by_one(f"{prefix}_{role}") for role in ("src", "alpha")}
        first["beta"] = spawn("beta")
        second = {role: spawn(role) for role in ("source", "alpha", "beta")}
        stop = asyncio.Event()
        writer = asyncio.create_task(stream(stop))

        async def both_replicas_working():
            for role in ("alpha", "beta"):
                if len({row.by for row in await effects(role)}) < 2:
                    return None
            return True

        await eventually(both_replicas_working, timeout=120)
        for process in first.values():
            process.send_signal(signal.SIGKILL)
        killed_at = written
        for process in first.values():
            process.wait(timeout=10)

        # The survivors take the relays' locks over and the groups' partitions.
        for role in ("src", "alpha"):
            async def moved(role=role):
                holder = await led_by_one(f"{prefix}_{role}")
                return holder if holder not in (None, leaders[role]) else None
            await eventually(moved, timeout=60)
        await asyncio.sleep(3)  # the stream goes on through the rebalance
        stop.set()
        await writer
        last = written
        assert last > killed_at, "nothing was written after the kill: not a mid-stream failure"
        # A marker per key after the stream: once beta has recorded them all, nothing before them is in flight.
        await write_round(last + 1)

        async def markers_through():
            return sum(1 for row in await effects("beta") if row.seq == last + 1) == KEYS or None

        await eventually(markers_through, timeout=90)
        for role in ("alpha", "beta"):
            rows = await effects(role)
            pairs = [(row.key, row.seq) for row in rows]
            assert len(pairs) == len(set(pairs)) == KEYS * (last + 1), f"{role}: an effect lost or repeated"
            for key in keys:
                assert [seq for k, seq in pairs if k == str(key)] == list(range(1, last + 2)), f"{role}: order"
            # The survivor did the work after the kill.
            assert {row.by for row in rows[-KEYS:]} == {second[role].pid}
    finally:
        if writer is not None:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        async with engine.begin() as conn:
            for role in stages:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{prefix}_{role}" CASCADE'))
        await engine.dispose()
        await delete_topics(settings.kafka_bootstrap_servers, topic_prefix)
