"""Channels behind one interface: e-mail (SMTP), SMS and WeChat (HTTP webhooks, one adapter per provider),
and the in-app inbox of a unit.

A channel either returns (optionally with the provider's message id) or raises :class:`DeliveryError`,
saying whether a retry could help. Errors never carry the recipient's address: it may be a reporter's.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from collections.abc import Callable
from typing import Protocol

import aiosmtplib
import httpx
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.db import session_scope
from services.common.ids import new_id

from .models import inbox_messages
from .settings import NotificationSettings


@dataclass(frozen=True, slots=True)
class Outgoing:
    delivery_id: uuid.UUID
    channel: str
    address: str  # e-mail address, phone number, WeChat openid, or unit id (inbox)
    subject: str
    body: str
    template: str


class DeliveryError(Exception):
    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Channel(Protocol):
    name: str

    async def send(self, message: Outgoing) -> str | None: ...


class EmailChannel:
    """E-mail over real SMTP with aiosmtplib (STARTTLS / implicit TLS / AUTH from settings)."""

    name = "email"

    def __init__(self, settings: NotificationSettings) -> None:
        self.settings = settings

    def build(self, message: Outgoing) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.settings.smtp_from
        email["To"] = message.address
        email["Subject"] = message.subject
        domain = self.settings.smtp_from.rpartition("@")[2] or None
        email["Message-ID"] = make_msgid(idstring=message.delivery_id.hex, domain=domain)
        # Lets a mail server or archive spot a duplicate of the same delivery.
        email["X-Zuofeng-Delivery"] = str(message.delivery_id)
        email.set_content(message.body, charset="utf-8")
        return email

    async def send(self, message: Outgoing) -> str | None:
        email = self.build(message)
        s = self.settings
        try:
            await aiosmtplib.send(
                email,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username or None,
                password=s.smtp_password or None,
                start_tls=s.smtp_starttls,
                use_tls=s.smtp_use_tls,
                timeout=s.smtp_timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError("smtp: recipient refused", permanent=True) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryError(f"smtp: {exc.code}", permanent=500 <= exc.code < 600) from exc
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"smtp: {type(exc).__name__}") from exc
        return email["Message-ID"]


# --- HTTP webhook providers --------------------------------------------------------------------------


class WebhookAdapter(Protocol):
    """Turns a message into one provider's request body and reads its answer."""

    def payload(self, message: Outgoing) -> dict: ...

    def accepted(self, answer: dict) -> tuple[bool, str | None, bool]:
        """(accepted, provider message id or error code, error is permanent)."""
        ...


@dataclass(frozen=True)
class GenericSmsAdapter:
    sign_name: str

    def payload(self, message: Outgoing) -> dict:
        return {"to": message.address, "text": f"【{self.sign_name}】{message.body}",
                "reference": str(message.delivery_id)}

    def accepted(self, answer: dict) -> tuple[bool, str | None, bool]:
        return True, answer.get("id") or answer.get("message_id"), False


@dataclass(frozen=True)
class AliyunSmsAdapter:
    """Alibaba Cloud SMS ``SendSms`` shape (behind the city's signing proxy): answers ``Code == "OK"``."""

    sign_name: str
    template_code: str

    def payload(self, message: Outgoing) -> dict:
        return {
            "PhoneNumbers": message.address,
            "SignName": self.sign_name,
            "TemplateCode": self.template_code,
            "TemplateParam": json.dumps({"content": message.body}, ensure_ascii=False),
            "OutId": str(message.delivery_id),
        }

    def accepted(self, answer: dict) -> tuple[bool, str | None, bool]:
        code = answer.get("Code")
        if code == "OK":
            return True, answer.get("BizId"), False
        # Throttling is worth a retry; a bad number or template is not.
        return False, f"sms: {code}", not str(code).startswith("isv.BUSINESS_LIMIT")


@dataclass(frozen=True)
class WeChatOfficialAccountAdapter:
    """公众号模板消息 (``message/template/send``): answers ``errcode == 0``."""

    template_id: str

    def payload(self, message: Outgoing) -> dict:
        return {
            "touser": message.address,
            "template_id": self.template_id,
            "data": {
                "first": {"value": message.subject},
                "keyword1": {"value": message.body},
                "remark": {"value": ""},
            },
        }

    def accepted(self, answer: dict) -> tuple[bool, str | None, bool]:
        code = answer.get("errcode", 0)
        if code == 0:
            return True, str(answer.get("msgid")) if answer.get("msgid") is not None else None, False
        # -1 system busy and 45009 quota reached are transient; the rest (bad openid, template) are not.
        return False, f"wechat: {code}", code not in (-1, 45009)


