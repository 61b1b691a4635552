"""What every rule uses: the Notifier, recipients and their addresses, and queueing deliveries.

Events become *deliveries*: one row per (source event, recipient, channel), inserted with ON CONFLICT DO
NOTHING, so an event handled twice queues nothing twice. The delivery worker sends them later, outside
the consumer's transaction. The anonymous receipt page is the exception: its message travels as the
``reporter-feedback-issued`` event, written to the outbox in the same transaction as its delivery row.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Row, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.calendar import WorkCalendar, default_calendar, today_in_city
from services.common.contracts.notification import ReporterFeedbackIssued
from services.common.contracts.triage import UnitUpserted
from services.common.crypto import KeyRing, Sealed
from services.common.ids import new_id
from services.common.outbox import Outbox

from ..channels import configured_channels
from ..models import audit_log, deliveries, reporters, units
from ..rendering import Rendered, render
from ..settings import NotificationSettings

log = logging.getLogger(__name__)


# Wakes the delivery worker at commit of a transaction that queued something (it polls as a fallback).
DELIVERY_WAKEUP = "zuofeng_notification_deliveries"
_NOTIFY = text(f"SELECT pg_notify('{DELIVERY_WAKEUP}', '')")

CONTACT_CHANNELS = {"phone": "sms", "email": "email"}  # reporter contact field → channel
UNIT_CONTACT_CHANNELS = {"email": "email", "phone": "sms", "wechat_openid": "wechat"}


class ContactUnavailable(Exception):
    """The sealed contact cannot be opened here (no key ring, unknown key id, tampered ciphertext)."""


@dataclass
class Notifier:
    """What the rules need besides the session: settings, the outbox, the contact key ring, the calendar."""

    settings: NotificationSettings
    outbox: Outbox
    keyring: KeyRing | None = None
    calendar: WorkCalendar = field(default_factory=default_calendar)

    @classmethod
    def from_settings(cls, settings: NotificationSettings, outbox: Outbox) -> Notifier:
        keyring = KeyRing.parse(settings.contact_keyring) if settings.contact_keyring else None
        return cls(settings=settings, outbox=outbox, keyring=keyring)

    @property
    def channels(self) -> frozenset[str]:
        return configured_channels(self.settings)


def now_utc() -> datetime:
    return datetime.now(UTC)


today_local = today_in_city  # the city's date (services.common.calendar), under this service's older name


# --- recipients and their addresses -----------------------------------------------------------------


def open_contact(notifier: Notifier, clue_id: uuid.UUID, kid: str, nonce: str, ciphertext: str) -> dict[str, str]:
    """Open intake's sealed contact in memory only; the associated data binds it to its clue."""
    if notifier.keyring is None:
        raise ContactUnavailable("no contact key ring configured")
    try:
        plain = notifier.keyring.open(Sealed.from_text(kid, nonce, ciphertext), str(clue_id).encode())
        contact = json.loads(plain)
    except Exception as exc:  # noqa: BLE001 — InvalidTag, unknown kid, bad JSON: all mean "cannot use"
        raise ContactUnavailable(type(exc).__name__) from None
    return {k: str(v) for k, v in contact.items() if k in CONTACT_CHANNELS and v}


