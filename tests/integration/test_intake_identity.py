"""Reporter identity and the reporter's view: sealed at rest, absent from events and logs, revealed only
to investigators with an audited reason; status and feedback follow the downstream events."""

from __future__ import annotations

import logging
import secrets
import uuid
from datetime import UTC, date, datetime

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import select

from services.common.audit import verify_chain
from services.common.auth import Principal
from services.common.contracts.accountability import CaseClosed, CaseConcluded
from services.common.contracts.intake import ClueReceived
from services.common.contracts.notification import ReporterFeedbackIssued
from services.common.contracts.triage import ClueTriaged
from services.common.crypto import Sealed
from services.intake.models import audit_log, inbox, reporter_identities

from ..support import eventually

NAME, PHONE, ID_NUMBER, EMAIL = "赵六", "13912345678", "330302199001011234", "zhao6@example.cn"
SECRETS = (NAME, PHONE, ID_NUMBER, EMAIL)


async def events_for(settings, clue_id: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        ClueReceived.topic(settings.topic_prefix), bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=f"test-{secrets.token_hex(4)}", auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        async def probe():
            found = []
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                found += [r.value for r in records if clue_id.encode() in r.value]
            return found
        return await eventually(probe, timeout=30)
    finally:
        await consumer.stop()


async def publish(settings, contract) -> str:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    event = contract.to_cloudevent()
    try:
        await producer.send_and_wait(contract.topic(settings.topic_prefix), value=event.to_bytes(),
                                     key=contract.key().encode())
    finally:
        await producer.stop()
    return event.id


async def test_named_reporter_never_appears_in_events_or_logs(suite, ids, caplog):
    caplog.set_level(logging.DEBUG)
    # httpx is quiet in production (URLs carry receipt codes); here it is the logger most likely to leak.
    caplog.set_level(logging.DEBUG, logger="httpx")
    settings = suite.apps["intake"].state.settings
    response = await suite.gateway.post(
        "/api/v1/intake/feeds/12388/reports", headers=ids.bearer("triage_officer"),
        json={"ticket_id": f"J-{secrets.token_hex(5)}", "content": "某局长违规收受礼金", "caller_name": NAME,
              "caller_phone": PHONE, "caller_id_no": ID_NUMBER, "reporter": {"email": EMAIL}})
    assert response.status_code == 201, response.text
    clue_id = response.json()["id"]
    assert not any(s in response.text for s in SECRETS)

    [payload] = await events_for(settings, clue_id)
    assert not any(s.encode() in payload for s in SECRETS)
    assert not any(s in payload.decode() for s in SECRETS)
    event = ClueReceived.model_validate(orjson.loads(payload)["data"])
    assert event.anonymous is False and event.reporter_contact is not None
    contact = settings.contact_ring.open(
        Sealed.from_text(event.reporter_contact.kid, event.reporter_contact.nonce, event.reporter_contact.ciphertext),
        str(clue_id).encode())
    assert orjson.loads(contact) == {"phone": PHONE, "email": EMAIL}

    async with suite.apps["intake"].state.sessions() as session:
        sealed = (await session.execute(
            select(reporter_identities).where(reporter_identities.c.clue_id == clue_id))).one()
    assert not any(s.encode() in sealed.ciphertext for s in SECRETS)

    # A bad named report is logged nowhere with its identity either.
    bad = await suite.gateway.post("/api/v1/intake/feeds/12388/reports", headers=ids.bearer("triage_officer"),
                                   json={"ticket_id": "J-bad", "caller_name": NAME, "caller_phone": PHONE})
    assert bad.status_code == 422 and NAME not in bad.text and PHONE not in bad.text
    logged = caplog.text + "".join(repr(r.__dict__) for r in caplog.records)
    assert caplog.records, "the test must actually capture the service's logs"
    assert not any(s in logged for s in SECRETS)


async def test_only_investigators_reveal_identity_with_anothers_approval_and_each_step_is_audited(suite, ids):
    response = await suite.intake.post(
        "/api/v1/intake/reports", headers=ids.as_staff("triage_officer"),
        json={"channel": "walk_in", "text": "实名举报窗口吃拿卡要",
              "reporter": {"name": NAME, "phone": PHONE, "id_number": ID_NUMBER}})
    assert response.status_code == 201 and response.json()["receipt_code"] is None
    clue_id = response.json()["id"]
    url = f"/api/v1/intake/clues/{clue_id}/identity:reveal"
    approvals = f"/api/v1/intake/clues/{clue_id}/identity:approvals"
    approval = {"investigator": "inv-007", "case_number": "AC-2026-0001", "reason": "初核需要联系举报人核实细节"}

    # admin included: revealing a reporter is for investigators only, and so is approving it
    for role in ("triage_officer", "unit_handler", "auditor", "admin"):
        refused = await suite.gateway.post(url, json={"reason": "核实举报内容需要"},
                                           headers=ids.bearer(role, unit="U1" if role == "unit_handler" else None))
        assert refused.status_code == 403 and NAME not in refused.text, (role, refused.text)
        refused = await suite.gateway.post(approvals, json=approval, headers=ids.bearer(
            role, unit="U1" if role == "unit_handler" else None))
        assert refused.status_code == 403, (role, refused.text)
    no_reason = await suite.gateway.post(url, json={}, headers=ids.bearer("investigator"))
    assert no_reason.status_code == 422
    unapproved = await suite.gateway.post(url, json={"reason": "初核需要联系举报人核实细节"},
                                          headers=ids.bearer("investigator", subject="inv-007"))
    assert unapproved.status_code == 403 and unapproved.json()["type"].endswith("/reveal-not-approved")
    assert NAME not in unapproved.text and "审批" in unapproved.json()["detail"]
    own = await suite.gateway.post(approvals, json=approval, headers=ids.bearer("investigator", subject="inv-007"))
    assert own.status_code == 403 and own.json()["type"].endswith("/reveal-self-approval")

    approved = await suite.gateway.post(approvals, json=approval,
                                        headers=ids.bearer("investigator", subject="inv-002"))
    assert approved.status_code == 201, approved.text
    assert approved.json()["investigator"] == "inv-007" and approved.json()["approved_by"] == "inv-002"
    other = await suite.gateway.post(url, json={"reason": "顺便看看举报人"}, headers=ids.bearer("investigator", subject="inv-9"))
    assert other.status_code == 403  # the approval names one investigator
    revealed = await suite.gateway.post(url, json={"reason": "初核需要联系举报人核实细节"},
                                        headers=ids.bearer("investigator", subject="inv-007"))
    assert revealed.status_code == 200, revealed.text
    assert revealed.json() == {"clue_id": clue_id, "name": NAME, "phone": PHONE, "id_number": ID_NUMBER,
                               "email": None}
    again = await suite.gateway.post(url, json={"reason": "再看一次举报人"}, headers=ids.bearer("investigator", subject="inv-007"))
    assert again.status_code == 403  # an approval opens the identity once
    async with suite.apps["intake"].state.sessions() as session:
        entries = (await session.execute(select(audit_log).where(audit_log.c.entity_id == clue_id)
                                         .order_by(audit_log.c.seq))).all()
        chain = await verify_chain(session, audit_log)
    assert [(e.actor, e.action) for e in entries] == [("inv-002", "approve_identity_reveal"),
                                                      ("inv-007", "reveal_identity")]
    assert entries[1].details["reason"] == "初核需要联系举报人核实细节"
    assert entries[1].details["approved_by"] == "inv-002" and entries[1].details["case_number"] == "AC-2026-0001"
    assert chain.intact
    assert not any(s in repr(entries) for s in SECRETS)

    anonymous = await suite.intake.post("/api/v1/intake/reports", headers=ids.as_staff("triage_officer"),
                                        json={"channel": "online", "text": "匿名反映"})
    none = await suite.gateway.post(f"/api/v1/intake/clues/{anonymous.json()['id']}/identity:approvals",
                                    json=approval, headers=ids.bearer("investigator", subject="inv-002"))
    assert none.status_code == 404


async def test_receipt_page_follows_triage_case_and_feedback_events(suite, ids):
    settings = suite.apps["intake"].state.settings
    created = await suite.intake.post("/api/v1/intake/reports", headers=ids.as_staff("triage_officer"),
                                      json={"channel": "petition", "text": "项目审批久拖不决"})
    clue_id, code = uuid.UUID(created.json()["id"]), created.json()["receipt_code"]
    now = datetime.now(UTC)

    def lookup() -> dict[str, str]:
        # A new caller address per poll: the receipt page's per-client rate limit is not under test here.
        return ids.internal(Principal(kind="public", subject="anonymous",
                                      client=f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.1"))

    def messages(body: dict) -> set[str]:
        # Notification adds its own acknowledgements to the same page; look for ours, not a count.
        return {f["message"] for f in body.get("feedback", [])}

    await publish(settings, ClueTriaged(clue_id=clue_id, tracking_number=created.json()["tracking_number"],
                                        run_date=date.today(), decision="transfer", unit_id="U-X"))
    await publish(settings, ReporterFeedbackIssued(clue_id=clue_id, stage="triaged",
                                                   message="您反映的问题已转交责任单位办理。", issued_at=now))

    async def transferred():
        r = await suite.intake.get(f"/api/v1/intake/receipts/{code}", headers=lookup())
        body = r.json()
        return body if body.get("status") == "transferred" and "您反映的问题已转交责任单位办理。" in messages(body) else None

    body = await eventually(transferred)
    assert body["status_label"] == "已转办责任单位"

    case_id = uuid.uuid4()
    # Closed arrives before concluded (different topics): the stale conclusion must not reopen it.
    await publish(settings, CaseClosed(case_id=case_id, case_number="C-1", clue_ids=[clue_id], closed_at=now))

    async def closed():
        r = await suite.intake.get(f"/api/v1/intake/receipts/{code}", headers=lookup())
        return r.json() if r.json().get("status") == "closed" else None

    await eventually(closed)
    concluded = await publish(settings, CaseConcluded(case_id=case_id, case_number="C-1", clue_ids=[clue_id],
                                          finding="substantiated", outcome_summary="属实，已处理",
                                          concluded_at=now))
    await publish(settings, ReporterFeedbackIssued(clue_id=clue_id, stage="closed", message="已办结。",
                                                   issued_at=now))

    async def two_messages():
        r = await suite.intake.get(f"/api/v1/intake/receipts/{code}", headers=lookup())
        return r.json() if {"您反映的问题已转交责任单位办理。", "已办结。"} <= messages(r.json()) else None

    final = await eventually(two_messages)

    async def handled():
        async with suite.apps["intake"].state.sessions() as session:
            return await session.scalar(select(inbox.c.event_id).where(inbox.c.event_id == concluded))

    await eventually(handled)
    final = (await suite.intake.get(f"/api/v1/intake/receipts/{code}", headers=lookup())).json()
    assert final["status"] == "closed" and {"您反映的问题已转交责任单位办理。", "已办结。"} <= messages(final)
