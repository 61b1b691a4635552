"""热线回告 through the gateway, played as the 12345 hotline: it pushes a signed ticket, pulls its status by
its own ticket id, and hears each stage (受理/转办/办结/反馈) at its callback URL — a real HTTP server on
loopback that verifies our signature and fails the first call, so the retry is real too."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

import httpx
import orjson
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import select, text

from gateway.app import create_app
from gateway.hotline import sign
from gateway.settings import GatewaySettings
from services.common.contracts.accountability import CaseConcluded
from services.common.db import session_scope
from services.common.suite import SERVICES
from services.intake.models import hotline_updates
from services.intake.settings import HotlineCallback

from ..support import eventually
from .directory_helper import imported_units
from .hotline_receiver import HotlineReceiver

KEYS = {"hl-12345": ("12345", "k" * 48), "hl-12388": ("12388", "m" * 48)}
CALLBACK_SECRET = "s" * 48
UNITS_YAML = """
regions:
  - id: hb
    name: 回告测试区
    agencies:
      - {id: hb-spj, name: 回告测试区行政审批局, category: 机关科室}
""".encode()


@pytest.fixture(scope="module")
async def hotline(suite, settings_kwargs, keys):
    """The hotline's view: a gateway with hotline keys, and its callback endpoint configured in intake."""
    receiver = await HotlineReceiver(CALLBACK_SECRET).start()
    intake = suite.apps["intake"]
    settings = intake.state.settings
    saved = (settings.hotline_callbacks, settings.callback_poll_seconds, settings.callback_backoff_seconds)
    async with session_scope(intake.state.sessions) as session:
        # Earlier tests' tickets wait for a callback nobody configured; this receiver is for this module's.
        await session.execute(text("UPDATE intake.hotline_updates SET status = 'skipped' WHERE status = 'pending'"))
    settings.hotline_callbacks = {"12345": HotlineCallback(url=receiver.url, secret=CALLBACK_SECRET)}
    settings.callback_poll_seconds, settings.callback_backoff_seconds = 0.1, 0.2
    gateway = create_app(GatewaySettings(
        **settings_kwargs, upstreams={n: f"http://{n}.test" for n in SERVICES},
        staff_jwt_public_key=keys["staff_public"], rate_limits={},
        hotline_keys={k: {"line": line, "secret": secret} for k, (line, secret) in KEYS.items()}))
    try:
        async with LifespanManager(gateway) as manager:
            await gateway.state.http.aclose()
            gateway.state.http = httpx.AsyncClient(
                mounts={f"http://{n}.test": httpx.ASGITransport(app=suite.apps[n]) for n in SERVICES})
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app),
                                         base_url="http://gateway.test") as client:
                yield client, receiver
            await gateway.state.http.aclose()
    finally:
        settings.hotline_callbacks, settings.callback_poll_seconds, settings.callback_backoff_seconds = saved
        await receiver.stop()


async def signed(client, key: str, method: str, path: str, payload=None) -> httpx.Response:
    body = b"" if payload is None else orjson.dumps(payload)
    headers = sign(key, KEYS[key][1], method, path, body)
    if payload is not None:
        headers["content-type"] = "application/json"
    return await client.request(method, path, content=body or None, headers=headers)


async def push(client) -> tuple[str, dict]:
    ticket = f"GD-{secrets.token_hex(5)}"
    response = await signed(client, "hl-12345", "POST", "/api/v1/intake/feeds/12345/reports",
                            {"gdbh": ticket, "ldnr": "区审批局窗口推诿扯皮，材料齐全仍不予受理。"})
    assert response.status_code == 201, response.text
    return ticket, response.json()


@pytest.fixture(scope="module")
async def directory(suite, ids):
    async with imported_units(suite, ids, UNITS_YAML, ("hb", "hb-spj")):
        yield


