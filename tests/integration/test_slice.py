"""The vertical slice through real infrastructure: gateway → intake → outbox → Kafka → triage."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select, text

from services.intake.models import clues as intake_clues

from ..support import eventually


def a_report(**overrides) -> dict:
    return {
        "external_id": f"T-{secrets.token_hex(6)}",
        "text": "某街道办窗口人员对办事群众推诿扯皮，材料齐全仍要求反复跑腿。",
        "subject": "某街道便民服务中心",
        **overrides,
    }


async def triage_has(suite, ids, tracking_number: str):
    response = await suite.gateway.get(
        "/api/v1/triage/clues", params={"limit": 500}, headers=ids.bearer("triage_officer"))
    assert response.status_code == 200, response.text
    return next((c for c in response.json()["items"] if c["tracking_number"] == tracking_number), None)


async def test_a_posted_clue_reaches_triage_through_kafka(suite, ids):
    report = a_report()
    response = await suite.gateway.post(
        "/api/v1/intake/feeds/12345/reports", json=report, headers=ids.bearer("triage_officer"))
    assert response.status_code == 201, response.text
    clue = response.json()
    assert clue["tracking_number"].startswith("ZF-") and clue["channel"] == "hotline_12345"
    assert response.headers["x-request-id"]

    received = await eventually(lambda: triage_has(suite, ids, clue["tracking_number"]))
    assert received["id"] == clue["id"]
    assert received["text"] == report["text"]
    assert received["state"] == "pending"


async def test_repushed_ticket_makes_no_second_clue(suite, ids):
    report = a_report()
    first = await suite.gateway.post("/api/v1/intake/feeds/12388/reports", json=report,
                                     headers=ids.bearer("triage_officer"))
    again = await suite.gateway.post("/api/v1/intake/feeds/12388/reports", json=report,
                                     headers=ids.bearer("triage_officer"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    sessions = suite.apps["intake"].state.sessions
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(intake_clues).where(intake_clues.c.external_id == report["external_id"]))
    assert count == 1


async def test_services_refuse_calls_that_bypass_the_gateway(suite, ids):
    direct = await suite.intake.post("/api/v1/intake/feeds/12345/reports", json=a_report())
    assert direct.status_code == 401
    assert direct.headers["content-type"] == "application/problem+json"
    spoofed = await suite.gateway.post(
        "/api/v1/intake/feeds/12345/reports", json=a_report(),
        headers={"x-zuofeng-identity": "forged"})
    assert spoofed.status_code == 403  # the forged header is dropped: the caller is the public


async def test_bad_input_is_a_problem_and_stores_nothing(suite, ids):
    sessions = suite.apps["intake"].state.sessions
    # the outbox's identity sequence, not its row count: the relay deletes what it has published
    outbox_seq = text("SELECT pg_sequence_last_value(CAST(pg_get_serial_sequence('intake.outbox', 'seq') AS regclass))")
    async with sessions() as session:
        before = await session.scalar(select(func.count()).select_from(intake_clues))
        events_before = await session.scalar(outbox_seq)
    missing_text = await suite.gateway.post(
        "/api/v1/intake/feeds/12345/reports", json={"external_id": "X-1"}, headers=ids.bearer("triage_officer"))
    assert missing_text.status_code == 422
    assert missing_text.json()["errors"][0]["loc"] == ["body", "text"]
    malformed = await suite.gateway.post(
        "/api/v1/intake/feeds/12345/reports", content=b"{not json", headers={
            **ids.bearer("triage_officer"), "content-type": "application/json"})
    assert malformed.status_code == 422
    unknown_line = await suite.gateway.post(
        "/api/v1/intake/feeds/99999/reports", json=a_report(), headers=ids.bearer("triage_officer"))
    assert unknown_line.status_code == 422
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(intake_clues)) == before
        assert await session.scalar(outbox_seq) == events_before  # no event was published either
