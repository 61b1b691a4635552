"""Notification's pure parts: templates, identity redaction, rate limits, backoff, adapters, Atom, contacts."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from types import SimpleNamespace
from xml.etree import ElementTree as ET

import pytest
from jinja2 import UndefinedError

from services.common.auth import generate_keypair
from services.common.crypto import KeyRing
from services.notification.catalog import DELIVERY_STATUSES, DELIVERY_TRANSITIONS, can_transition, enumerations
from services.notification.channels import (
    AliyunSmsAdapter,
    EmailChannel,
    GenericSmsAdapter,
    Outgoing,
    TokenBucket,
    WeChatOfficialAccountAdapter,
    sms_adapter,
)
from services.notification.delivery import backoff_seconds
from services.notification.feeds import ATOM_NS, atom_feed
from services.notification.rendering import redact_identity, render
from services.notification.service import ContactUnavailable, Notifier, open_contact, previous_month
from services.notification.settings import NotificationSettings


def _message(**overrides) -> Outgoing:
    fields = dict(delivery_id=uuid.uuid4(), channel="sms", address="13800000000", subject="主题", body="正文",
                  template="reporter/received")
    return Outgoing(**{**fields, **overrides})


def test_acknowledgement_names_the_tracking_number_in_chinese():
    rendered = render("reporter/received", tracking_number="ZF-20261121-000001",
                      received_at=datetime(2026, 11, 21, 2, 5, tzinfo=UTC), anonymous=True)
    assert rendered.subject == "您反映的问题已收到（ZF-20261121-000001）"
    assert "2026年11月21日10:05" in rendered.body  # Asia/Shanghai
    assert "查询码" in rendered.body and "已受理" not in rendered.body  # 受理 is triage's later decision


def test_transfer_notice_states_the_deadline_in_working_days():
    rendered = render("unit/transfer_assigned", unit_name="某区市场监管局", tracking_number="ZF-1",
                      deadline=date(2026, 12, 4), working_days=10, type_label=None, must_investigate=True)
    assert "2026年12月4日前（10个工作日内）" in rendered.body
    assert "五必查" in rendered.body


def test_a_template_missing_a_value_fails_instead_of_sending_a_blank():
    with pytest.raises(UndefinedError):
        render("reporter/concluded", tracking_number="ZF-1")


def test_identity_never_survives_into_published_text():
    text = "举报人张某（13912345678，身份证320102199001011234，zhang@example.com）反映"
    redacted = redact_identity(text)
    assert "13912345678" not in redacted and "320102199001011234" not in redacted
    assert "zhang@example.com" not in redacted
    assert redacted.count("[已隐去]") == 3
    assert redact_identity("2026年共查处问题483个") == "2026年共查处问题483个"


def test_delivery_states_follow_the_transition_table():
    assert set(DELIVERY_TRANSITIONS) == set(DELIVERY_STATUSES)
    assert can_transition("queued", "sending") and can_transition("sending", "retrying")
    assert not can_transition("sent", "sending") and not can_transition("failed", "sending")
    assert not can_transition("queued", "sent")
    assert set(enumerations()) >= {"channels", "delivery_statuses", "reporter_stages", "bulletin_kinds"}


def test_token_bucket_allows_a_burst_then_spaces_messages_at_the_rate():
    now = [100.0]
    bucket = TokenBucket(rate=2.0, burst=2, clock=lambda: now[0])
    assert bucket.wait_time() == 0 and bucket.wait_time() == 0
    assert bucket.wait_time() == pytest.approx(0.5)
    now[0] += 0.5
    assert bucket.wait_time() == 0
    now[0] += 10
    assert [bucket.wait_time() for _ in range(3)][:2] == [0, 0]  # refilled only up to the burst


def test_backoff_grows_exponentially_and_is_capped():
    delays = [backoff_seconds(n, 5, 60, jitter=0) for n in range(1, 7)]
    assert delays == [5, 10, 20, 40, 60, 60]
    assert 5 <= backoff_seconds(1, 5, 60) <= 6


def test_sms_adapters_shape_the_provider_requests():
    message = _message(body="您反映的问题已受理")
    generic = GenericSmsAdapter("作风监督").payload(message)
    assert generic["to"] == "13800000000" and generic["text"] == "【作风监督】您反映的问题已受理"
    aliyun = AliyunSmsAdapter("作风监督", "SMS_1")
    payload = aliyun.payload(message)
    assert payload["PhoneNumbers"] == "13800000000"
    assert json.loads(payload["TemplateParam"]) == {"content": "您反映的问题已受理"}
    assert aliyun.accepted({"Code": "OK", "BizId": "b1"}) == (True, "b1", False)
    assert aliyun.accepted({"Code": "isv.MOBILE_NUMBER_ILLEGAL"})[2] is True  # permanent
    assert aliyun.accepted({"Code": "isv.BUSINESS_LIMIT_CONTROL"})[2] is False  # throttled: retry


def test_wechat_adapter_reads_errcode():
    adapter = WeChatOfficialAccountAdapter("tpl-1")
    payload = adapter.payload(_message(channel="wechat", address="openid-1"))
    assert payload["touser"] == "openid-1" and payload["template_id"] == "tpl-1"
    assert adapter.accepted({"errcode": 0, "msgid": 7}) == (True, "7", False)
    assert adapter.accepted({"errcode": -1})[2] is False
    assert adapter.accepted({"errcode": 40003})[2] is True


def test_unknown_sms_provider_is_a_configuration_error():
    with pytest.raises(ValueError, match="unknown SMS provider"):
        sms_adapter(NotificationSettings(sms_provider="nope", kafka_enabled=False))


def test_email_carries_the_delivery_id_for_deduplication():
    message = _message(channel="email", address="unit@example.gov.cn", subject="线索转办通知")
    email = EmailChannel(NotificationSettings(smtp_from="noreply@zf.example", kafka_enabled=False)).build(message)
    assert email["Subject"] == "线索转办通知"
    assert email["X-Zuofeng-Delivery"] == str(message.delivery_id)
    assert message.delivery_id.hex in email["Message-ID"]


def test_atom_feed_lists_bulletins_newest_first_as_given():
    items = [
        SimpleNamespace(id=uuid.uuid4(), kind="typical", title="关于某局推诿扯皮问题的通报", body="正文一",
                        published_at=datetime(2026, 11, 2, tzinfo=UTC)),
        SimpleNamespace(id=uuid.uuid4(), kind="clarification", title="澄清", body="正文二",
                        published_at=datetime(2026, 11, 1, tzinfo=UTC)),
    ]
    root = ET.fromstring(atom_feed(items, self_url="http://x/bulletins?format=atom", title="通报", author="督办室"))
    assert root.tag == f"{{{ATOM_NS}}}feed"
    entries = root.findall(f"{{{ATOM_NS}}}entry")
    assert [e.findtext(f"{{{ATOM_NS}}}title") for e in entries] == ["关于某局推诿扯皮问题的通报", "澄清"]
    assert root.findtext(f"{{{ATOM_NS}}}updated").startswith("2026-11-02")
    assert entries[1].find(f"{{{ATOM_NS}}}category").get("label") == "澄清正名"


def test_sealed_contact_opens_only_for_its_own_clue():
    spec = KeyRing.generate_spec("c1")
    ring = KeyRing.parse(spec)
    clue_id = uuid.uuid4()
    sealed = ring.seal(json.dumps({"phone": "13800000000", "email": "a@b.cn", "name": "x"}).encode(),
                       str(clue_id).encode()).as_text()
    notifier = Notifier(settings=NotificationSettings(kafka_enabled=False), outbox=None, keyring=ring)
    assert open_contact(notifier, clue_id, **sealed) == {"phone": "13800000000", "email": "a@b.cn"}
    with pytest.raises(ContactUnavailable):
        open_contact(notifier, uuid.uuid4(), **sealed)
    with pytest.raises(ContactUnavailable):
        open_contact(Notifier(settings=notifier.settings, outbox=None), clue_id, **sealed)


def test_monthly_bulletin_covers_the_month_before():
    assert previous_month(date(2026, 1, 5)) == date(2025, 12, 1)
    assert previous_month(date(2026, 3, 31)) == date(2026, 2, 1)


def test_production_refuses_to_start_without_the_contact_key_ring():
    production = dict(environment="production", internal_token_public_key=generate_keypair()[1],
                      database_url="postgresql+asyncpg://svc:secret@db/zuofeng", kafka_enabled=False)
    with pytest.raises(ValueError, match="CONTACT_KEYRING"):
        NotificationSettings(**production)
    assert NotificationSettings(**production, contact_keyring=KeyRing.generate_spec()).contact_keyring
