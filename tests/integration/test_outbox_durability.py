"""Kafka down never fails a request: the event waits in the outbox and arrives after the broker returns.

This test stops and starts a broker, so it runs its own (``KAFKA_INSTANCE=fault`` on other ports) and its
own database: the shared broker and the other tests' relays are never disturbed."""

from __future__ import annotations

import asyncio
import os
import subprocess
from contextlib import AsyncExitStack

import pytest
from sqlalchemy import func, select

from services.intake.models import outbox as intake_outbox

from ..conftest import create_database, drop_database, start_suite
from ..support import REPO, eventually
from .test_slice import a_report, triage_has

FAULT_BROKER = {"KAFKA_INSTANCE": "fault", "KAFKA_PORT": "19092", "KAFKA_CONTROLLER_PORT": "19093"}


async def fault_broker(action: str) -> None:
    # In a thread: the services under test share this event loop and must keep running meanwhile.
    await asyncio.to_thread(
        subprocess.run, ["bash", str(REPO / "deploy/local/kafka.sh"), action], check=True,
        env={**os.environ, **FAULT_BROKER}, stdout=subprocess.DEVNULL)


@pytest.fixture
async def isolated(infra, run_id, settings_kwargs, keys):
    database = f"zuofeng_{run_id}_fault"
    url = await asyncio.to_thread(create_database, infra["SERVER_URL"], database)
    await fault_broker("up")
    kwargs = {**settings_kwargs, "database_url": url, "kafka_bootstrap_servers": "127.0.0.1:19092",
              "topic_prefix": f"{run_id}f."}
    try:
        async with AsyncExitStack() as stack:
            yield await start_suite(stack, kwargs, keys)
    finally:
        await fault_broker("down")
        await asyncio.to_thread(drop_database, infra["SERVER_URL"], database)


@pytest.mark.fault
async def test_clue_accepted_while_kafka_is_down_arrives_after_restart(isolated, ids):
    suite = isolated
    warm = await suite.gateway.post("/api/v1/intake/feeds/12345/reports", json=a_report(),
                                    headers=ids.bearer("triage_officer"))
    await eventually(lambda: triage_has(suite, ids, warm.json()["tracking_number"]), timeout=60)

    await fault_broker("down")
    response = await suite.gateway.post("/api/v1/intake/feeds/12345/reports", json=a_report(),
                                        headers=ids.bearer("triage_officer"))
    assert response.status_code == 201, response.text
    tracking_number = response.json()["tracking_number"]
    async with suite.apps["intake"].state.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(intake_outbox)) >= 1
    assert await triage_has(suite, ids, tracking_number) is None

    await fault_broker("up")
    received = await eventually(lambda: triage_has(suite, ids, tracking_number), timeout=90, interval=0.5)
    assert received["id"] == response.json()["id"]
    async with suite.apps["intake"].state.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(intake_outbox)) == 0
