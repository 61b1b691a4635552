"""Kafka down never fails a request: the event waits in the outbox and arrives after the broker returns.

This test stops and starts a broker, so it runs its own (``KAFKA_INSTANCE=fault`` on other ports) and its
own database: the shared broker and the other tests' relays are never disturbed."""

from __future__ import annotations


import pytest
from sqlalchemy import func, select

from services.intake.models import outbox as intake_outbox

from ..conftest import isolated_suite
from ..support import PrivateBroker, eventually
from .test_slice import a_report, triage_has

fault_broker = PrivateBroker("fault", 19092)


@pytest.fixture
async def isolated(infra, run_id, settings_kwargs, keys):
    async with isolated_suite(infra, run_id, settings_kwargs, keys, fault_broker, "fault") as suite:
        yield suite


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