@dataclass(frozen=True)
class WeComBotAdapter:
    """企业微信群机器人 webhook: one bot per unit group, so the address is not in the body."""

    def payload(self, message: Outgoing) -> dict:
        return {"msgtype": "text", "text": {"content": f"{message.subject}\n{message.body}"}}

    def accepted(self, answer: dict) -> tuple[bool, str | None, bool]:
        code = answer.get("errcode", 0)
        return (True, None, False) if code == 0 else (False, f"wecom: {code}", code != -1)


def sms_adapter(settings: NotificationSettings) -> WebhookAdapter:
    adapters: dict[str, Callable[[], WebhookAdapter]] = {
        "generic": lambda: GenericSmsAdapter(settings.sms_sign_name),
        "aliyun": lambda: AliyunSmsAdapter(settings.sms_sign_name, settings.sms_template_code),
    }
    try:
        return adapters[settings.sms_provider]()
    except KeyError as exc:
        raise ValueError(f"unknown SMS provider {settings.sms_provider!r}; known: {sorted(adapters)}") from exc


def wechat_adapter(settings: NotificationSettings) -> WebhookAdapter:
    adapters: dict[str, Callable[[], WebhookAdapter]] = {
        "official_account": lambda: WeChatOfficialAccountAdapter(settings.wechat_template_id),
        "wecom_bot": lambda: WeComBotAdapter(),
    }
    try:
        return adapters[settings.wechat_provider]()
    except KeyError as exc:
        raise ValueError(f"unknown WeChat provider {settings.wechat_provider!r}; known: {sorted(adapters)}") from exc


class WebhookChannel:
    def __init__(
        self, name: str, url: str, adapter: WebhookAdapter, client: httpx.AsyncClient, token: str = ""
    ) -> None:
        self.name = name
        self.url = url
        self.adapter = adapter
        self.client = client
        self.headers = {"authorization": f"Bearer {token}"} if token else {}

    async def send(self, message: Outgoing) -> str | None:
        headers = {**self.headers, "idempotency-key": str(message.delivery_id)}
        try:
            response = await self.client.post(self.url, json=self.adapter.payload(message), headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{self.name}: {type(exc).__name__}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise DeliveryError(f"{self.name}: http {response.status_code}")
        if response.status_code >= 400:
            raise DeliveryError(f"{self.name}: http {response.status_code}", permanent=True)
        try:
            answer = response.json() if response.content else {}
        except ValueError:
            answer = {}
        ok, detail, permanent = self.adapter.accepted(answer if isinstance(answer, dict) else {})
        if not ok:
            raise DeliveryError(detail or f"{self.name}: rejected", permanent=permanent)
        return detail


class InboxChannel:
    """站内信: the message lands in the unit's inbox (idempotent on the delivery id)."""

    name = "inbox"

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def send(self, message: Outgoing) -> str | None:
        message_id = new_id()
        async with session_scope(self.sessions) as session:
            row = (
                await session.execute(
                    pg_insert(inbox_messages)
                    .values(
                        id=message_id,
                        unit_id=message.address,
                        delivery_id=message.delivery_id,
                        template=message.template,
                        title=message.subject,
                        body=message.body,
                    )
                    .on_conflict_do_nothing(index_elements=["delivery_id"])
                    .returning(inbox_messages.c.id)
                )
            ).first()
        return str(row.id) if row else None


def build_channels(
    settings: NotificationSettings, sessions: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> dict[str, Channel]:
    channels: dict[str, Channel] = {"email": EmailChannel(settings), "inbox": InboxChannel(sessions)}
    if settings.sms_webhook_url:
        channels["sms"] = WebhookChannel("sms", settings.sms_webhook_url, sms_adapter(settings), client,
                                         settings.webhook_token)
    if settings.wechat_webhook_url:
        channels["wechat"] = WebhookChannel("wechat", settings.wechat_webhook_url, wechat_adapter(settings), client,
                                            settings.webhook_token)
    return channels


def configured_channels(settings: NotificationSettings) -> frozenset[str]:
    names = {"inbox"}
    if settings.smtp_host:
        names.add("email")
    if settings.sms_webhook_url:
        names.add("sms")
    if settings.wechat_webhook_url:
        names.add("wechat")
    return frozenset(names)


class TokenBucket:
    """Per-channel rate limit: ``rate`` messages per second with a burst of ``burst``.

    In-process: with N replicas the provider sees up to N×rate; set the rate per replica accordingly."""

    def __init__(self, rate: float, burst: float | None = None, clock=time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate)
        self.tokens = self.capacity
        self.clock = clock
        self.updated = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def wait_time(self) -> float:
        """Seconds until a token is available (0 if one is now); takes it when available."""
        self._refill()
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate

    async def acquire(self) -> None:
        async with self._lock:
            while (wait := self.wait_time()) > 0:  # noqa: ASYNC110 — token bucket: sleeps until the next token
                await asyncio.sleep(wait)