async def addresses_for(session: AsyncSession, notifier: Notifier, recipient: str, *, purpose: str = "queue",
                        delivery_id: uuid.UUID | None = None) -> dict[str, str]:
    """channel → address for a recipient reference, limited to the channels configured here.

    Opening a reporter's sealed contact is an audit entry in the caller's transaction (why, and for which
    delivery; never the contact), like every reveal of identity elsewhere in the suite."""
    kind, _, ref = recipient.partition(":")
    found: dict[str, str] = {}
    if kind == "reporter":
        row = (await session.execute(select(reporters).where(reporters.c.clue_id == uuid.UUID(ref)))).first()
        if row is not None and not row.anonymous and row.contact_ciphertext:
            contact = open_contact(notifier, row.clue_id, row.contact_kid, row.contact_nonce, row.contact_ciphertext)
            details = {"purpose": purpose, "channels": sorted(CONTACT_CHANNELS[k] for k in contact)}
            if delivery_id is not None:
                details["delivery_id"] = str(delivery_id)
            await audit.record(session, audit_log, actor="notification", action="open_contact",
                               entity_type="clue", entity_id=str(row.clue_id), details=details)
            found = {CONTACT_CHANNELS[k]: v for k, v in contact.items()}
    elif kind == "unit":
        stored = await session.scalar(select(units.c.contacts).where(units.c.unit_id == ref))
        return unit_addresses(notifier, ref, stored)
    elif kind == "voter":  # a web voter's sealed phone (evaluation's one-time code): SMS only
        from .voters import open_voter

        found = {"sms": open_voter(notifier, ref)["phone"]}
    elif kind == "office":
        s = notifier.settings
        found = {"email": s.supervising_office_email, "sms": s.supervising_office_phone,
                 "inbox": s.supervising_office_unit_id}
    return {ch: addr for ch, addr in found.items() if addr and ch in notifier.channels}


def unit_addresses(notifier: Notifier, unit_id: str, stored: dict | None) -> dict[str, str]:
    """channel → address of a unit from its directory contacts (``stored``) and the configured overrides."""
    contacts = {**(stored or {}), **notifier.settings.unit_contacts.get(unit_id, {})}
    found = {UNIT_CONTACT_CHANNELS[k]: v for k, v in contacts.items() if k in UNIT_CONTACT_CHANNELS and v}
    found["inbox"] = unit_id
    return {ch: addr for ch, addr in found.items() if addr and ch in notifier.channels}


def reporter_addresses(notifier: Notifier, contact: dict[str, str]) -> dict[str, str]:
    """channel → address of an opened reporter contact, limited to the channels configured here."""
    found = {CONTACT_CHANNELS[k]: v for k, v in contact.items()}
    return {ch: addr for ch, addr in found.items() if addr and ch in notifier.channels}


async def unit_name(session: AsyncSession, unit_id: str | None) -> str:
    if not unit_id:
        return ""
    return await session.scalar(select(units.c.name).where(units.c.unit_id == unit_id)) or unit_id


# --- queueing ---------------------------------------------------------------------------------------


async def queue_message(
    session: AsyncSession,
    *,
    source: str,
    template: str,
    recipient: str,
    rendered: Rendered,
    channels: Iterable[str],
    clue_id: uuid.UUID | None = None,
    unit_id: str | None = None,
) -> int:
    """Queue one message to one recipient on each channel; a (source, recipient, channel) seen before is a no-op."""
    rows = message_rows(source=source, template=template, recipient=recipient, rendered=rendered,
                        channels=channels, clue_id=clue_id, unit_id=unit_id)
    if not rows:
        return 0
    result = await session.execute(
        pg_insert(deliveries).values(rows).on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(deliveries.c.id)
    )
    queued = len(result.all())
    if queued:
        await session.execute(_NOTIFY)
    return queued


def message_rows(*, source: str, template: str, recipient: str, rendered: Rendered, channels: Iterable[str],
                 clue_id: uuid.UUID | None = None, unit_id: str | None = None) -> list[dict]:
    """The ``deliveries`` rows queueing one message to one recipient on each channel."""
    return [
        {
            "id": new_id(),
            "dedupe_key": f"{source}|{recipient}|{channel}",
            "source": source,
            "template": template,
            "channel": channel,
            "recipient": recipient,
            "clue_id": clue_id,
            "unit_id": unit_id,
            "subject": rendered.subject,
            "body": rendered.body,
            "status": "queued",
        }
        for channel in sorted(set(channels))
    ]


