"""Notification on real Kafka, PostgreSQL, SMTP and HTTP: events in, messages out, exactly once.

The service runs here on its own database and topic prefix (so the shared suite's notification does not
take these deliveries), with its SMTP and webhook settings pointing at real receivers on loopback. Events
are produced onto Kafka the way the other services' relays produce them.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import uuid
from collections import Counter
from datetime import UTC, date, datetime

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select, text

from services.common.contracts.accountability import (
    CaseConcluded,
    RectificationAssigned,
    RectificationOverdue,
    TypicalCasePublished,
)
from services.common.contracts.evaluation import CategoryResult, Consequence, RankedUnit, ResultsPublished
from services.common.contracts.intake import ClueReceived, SealedContact
from services.common.contracts.notification import FeedbackReceived, ReporterFeedbackIssued
from services.common.contracts.triage import ClueTriaged, DailySheetCount, DailySheetPublished, UnitUpserted
from services.common.crypto import KeyRing
from services.common.db import session_scope
from services.common.kafka import ensure_topics, new_producer, topics_for
from services.notification import service
from services.notification.app import create_app
from services.notification.handlers import build_handlers
from services.notification.models import deadlines, deliveries, inbox_messages, reporters
from services.notification.settings import NotificationSettings

from ..conftest import create_database, drop_database
from ..support import eventually
from .notification_receivers import SmtpServer, WebhookReceiver


class Stack:
    def __init__(self, app, client, settings, producer, smtp, receiver, keyring):
        self.app, self.client, self.settings = app, client, settings
        self.producer, self.smtp, self.receiver, self.keyring = producer, smtp, receiver, keyring

    @property
    def sessions(self):
        return self.app.state.sessions

    async def publish(self, contract, *, key: str | None = None, event=None):
        event = event or contract.to_cloudevent()
        await self.producer.send_and_wait(contract.topic(self.settings.topic_prefix), value=event.to_bytes(),
                                          key=(key or contract.key()).encode())
        return event

    async def rows(self, query):
        async with self.sessions() as session:
            return (await session.execute(query)).all()

    def seal(self, clue_id: uuid.UUID, **contact: str) -> SealedContact:
        sealed = self.keyring.seal(json.dumps(contact).encode(), str(clue_id).encode())
        return SealedContact(**sealed.as_text())


@pytest.fixture(scope="module")
async def stack(infra, settings_kwargs, keys, run_id):
    database = f"zuofeng_{run_id}_notify"
    url = await asyncio.to_thread(create_database, infra["SERVER_URL"], database)
    smtp = SmtpServer().start()
    receiver = await WebhookReceiver().start()
    settings = NotificationSettings(**{
        **settings_kwargs,
        "database_url": url,
        "topic_prefix": f"{infra['KAFKA_TOPIC_PREFIX']}notify.",
        "smtp_port": smtp.port,
        "sms_webhook_url": f"{receiver.url}/sms",
        "wechat_webhook_url": f"{receiver.url}/wechat",
        "wechat_template_id": "tpl-1",
        "unit_contacts": {"unit-a": {"email": "unit-a@gov.example", "wechat_openid": "openid-unit-a"}},
        "supervising_office_email": "office@gov.example",
        "supervising_office_unit_id": "office",
        "delivery_poll_seconds": 3.0,  # new work arrives by NOTIFY, retries by their due time
        "delivery_backoff_seconds": 0.1,
        "delivery_backoff_max_seconds": 0.3,
        "delivery_max_attempts": 3,
        "schedule_poll_seconds": 3600,
        "rate_limits": {"email": 200, "sms": 200, "wechat": 200, "inbox": 1000},
    })
    await ensure_topics(settings, topics_for(build_handlers(None), settings.topic_prefix))
    app = create_app(settings)
    producer = new_producer(settings, "notification-test")
    await producer.start()
    try:
        async with (LifespanManager(app, startup_timeout=30, shutdown_timeout=30) as manager,
                    httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app),
                                      base_url="http://notification.test") as client):
            yield Stack(app, client, settings, producer, smtp, receiver, KeyRing.parse(keys["contact_keyring"]))
    finally:
        await producer.stop()
        await receiver.stop()
        smtp.stop()
        await asyncio.to_thread(drop_database, infra["SERVER_URL"], database)


def a_clue(**overrides) -> ClueReceived:
    clue_id = overrides.pop("clue_id", uuid.uuid4())
    fields = dict(clue_id=clue_id, tracking_number=f"ZF-20261121-{secrets.randbelow(999999):06d}",
                  channel="hotline_12345", received_at=datetime.now(UTC), text="窗口人员推诿扯皮", anonymous=True)
    return ClueReceived(**{**fields, **overrides})


def a_phone() -> str:
    return f"139{secrets.randbelow(10**8):08d}"


async def deliveries_of(stack: Stack, clue_id: uuid.UUID) -> list:
    return await stack.rows(select(deliveries).where(deliveries.c.clue_id == clue_id).order_by(deliveries.c.id))


async def all_settled(stack: Stack, clue_id: uuid.UUID, expected: int):
    rows = await deliveries_of(stack, clue_id)
    return rows if len(rows) >= expected and all(r.status in ("sent", "failed") for r in rows) else None


async def test_named_reporter_is_acknowledged_once_even_when_the_event_is_redelivered(stack):
    clue_id, phone, email = uuid.uuid4(), a_phone(), f"r{secrets.token_hex(4)}@example.cn"
    clue = a_clue(clue_id=clue_id, anonymous=False, reporter_contact=stack.seal(clue_id, phone=phone, email=email))
    event = await stack.publish(clue)
    await stack.publish(clue, event=event)  # the same event again, as after a relay or consumer crash
    # A later event on the same partition: once it is handled, the redelivery before it has been too.
    marker = a_clue()
    await stack.publish(marker, key=str(clue_id))
    await eventually(lambda: deliveries_of(stack, marker.clue_id))
    rows = await eventually(lambda: all_settled(stack, clue_id, 3))

    assert sorted((r.channel, r.status) for r in rows) == [("email", "sent"), ("receipt", "sent"), ("sms", "sent")]
    [mail] = stack.smtp.mailbox.to(email)
    assert mail["Subject"] == f"您反映的问题已收到（{clue.tracking_number}）"
    [sms] = stack.receiver.to("sms", phone)
    assert clue.tracking_number in sms["text"]
    await asyncio.sleep(0.3)  # a few more worker passes: still nothing sent twice
    assert len(stack.smtp.mailbox.to(email)) == 1 and len(stack.receiver.to("sms", phone)) == 1
    [issued] = await eventually(lambda: feedback_events(stack, clue_id, ReporterFeedbackIssued), timeout=30)
    assert issued["stage"] == "received" and clue.tracking_number in issued["message"]
    assert phone not in json.dumps(issued, ensure_ascii=False)

    # Nothing notification stores holds the contact in clear.
    async with stack.sessions() as session:
        for table in ("reporters", "deliveries", "inbox_messages", "outbox"):
            dump = await session.scalar(text(f"SELECT string_agg(t::text, ' ') FROM notification.{table} t"))
            assert phone not in (dump or "") and email not in (dump or ""), table
    [reporter] = await stack.rows(select(reporters).where(reporters.c.clue_id == clue_id))
    assert reporter.anonymous is False and reporter.contact_ciphertext


async def test_transfer_notifies_the_unit_reminds_it_and_escalates_after_the_deadline(stack, ids):
    await stack.publish(UnitUpserted(unit_id="unit-a", name="某区住建局", level="agency"))
    clue = a_clue()
    await stack.publish(clue)
    deadline = date(2026, 12, 4)  # a Friday
    await stack.publish(ClueTriaged(clue_id=clue.clue_id, tracking_number=clue.tracking_number,
                                    run_date=date(2026, 11, 20), unit_id="unit-a", decision="transfer",
                                    deadline=deadline, type_code="inaction.shirking"))

    async def unit_a_inbox():
        response = await stack.client.get("/api/v1/notification/inbox",
                                          headers=ids.as_staff("unit_handler", unit="unit-a"))
        assert response.status_code == 200, response.text
        return [m for m in response.json()["items"] if clue.tracking_number in m["body"]]

    [notice] = await eventually(unit_a_inbox)
    assert notice["title"] == f"线索转办通知（{clue.tracking_number}）"
    assert "某区住建局" in notice["body"] and "2026年12月4日前（10个工作日内）" in notice["body"]
    other = await stack.client.get("/api/v1/notification/inbox", headers=ids.as_staff("unit_handler", unit="unit-b"))
    assert all(clue.tracking_number not in m["body"] for m in other.json()["items"])
    peek = await stack.client.get("/api/v1/notification/inbox", params={"unit_id": "unit-a"},
                                  headers=ids.as_staff("unit_handler", unit="unit-b"))
    assert peek.status_code == 404
    await eventually(lambda: asyncio.sleep(0, stack.smtp.mailbox.to("unit-a@gov.example")))
    await eventually(lambda: asyncio.sleep(0, stack.receiver.to("wechat", "openid-unit-a")))
    read = await stack.client.post(f"/api/v1/notification/inbox/{notice['id']}/read",
                                   headers=ids.as_staff("unit_handler", unit="unit-a"))
    assert read.status_code == 200 and read.json()["read_at"]

    notifier = stack.app.state.notifier

    async def daily_pass(today: date) -> dict:
        async with session_scope(stack.sessions) as session:
            return await service.remind_and_escalate(session, notifier=notifier, today=today)

    assert (await daily_pass(date(2026, 12, 1)))["reminded"] == 0  # three working days left: too early
    assert (await daily_pass(date(2026, 12, 3)))["reminded"] >= 1
    await daily_pass(date(2026, 12, 3))  # the same day again: nothing new
    assert (await daily_pass(date(2026, 12, 4)))["escalated"] == 0  # the deadline day itself is still in time
    late = await daily_pass(date(2026, 12, 7))  # the first working day after it
    assert late["escalated"] >= 1 and late["escalated_transfer"] >= 1  # counted as a missed transfer deadline
    await daily_pass(date(2026, 12, 8))

    [watch] = await stack.rows(select(deadlines).where(deadlines.c.ref_id == clue.clue_id))
    assert (watch.reminded_on, watch.escalated_on) == (date(2026, 12, 3), date(2026, 12, 7))
    sent = await stack.rows(select(deliveries.c.template, deliveries.c.recipient, deliveries.c.channel)
                            .where(deliveries.c.clue_id == clue.clue_id))
    counts = Counter((row.template, row.recipient, row.channel) for row in sent)
    assert counts[("unit/deadline_reminder", "unit:unit-a", "inbox")] == 1
    assert counts[("office/escalation", "office", "email")] == 1
    assert counts[("unit/overdue_notice", "unit:unit-a", "email")] == 1
    mails = await eventually(lambda: asyncio.sleep(0, stack.smtp.mailbox.to("office@gov.example")))
    assert any(clue.tracking_number in m["Subject"] and "逾期" in m["Subject"] for m in mails)


async def test_an_overdue_rectification_is_escalated_once_whoever_notices_first(stack):
    rectification_id, case_id = uuid.uuid4(), uuid.uuid4()
    common = dict(rectification_id=rectification_id, case_id=case_id, unit_id="unit-a", task="窗口服务整改",
                  deadline=date(2026, 11, 10))
    await stack.publish(RectificationAssigned(**common))
    await stack.publish(RectificationOverdue(**common, detected_at=datetime(2026, 11, 16, 1, tzinfo=UTC)))

    async def escalated():
        rows = await stack.rows(select(deadlines).where(deadlines.c.ref_id == rectification_id))
        return rows and rows[0].escalated_on and rows[0]

    watch = await eventually(escalated)
    async with session_scope(stack.sessions) as session:
        await service.remind_and_escalate(session, notifier=stack.app.state.notifier, today=date(2026, 11, 20))
    rows = await stack.rows(select(deliveries.c.channel).where(
        deliveries.c.recipient == "office", deliveries.c.source.like(f"escalation:{watch.id}:%")))
    assert sorted(r.channel for r in rows) == ["email", "inbox"]


async def feedback_events(stack: Stack, clue_id: uuid.UUID, contract=FeedbackReceived) -> list[dict]:
    """What notification published on Kafka about a clue (read back from the topic's beginning)."""
    consumer = AIOKafkaConsumer(contract.topic(stack.settings.topic_prefix),
                                bootstrap_servers=stack.settings.kafka_bootstrap_servers,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=1000)
        events = [json.loads(r.value) for records in batches.values() for r in records]
    finally:
        await consumer.stop()
    return [e["data"] for e in events if e["data"]["clue_id"] == str(clue_id)]


async def test_a_concluded_case_asks_for_a_rating_and_the_answer_reaches_evaluation(stack, ids):
    named_id, phone = uuid.uuid4(), a_phone()
    named = a_clue(clue_id=named_id, anonymous=False, reporter_contact=stack.seal(named_id, phone=phone))
    anonymous = a_clue()
    await stack.publish(named)
    await stack.publish(anonymous)
    await eventually(lambda: deliveries_of(stack, anonymous.clue_id))
    await eventually(lambda: deliveries_of(stack, named_id))
    case_id = uuid.uuid4()
    await stack.publish(CaseConcluded(case_id=case_id, case_number="ZF-AJ-2026-0007",
                                      clue_ids=[named_id, anonymous.clue_id], unit_id="unit-a",
                                      finding="substantiated", outcome_summary="已责令该单位整改并对相关人员作出处理。",
                                      concluded_at=datetime.now(UTC)))

    def concluded_sms():
        texts = [m["text"] for m in stack.receiver.to("sms", phone) if "已办结" in m["text"]]
        return texts if len(texts) == 2 else None

    outcome, rating_request = await eventually(lambda: asyncio.sleep(0, concluded_sms()))
    assert "反映问题属实" in outcome and "/ratings/" not in outcome  # the outcome first, then the question
    token = re.search(r"/ratings/([\w-]+)", rating_request).group(1)

    # The anonymous reporter gets the same link on the receipt page (via reporter-feedback-issued).
    async def anonymous_link():
        rows = await deliveries_of(stack, anonymous.clue_id)
        return [r for r in rows if r.template == "reporter/rating_request" and r.channel == "receipt"]

    [receipt] = await eventually(anonymous_link)
    assert "/ratings/" in receipt.body

    public = ids.as_public()
    question = await stack.client.get(f"/api/v1/notification/ratings/{token}", headers=public)
    assert question.status_code == 200 and question.json()["answered"] is False
    too_high = await stack.client.post(f"/api/v1/notification/ratings/{token}", json={"rating": 6}, headers=public)
    assert too_high.status_code == 422
    answer = await stack.client.post(f"/api/v1/notification/ratings/{token}", json={"rating": 4}, headers=public)
    assert answer.status_code == 201, answer.text
    again = await stack.client.post(f"/api/v1/notification/ratings/{token}", json={"rating": 1}, headers=public)
    assert again.status_code == 409 and again.json()["type"].endswith("/rating-already-given")
    forged = await stack.client.post("/api/v1/notification/ratings/not-a-token", json={"rating": 5}, headers=public)
    assert forged.status_code == 404

    [feedback] = await eventually(lambda: feedback_events(stack, named_id), timeout=30)
    assert (feedback["rating"], feedback["case_id"], feedback["unit_id"]) == (4, str(case_id), "unit-a")


async def test_a_failing_provider_is_retried_with_backoff_and_a_refusal_is_not(stack):
    busy_phone, refused_phone = a_phone(), a_phone()
    stack.receiver.fail[busy_phone] = [503]
    stack.receiver.fail[refused_phone] = [400]
    busy, refused = uuid.uuid4(), uuid.uuid4()
    await stack.publish(a_clue(clue_id=busy, anonymous=False, reporter_contact=stack.seal(busy, phone=busy_phone)))
    await stack.publish(a_clue(clue_id=refused, anonymous=False,
                               reporter_contact=stack.seal(refused, phone=refused_phone)))
    [*_, busy_sms] = sorted(await eventually(lambda: all_settled(stack, busy, 2)), key=lambda r: r.channel)
    [*_, refused_sms] = sorted(await eventually(lambda: all_settled(stack, refused, 2)), key=lambda r: r.channel)
    assert (busy_sms.channel, busy_sms.status, busy_sms.attempts) == ("sms", "sent", 2)
    assert (refused_sms.channel, refused_sms.status, refused_sms.attempts) == ("sms", "failed", 1)
    assert refused_sms.last_error == "sms: http 400"
    assert len(stack.receiver.to("sms", busy_phone)) == 2  # one refused with 503, one accepted


async def test_deliveries_are_listed_for_auditors_only(stack, ids):
    clue = a_clue()
    await stack.publish(clue)
    await eventually(lambda: deliveries_of(stack, clue.clue_id))
    listed = await stack.client.get("/api/v1/notification/deliveries", params={"clue_id": str(clue.clue_id)},
                                    headers=ids.as_staff("auditor"))
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert (item["channel"], item["status"], item["recipient"]) == ("receipt", "sent", f"reporter:{clue.clue_id}")
    assert "body" not in item
    for headers in (ids.as_staff("unit_handler", unit="unit-a"), ids.as_public()):
        denied = await stack.client.get("/api/v1/notification/deliveries", headers=headers)
        assert denied.status_code == 403
    bad = await stack.client.get("/api/v1/notification/deliveries", params={"status": "lost"},
                                 headers=ids.as_staff("auditor"))
    assert bad.status_code == 422


async def test_bulletins_are_public_in_json_and_atom_and_carry_no_identity(stack, ids):
    case_id = uuid.uuid4()
    await stack.publish(TypicalCasePublished(
        case_id=case_id, title="关于某区住建局窗口推诿扯皮问题的通报",
        body="经查，该局窗口人员对群众（联系电话13712345678）反映的事项推诿扯皮，已给予诫勉谈话。", scope="citywide",
        unit_id="unit-a", published_at=datetime.now(UTC)))
    ranking = [RankedUnit(unit_id="unit-a", unit_name="某区住建局", rank=1, score=92.5, grade="excellent"),
               RankedUnit(unit_id="unit-c", unit_name="某区城管局", rank=2, score=61.0, grade="unqualified")]
    await stack.publish(ResultsPublished(
        campaign_id=uuid.uuid4(), name="2026年度机关作风评议", period="2026", published_at=datetime.now(UTC),
        categories=[CategoryResult(category="机关科室", ranking=ranking, top_ten=["unit-a"], bottom_ten=["unit-c"])],
        consequences=[Consequence(kind="yellow_card", unit_id="unit-c", unit_name="某区城管局",
                                  reason="年度评议排名末位，予以黄牌警告")]))
    public = ids.as_public()

    async def bulletins():
        response = await stack.client.get("/api/v1/notification/bulletins", headers=public)
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        return items if {i["kind"] for i in items} >= {"typical", "ranking"} else None

    items = await eventually(bulletins)
    typical = next(i for i in items if i["kind"] == "typical")
    assert "13712345678" not in typical["body"] and "[已隐去]" in typical["body"]
    ranked = next(i for i in items if i["kind"] == "ranking")
    assert "满意单位：某区住建局" in ranked["body"] and "不满意单位：某区城管局" in ranked["body"]
    only = await stack.client.get("/api/v1/notification/bulletins", params={"kind": "typical"}, headers=public)
    assert {i["kind"] for i in only.json()["items"]} == {"typical"}

    atom = await stack.client.get("/api/v1/notification/bulletins",
                                  headers={**public, "accept": "application/atom+xml"})
    assert atom.status_code == 200 and atom.headers["content-type"].startswith("application/atom+xml")
    assert "关于某区住建局窗口推诿扯皮问题的通报" in atom.text and "13712345678" not in atom.text

    async def yellow_card():
        async with stack.sessions() as session:
            return await session.scalar(select(func.count()).select_from(inbox_messages).where(
                inbox_messages.c.unit_id == "unit-c", inbox_messages.c.template == "unit/consequence"))

    assert await eventually(yellow_card) == 1


async def test_the_monthly_bulletin_sums_the_daily_sheets_and_names_the_months_typical_cases(stack, ids):
    await stack.publish(DailySheetPublished(
        run_date=date(2026, 9, 7), total=12, published_at=datetime(2026, 9, 7, 10, tzinfo=UTC),
        by_type=[DailySheetCount(key="推诿扯皮", count=7), DailySheetCount(key="吃拿卡要", count=5)],
        by_unit=[DailySheetCount(key="unit-a", count=3)], transferred_by_unit=[DailySheetCount(key="unit-a", count=3)]))
    await stack.publish(DailySheetPublished(
        run_date=date(2026, 9, 8), total=8, published_at=datetime(2026, 9, 8, 10, tzinfo=UTC),
        by_type=[DailySheetCount(key="推诿扯皮", count=8)]))
    await stack.publish(TypicalCasePublished(
        case_id=uuid.uuid4(), title="关于某镇财政所吃拿卡要问题的通报", body="经查属实，已作出处理。",
        scope="citywide", published_at=datetime(2026, 9, 20, 2, tzinfo=UTC)))

    async def september_ready():
        async with stack.sessions() as session:
            sheets = await session.scalar(text(
                "SELECT count(*) FROM notification.daily_sheets WHERE run_date BETWEEN '2026-09-01' AND '2026-09-30'"))
            typical = await session.scalar(text(
                "SELECT count(*) FROM notification.bulletins WHERE period = '2026-09' AND kind = 'typical'"))
            return sheets == 2 and typical == 1

    await eventually(september_ready)
    async with session_scope(stack.sessions) as session:
        assert await service.compose_monthly_bulletin(session, month=date(2026, 9, 1), published_at=datetime.now(UTC))
    async with session_scope(stack.sessions) as session:  # once per month
        assert not await service.compose_monthly_bulletin(session, month=date(2026, 9, 1),
                                                          published_at=datetime.now(UTC))
        assert not await service.compose_monthly_bulletin(session, month=date(2026, 8, 1),  # nothing happened
                                                          published_at=datetime.now(UTC))
    # Composed for review: the public sees it once an officer has published it.
    response = await stack.client.get("/api/v1/notification/bulletins", params={"kind": "monthly"},
                                      headers=ids.as_public())
    assert response.json()["items"] == []
    drafts = await stack.client.get("/api/v1/notification/bulletins/drafts", headers=ids.as_staff("triage_officer"))
    [draft] = drafts.json()["items"]
    published = await stack.client.post(f"/api/v1/notification/bulletins/{draft['id']}:publish",
                                        headers=ids.as_staff("triage_officer"))
    assert published.status_code == 200, published.text
    response = await stack.client.get("/api/v1/notification/bulletins", params={"kind": "monthly"},
                                      headers=ids.as_public())
    [monthly] = response.json()["items"]
    assert monthly["title"] == "2026年9月作风建设监督通报"
    assert "受理作风问题线索20件，其中推诿扯皮15件、吃拿卡要5件" in monthly["body"]
    assert "关于某镇财政所吃拿卡要问题的通报" in monthly["body"]

    async def daily_sheet_notice():
        admin_view = await stack.client.get("/api/v1/notification/inbox", params={"unit_id": "unit-a"},
                                            headers=ids.as_staff("admin"))
        return [m for m in admin_view.json()["items"]
                if m["template"] == "unit/daily_sheet" and "2026年9月7日" in m["title"]]

    [notice] = await eventually(daily_sheet_notice)
    assert "3件" in notice["body"]
    unnamed = await stack.client.get("/api/v1/notification/inbox", headers=ids.as_staff("admin"))
    assert unnamed.status_code == 422
    investigator = await stack.client.get("/api/v1/notification/inbox", headers=ids.as_staff("investigator"))
    assert investigator.status_code == 403


async def test_a_contact_that_cannot_be_opened_falls_back_to_the_receipt_page(stack):
    clue_id, phone = uuid.uuid4(), a_phone()
    misbound = stack.seal(uuid.uuid4(), phone=phone)  # sealed for another clue: the AAD does not match
    await stack.publish(a_clue(clue_id=clue_id, anonymous=False, reporter_contact=misbound))
    rows = await eventually(lambda: deliveries_of(stack, clue_id))
    assert [(r.channel, r.status) for r in rows] == [("receipt", "sent")]
    assert stack.receiver.to("sms", phone) == []


async def test_a_delivery_left_sending_by_a_crashed_worker_is_taken_again_after_its_lease(stack):
    delivery_id = uuid.uuid4()
    async with session_scope(stack.sessions) as session:
        await session.execute(deliveries.insert().values(
            id=delivery_id, dedupe_key=f"crash-{delivery_id}|unit:unit-a|inbox", source=f"crash-{delivery_id}",
            template="unit/daily_sheet", channel="inbox", recipient="unit:unit-a", unit_id="unit-a",
            subject="遗留消息", body="worker crashed while sending", status="sending", attempts=1,
            locked_until=datetime(2026, 1, 1, tzinfo=UTC)))
    stack.app.state.delivery_worker.wake.set()  # as a restarted worker's first pass would

    async def delivered():
        [row] = await stack.rows(select(deliveries).where(deliveries.c.id == delivery_id))
        return row if row.status == "sent" else None

    row = await eventually(delivered)
    assert row.attempts == 2
    [message] = await stack.rows(select(inbox_messages).where(inbox_messages.c.delivery_id == delivery_id))
    assert message.unit_id == "unit-a"


async def test_every_opening_of_a_sealed_contact_is_audited(stack):
    from services.common.audit import verify_chain
    from services.notification.models import audit_checkpoints, audit_log

    clue_id, phone, email = uuid.uuid4(), a_phone(), f"a{secrets.token_hex(4)}@example.cn"
    await stack.publish(a_clue(clue_id=clue_id, anonymous=False,
                               reporter_contact=stack.seal(clue_id, phone=phone, email=email)))
    rows = await eventually(lambda: all_settled(stack, clue_id, 3))
    opened = await stack.rows(select(audit_log).where(audit_log.c.entity_id == str(clue_id),
                                                      audit_log.c.action == "open_contact").order_by(audit_log.c.seq))
    by_delivery = {e.details.get("delivery_id"): e for e in opened if e.details["purpose"] == "delivery"}
    sent_to_reporter = {str(r.id) for r in rows if r.channel in ("sms", "email")}
    assert sent_to_reporter and sent_to_reporter <= set(by_delivery)  # each send opened it, and said so
    assert all(e.actor == "notification" and e.entity_type == "clue" for e in opened)
    assert any(e.details["purpose"] == "queue" for e in opened)  # choosing the channels opened it too
    assert phone not in repr(opened) and email not in repr(opened)
    async with stack.sessions() as session:
        assert (await verify_chain(session, audit_log, audit_checkpoints)).intact


async def test_a_web_voters_code_goes_out_as_one_sms_to_the_sealed_phone(stack):
    from datetime import timedelta

    from services.common.contracts.evaluation import SealedText, VoterCodeRequested

    phone, code = f"+86{a_phone()}", f"{secrets.randbelow(10**6):06d}"
    sealed = stack.keyring.seal(json.dumps({"phone": phone, "code": code}).encode(), b"voter-code").as_text()
    event = VoterCodeRequested(campaign_id=uuid.uuid4(), campaign_name="鄂州市2026年万人评机关",
                               sealed=SealedText(**sealed), expires_at=datetime.now(UTC) + timedelta(minutes=5))
    await stack.publish(event)
    sent = await eventually(lambda: asyncio.sleep(0, stack.receiver.to("sms", phone)), timeout=30)
    (body,) = sent
    assert code in json.dumps(body, ensure_ascii=False) and "鄂州市2026年万人评机关" in json.dumps(body, ensure_ascii=False)
    rows = await stack.rows(select(deliveries).where(deliveries.c.template == "evaluation/voter-code",
                                                     deliveries.c.body.contains(code)))
    assert len(rows) == 1 and rows[0].channel == "sms" and phone not in rows[0].recipient