async def test_a_hotline_pulls_its_ticket_and_hears_every_stage_signed_in_order(hotline, directory, suite, ids):
    client, receiver = hotline
    ticket, pushed = await push(client)
    path = f"/api/v1/intake/feeds/12345/reports/{ticket}"

    status = await signed(client, "hl-12345", "GET", path)
    assert status.status_code == 200, status.text
    assert status.json()["tracking_number"] == pushed["tracking_number"]
    assert (status.json()["status"], status.json()["status_label"], status.json()["stages"]) == (
        "received", "已登记", [])

    # The officer transfers the clue (转办) to a unit, through the gateway.
    async def triage_has_it():
        r = await suite.gateway.get(f"/api/v1/triage/clues/{pushed['id']}", headers=ids.bearer("triage_officer"))
        return r.status_code == 200

    await eventually(triage_has_it)
    receiver.fail_next = [503]  # the line's endpoint is down for the first call: retried with backoff
    moved = await suite.gateway.patch(f"/api/v1/triage/clues/{pushed['id']}", headers=ids.bearer("triage_officer"),
                                      json={"decision": "transfer", "unit_id": "hb-spj", "reason": "属行政审批服务问题"})
    assert moved.status_code == 200, moved.text
    async def transferred():
        return (await signed(client, "hl-12345", "GET", path)).json()["status"] == "transferred"

    await eventually(transferred)  # events of different topics are not ordered: let the transfer land first
    # The investigation concludes (办结); notification then tells the reporter, which the line hears as 反馈.
    async with session_scope(suite.apps["accountability"].state.sessions) as session:
        await suite.apps["accountability"].state.outbox.publish(session, CaseConcluded(
            case_id=uuid.uuid4(), case_number="ZFA-2026-HB01", clue_ids=[uuid.UUID(pushed["id"])],
            finding="substantiated", outcome_summary="已责令该局限期整改。", concluded_at=datetime.now(UTC)))

    async def heard_all():
        stages = [c["body"]["stage"] for c in receiver.delivered(ticket)]
        return stages if {"transferred", "concluded"} <= set(stages) and stages.count("feedback") >= 2 else None

    stages = await eventually(heard_all, timeout=40)
    calls = [c for c in receiver.calls if c["body"]["external_id"] == ticket]
    assert all(c["valid"] for c in calls), "every callback carries a valid signature"
    assert calls[0]["status"] == 503 and calls[1]["status"] == 200
    assert calls[0]["headers"]["idempotency-key"] == calls[1]["headers"]["idempotency-key"], "a retry keeps its key"
    delivered = receiver.delivered(ticket)
    assert len({c["headers"]["idempotency-key"] for c in delivered}) == len(delivered)
    assert stages.index("transferred") < stages.index("concluded"), stages
    transferred = next(c["body"] for c in delivered if c["body"]["stage"] == "transferred")
    assert transferred["stage_label"] == "转办" and transferred["status_label"] == "已转办责任单位"
    assert transferred["expected_datetime"] and transferred["tracking_number"] == pushed["tracking_number"]
    outcome = [c["body"]["message"] for c in delivered if c["body"]["stage"] == "feedback"]
    assert any("反映问题属实" in m and "已责令该局限期整改" in m for m in outcome), outcome
    assert not any("ratings/" in m for m in outcome), "the reporter's rating link is not passed to the line"

    async def all_delivered():
        body = (await signed(client, "hl-12345", "GET", path)).json()
        return body if all(s["callback"] == "delivered" for s in body["stages"]) else None

    pulled = await eventually(all_delivered)
    assert pulled["status"] == "concluded" and pulled["status_label"] == "已办结（有调查结论）"
    assert [s["stage_label"] for s in pulled["stages"] if s["stage"] != "feedback"] == ["转办", "办结"]
    assert len(pulled["stages"]) == len(receiver.delivered(ticket))


async def test_only_the_owning_line_sees_its_ticket(hotline, suite, ids):
    client, _ = hotline
    ticket, _ = await push(client)
    other_line = await signed(client, "hl-12388", "GET", f"/api/v1/intake/feeds/12345/reports/{ticket}")
    assert other_line.status_code == 403
    as_own_line = await signed(client, "hl-12388", "GET", f"/api/v1/intake/feeds/12388/reports/{ticket}")
    assert as_own_line.status_code == 404 and "没有编号为" in as_own_line.json()["detail"]
    public = await client.get(f"/api/v1/intake/feeds/12345/reports/{ticket}")
    assert public.status_code == 403
    handler = await client.get(f"/api/v1/intake/feeds/12345/reports/{ticket}",
                               headers=ids.bearer("unit_handler", unit="hb-spj"))
    assert handler.status_code == 403
    nul = await signed(client, "hl-12345", "GET", "/api/v1/intake/feeds/12345/reports/GD%00x")
    # the gateway's edge refuses a control character in the path before intake would (工单编号无效)
    assert nul.status_code == 400 and nul.json()["type"].endswith("path-ambiguous")
    tampered = sign("hl-12345", KEYS["hl-12345"][1], "GET", f"/api/v1/intake/feeds/12345/reports/{ticket}x")
    refused = await client.get(f"/api/v1/intake/feeds/12345/reports/{ticket}", headers=tampered)
    assert refused.status_code == 401


async def test_a_receiver_refusing_a_call_is_not_retried_and_other_lines_queue_nothing(hotline, suite, ids):
    client, receiver = hotline
    ticket, pushed = await push(client)
    receiver.fail_next = [400]
    async with session_scope(suite.apps["intake"].state.sessions) as session:
        from services.intake import service
        await service.move_status(session, clue_ids=[uuid.UUID(pushed["id"])], to="accepted",
                                  at=datetime.now(UTC))

    async def settled():
        async with suite.apps["intake"].state.sessions() as session:
            row = (await session.execute(select(hotline_updates).where(
                hotline_updates.c.clue_id == uuid.UUID(pushed["id"])))).first()
        return row if row is not None and row.status in ("failed", "delivered") else None

    row = await eventually(settled)
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "HTTP 400")
    staff = await suite.gateway.post("/api/v1/intake/reports", headers=ids.bearer("triage_officer"),
                                     json={"channel": "petition", "text": "信访件：窗口推诿"})
    async with session_scope(suite.apps["intake"].state.sessions) as session:
        from services.intake import service
        await service.move_status(session, clue_ids=[uuid.UUID(staff.json()["id"])], to="accepted",
                                  at=datetime.now(UTC))
        queued = await session.scalar(select(hotline_updates.c.id).where(
            hotline_updates.c.clue_id == uuid.UUID(staff.json()["id"])))
    assert queued is None