async def feedback_to_reporter(
    session: AsyncSession, *, notifier: Notifier, clue_id: uuid.UUID, stage: str, source: str,
    known_reporter: Row | None = None, **context: object,
) -> Rendered:
    """第一时间向投诉人反馈: the receipt page always (anonymous or not), and SMS / e-mail to a named reporter.
    ``known_reporter`` is the clue's ``reporters`` row when the caller has just stored it."""
    reporter = known_reporter or (
        await session.execute(select(reporters).where(reporters.c.clue_id == clue_id))).first()
    context.setdefault("tracking_number", reporter.tracking_number if reporter else "")
    context.setdefault("anonymous", reporter.anonymous if reporter else True)
    template = f"reporter/{stage.replace('-', '_')}"
    rendered = render(template, **context)
    now = now_utc()
    recorded = (
        await session.execute(
            pg_insert(deliveries)
            .values(
                id=new_id(), dedupe_key=f"{source}|reporter:{clue_id}|receipt", source=source, template=template,
                channel="receipt", recipient=f"reporter:{clue_id}", clue_id=clue_id, subject=rendered.subject,
                body=rendered.body, status="sent", attempts=1, sent_at=now, updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(deliveries.c.id)
        )
    ).first()
    if recorded is not None:
        await notifier.outbox.publish(
            session, ReporterFeedbackIssued(clue_id=clue_id, stage=stage, message=rendered.body, issued_at=now)
        )
    if reporter is None:
        log.warning("feedback for a clue not received here; receipt page only", extra={"clue_id": str(clue_id)})
        return rendered
    if not reporter.anonymous and reporter.contact_ciphertext:
        try:
            channels = await addresses_for(session, notifier, f"reporter:{clue_id}")
        except ContactUnavailable as exc:
            log.warning("reporter contact unusable; receipt page only",
                        extra={"clue_id": str(clue_id), "reason": str(exc)})
            channels = {}
        await queue_message(session, source=source, template=template, recipient=f"reporter:{clue_id}",
                            rendered=rendered, channels=channels, clue_id=clue_id)
    return rendered


async def notify_unit(
    session: AsyncSession, *, notifier: Notifier, unit_id: str, template: str, source: str,
    clue_id: uuid.UUID | None = None, **context: object,
) -> Rendered:
    """A notice to a unit: its in-app inbox always, plus e-mail / SMS / WeChat where it has them."""
    context.setdefault("unit_name", await unit_name(session, unit_id))
    rendered = render(f"unit/{template}", **context)
    channels = await addresses_for(session, notifier, f"unit:{unit_id}")
    await queue_message(session, source=source, template=f"unit/{template}", recipient=f"unit:{unit_id}",
                        rendered=rendered, channels=channels, clue_id=clue_id, unit_id=unit_id)
    return rendered


async def notify_office(
    session: AsyncSession, *, notifier: Notifier, template: str, source: str, unit_id: str | None = None,
    clue_id: uuid.UUID | None = None, **context: object,
) -> Rendered:
    context.setdefault("office_name", notifier.settings.supervising_office_name)
    rendered = render(f"office/{template}", **context)
    channels = await addresses_for(session, notifier, "office")
    if not channels:
        log.warning("no channel reaches the supervising office; the escalation is recorded on the deadline only")
    await queue_message(session, source=source, template=f"office/{template}", recipient="office",
                        rendered=rendered, channels=channels, clue_id=clue_id, unit_id=unit_id)
    return rendered




async def record_unit(session: AsyncSession, *, event: UnitUpserted, data: dict) -> None:
    """单位名录 read model. Official contacts ride along if the directory carries them."""
    contacts = {k: str(data[k]) for k in UNIT_CONTACT_CHANNELS if data.get(k)}
    values = {"name": event.name, "parent_id": event.parent_id, "level": event.level, "active": event.active,
              "contacts": contacts, "updated_at": now_utc()}
    await session.execute(
        pg_insert(units).values(unit_id=event.unit_id, **values)
        .on_conflict_do_update(index_elements=["unit_id"], set_=values)
    )
