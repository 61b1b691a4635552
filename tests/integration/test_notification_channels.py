"""Each channel against a real receiver on loopback: SMTP for e-mail, HTTP webhooks for SMS and WeChat."""

from __future__ import annotations

import uuid

import httpx
import pytest

from services.notification.channels import (
    DeliveryError,
    EmailChannel,
    Outgoing,
    WebhookChannel,
    sms_adapter,
    wechat_adapter,
)
from services.notification.settings import NotificationSettings

from .notification_receivers import SmtpServer, WebhookReceiver


@pytest.fixture(scope="module")
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
async def receiver():
    server = await WebhookReceiver().start()
    yield server
    await server.stop()


def _message(channel: str, address: str) -> Outgoing:
    return Outgoing(delivery_id=uuid.uuid4(), channel=channel, address=address, subject="线索转办通知",
                    body="某区住建局：现将编号为ZF-20261121-000001的问题线索转你单位办理。",
                    template="unit/transfer_assigned")


async def test_email_goes_over_smtp_in_chinese(smtp):
    settings = NotificationSettings(kafka_enabled=False, smtp_port=smtp.port, smtp_from="noreply@zf.example")
    message = _message("email", "unit-a@gov.example")
    message_id = await EmailChannel(settings).send(message)
    [received] = smtp.mailbox.to("unit-a@gov.example")
    assert received["Subject"] == "线索转办通知"
    assert "ZF-20261121-000001" in received.get_content()
    assert received["Message-ID"] == message_id


async def test_email_to_a_closed_port_is_a_transient_failure():
    settings = NotificationSettings(kafka_enabled=False, smtp_port=1, smtp_timeout_seconds=2)
    with pytest.raises(DeliveryError) as failure:
        await EmailChannel(settings).send(_message("email", "x@gov.example"))
    assert failure.value.permanent is False


@pytest.mark.parametrize("provider", ["generic", "aliyun"])
async def test_sms_providers_post_their_own_shapes(receiver, provider):
    settings = NotificationSettings(kafka_enabled=False, sms_provider=provider)
    async with httpx.AsyncClient() as client:
        channel = WebhookChannel("sms", f"{receiver.url}/sms-{provider}", sms_adapter(settings), client, "tok")
        address = f"1380000{uuid.uuid4().int % 10000:04d}"
        provider_id = await channel.send(_message("sms", address))
    [body] = receiver.to(f"sms-{provider}", address)
    assert provider_id
    assert "ZF-20261121-000001" in (body.get("text") or body["TemplateParam"])
    _, _, headers = receiver.calls[-1]
    assert headers["authorization"] == "Bearer tok" and headers["idempotency-key"]


async def test_wechat_template_message_reaches_the_webhook(receiver):
    settings = NotificationSettings(kafka_enabled=False, wechat_template_id="tpl-9")
    async with httpx.AsyncClient() as client:
        channel = WebhookChannel("wechat", f"{receiver.url}/wechat", wechat_adapter(settings), client)
        await channel.send(_message("wechat", "openid-xyz"))
    [body] = receiver.to("wechat", "openid-xyz")
    assert body["template_id"] == "tpl-9" and body["data"]["first"]["value"] == "线索转办通知"


async def test_provider_errors_say_whether_a_retry_can_help(receiver):
    settings = NotificationSettings(kafka_enabled=False)
    receiver.fail["13900000500"] = [503]
    receiver.fail["13900000400"] = [400]
    async with httpx.AsyncClient() as client:
        channel = WebhookChannel("sms", f"{receiver.url}/sms", sms_adapter(settings), client)
        with pytest.raises(DeliveryError) as busy:
            await channel.send(_message("sms", "13900000500"))
        with pytest.raises(DeliveryError) as refused:
            await channel.send(_message("sms", "13900000400"))
    assert (busy.value.permanent, refused.value.permanent) == (False, True)
