"""The kernel's fast paths keep the guarantees of the slow ones: bulk (COPY) and single publishes stay in
order and are relayed, and a pooled connection that died while idle is replaced before use although
checkouts are no longer pinged each time. (Consumers committing offsets less often: test_faults_kernel.)"""

from __future__ import annotations

import secrets

import asyncpg
from sqlalchemy import func, select, text

from services.common.contracts.intake import ClueReceived
from services.common.db import create_engine, session_scope
from services.common.outbox import COPY_FROM
from services.common.settings import ServiceSettings
from services.intake.models import outbox as intake_outbox

from ..factories import clue_received
from ..support import eventually


def clue(n: int) -> ClueReceived:
    return clue_received(tracking_number=f"ZF-20261122-{n:06d}{secrets.token_hex(2)}")


async def test_bulk_and_single_publishes_in_one_transaction_keep_their_order_and_are_relayed(suite):
    app = suite.apps["intake"]
    bulk = [clue(n) for n in range(COPY_FROM + 6)]  # written with COPY
    singles = [clue(1000 + n) for n in range(3)]  # each an INSERT, without a second NOTIFY
    keys = [str(c.clue_id) for c in [*singles[:1], *bulk, *singles[1:]]]
    async with session_scope(app.state.sessions) as session:
        await app.state.outbox.publish(session, singles[0])
        await app.state.outbox.publish_many(session, bulk)
        for event in singles[1:]:
            await app.state.outbox.publish(session, event)
        stored = (await session.execute(
            select(intake_outbox.c.key).where(intake_outbox.c.key.in_(keys)).order_by(intake_outbox.c.seq))).scalars().all()
        assert stored == keys

    async def relayed():
        async with app.state.sessions() as session:
            left = await session.scalar(select(func.count()).select_from(intake_outbox).where(intake_outbox.c.key.in_(keys)))
            return left == 0
    await eventually(relayed)


async def test_pooled_connection_killed_while_idle_is_replaced_before_use(settings_kwargs):
    settings = ServiceSettings(**{**settings_kwargs, "db_ping_idle_seconds": 0.0})
    engine = create_engine(settings, pool_size=1)
    try:
        async with engine.connect() as conn:
            first = await conn.scalar(text("SELECT pg_backend_pid()"))
        killer = await asyncpg.connect(settings.asyncpg_dsn)
        try:
            assert await killer.fetchval("SELECT pg_terminate_backend($1)", first)
        finally:
            await killer.close()
        async with engine.connect() as conn:  # no error: the idle connection failed its ping and was replaced
            assert await conn.scalar(text("SELECT pg_backend_pid()")) != first
    finally:
        await engine.dispose()
