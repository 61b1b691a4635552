"""Kafka stopped in the middle of a steady stream of hotline reports: every accepted clue reaches triage
exactly once after the broker returns, and intake's outbox drains.

The broker stopped here is the test's own (``KAFKA_INSTANCE=stream`` on other ports), with its own
database and topic prefix: the shared broker and the other tests' relays are never disturbed."""

from __future__ import annotations

import asyncio
import secrets
import time

import httpx
import pytest
from sqlalchemy import func, select

from services.intake.models import outbox as intake_outbox
from services.triage.models import clues as triage_clues

from ..conftest import isolated_suite
from ..support import PrivateBroker, eventually
from .test_slice import a_report

stream_broker = PrivateBroker("stream", 19192)
REPORTS, RATE = 300, 20.0  # 15 s of hotline traffic at a fixed rate


@pytest.fixture
async def isolated(infra, run_id, settings_kwargs, keys):
    async with isolated_suite(infra, run_id, settings_kwargs, keys, stream_broker, "stream") as suite:
        yield suite


async def post_at_fixed_rate(suite, ids, count: int, rate: float) -> list[httpx.Response | BaseException]:
    """Fire one report every 1/rate s, whether or not earlier ones have been answered (an open loop,
    like a hotline system pushing tickets as they come)."""
    headers = ids.bearer("triage_officer")
    run = secrets.token_hex(4)
    started = time.monotonic()
    tasks = []
    for n in range(count):
        await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
        report = a_report(external_id=f"S-{run}-{n:04d}")
        tasks.append(asyncio.create_task(
            suite.gateway.post("/api/v1/intake/feeds/12345/reports", json=report, headers=headers)))
    return await asyncio.gather(*tasks, return_exceptions=True)


async def outbox_size(suite) -> int:
    async with suite.apps["intake"].state.sessions() as session:
        return await session.scalar(select(func.count()).select_from(intake_outbox))


@pytest.mark.fault
async def test_clues_streamed_across_a_broker_outage_all_arrive_exactly_once(isolated, ids):
    suite = isolated
    async with asyncio.timeout(90):
        stream = asyncio.create_task(post_at_fixed_rate(suite, ids, REPORTS, RATE))
        await asyncio.sleep(REPORTS / RATE / 3)
        await stream_broker("down")
        # Reports keep being accepted meanwhile; the relay's rows wait in the outbox.
        assert await outbox_size(suite) > 0
        await asyncio.sleep(2)
        await stream_broker("up")
        responses = await stream

        failures = [r if isinstance(r, BaseException) else (r.status_code, r.text[:200])
                    for r in responses if isinstance(r, BaseException) or r.status_code != 201]
        assert not failures, f"{len(failures)} report(s) not accepted while the broker was away: {failures[:3]}"
        accepted = {r.json()["tracking_number"] for r in responses}
        assert len(accepted) == REPORTS

        async def all_in_triage():
            async with suite.apps["triage"].state.sessions() as session:
                rows = (await session.execute(
                    select(triage_clues.c.tracking_number, func.count()).where(
                        triage_clues.c.tracking_number.in_(accepted)).group_by(triage_clues.c.tracking_number)
                )).all()
            return rows if len(rows) == len(accepted) else None

        rows = await eventually(all_in_triage, timeout=60, interval=0.5)
        assert {number for number, _ in rows} == accepted
        assert all(count == 1 for _, count in rows), "a clue was stored twice in triage"
        async with suite.apps["triage"].state.sessions() as session:  # the database is this test's own
            assert await session.scalar(select(func.count()).select_from(triage_clues)) == REPORTS

        async def drained():
            return await outbox_size(suite) == 0 or None
        await eventually(drained, timeout=30, interval=0.5)
