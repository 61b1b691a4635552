"""Notification's domain rules: who hears what, on which channel, when (no HTTP here).

Events become *deliveries*: one row per (source event, recipient, channel), inserted with ON CONFLICT DO
NOTHING, so an event handled twice queues nothing twice. The delivery worker sends them later, outside
the consumer's transaction. The anonymous receipt page is the exception: its message travels as the
``reporter-feedback-issued`` event, written to the outbox in the same transaction as its delivery row.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.calendar import WorkCalendar, default_calendar
from services.common.contracts.accountability import (
    CaseClosed,
    CaseConcluded,
    RectificationAssigned,
    RectificationOverdue,
    TypicalCasePublished,
)
from services.common.contracts.evaluation import ResultsPublished
from services.common.contracts.intake import ClueReceived
from services.common.contracts.notification import FeedbackReceived, ReporterFeedbackIssued
from services.common.contracts.triage import ClueTriaged, DailySheetPublished, UnitUpserted
from services.common.crypto import KeyRing, Sealed
from services.common.ids import new_id
from services.common.outbox import Outbox

from .channels import configured_channels
from .models import bulletins, daily_sheets, deadlines, deliveries, inbox_messages, ratings, reporters, units
from .settings import NotificationSettings
from .rendering import SHANGHAI, Rendered, redact_identity, render

log = logging.getLogger(__name__)

CONTACT_CHANNELS = {"phone": "sms", "email": "email"}  # reporter contact field → channel
UNIT_CONTACT_CHANNELS = {"email": "email", "phone": "sms", "wechat_openid": "wechat"}


class ContactUnavailable(Exception):
    """The sealed contact cannot be opened here (no key ring, unknown key id, tampered ciphertext)."""


class RatingNotFound(Exception):
    pass


class RatingAlreadyGiven(Exception):
    pass


class RatingExpired(Exception):
    pass


@dataclass
class Notifier:
    """What the rules need besides the session: settings, the outbox, the contact key ring, the calendar."""

    settings: NotificationSettings
    outbox: Outbox
    keyring: KeyRing | None = None
    calendar: WorkCalendar = field(default_factory=default_calendar)

    @classmethod
    def from_settings(cls, settings: NotificationSettings, outbox: Outbox) -> "Notifier":
        keyring = KeyRing.parse(settings.contact_keyring) if settings.contact_keyring else None
        return cls(settings=settings, outbox=outbox, keyring=keyring)

    @property
    def channels(self) -> frozenset[str]:
        return configured_channels(self.settings)


def now_utc() -> datetime:
    return datetime.now(UTC)


def today_local(moment: datetime | None = None) -> date:
    """The date in the city (Asia/Shanghai): working days and deadlines are counted there."""
    return (moment or now_utc()).astimezone(SHANGHAI).date()


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


async def addresses_for(session: AsyncSession, notifier: Notifier, recipient: str) -> dict[str, str]:
    """channel → address for a recipient reference, limited to the channels configured here."""
    kind, _, ref = recipient.partition(":")
    found: dict[str, str] = {}
    if kind == "reporter":
        row = (await session.execute(select(reporters).where(reporters.c.clue_id == uuid.UUID(ref)))).first()
        if row is not None and not row.anonymous and row.contact_ciphertext:
            contact = open_contact(notifier, row.clue_id, row.contact_kid, row.contact_nonce, row.contact_ciphertext)
            found = {CONTACT_CHANNELS[k]: v for k, v in contact.items()}
    elif kind == "unit":
        stored = await session.scalar(select(units.c.contacts).where(units.c.unit_id == ref)) or {}
        contacts = {**stored, **notifier.settings.unit_contacts.get(ref, {})}
        found = {UNIT_CONTACT_CHANNELS[k]: v for k, v in contacts.items() if k in UNIT_CONTACT_CHANNELS and v}
        found["inbox"] = ref
    elif kind == "office":
        s = notifier.settings
        found = {"email": s.supervising_office_email, "sms": s.supervising_office_phone,
                 "inbox": s.supervising_office_unit_id}
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
    rows = [
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
    if not rows:
        return 0
    result = await session.execute(
        pg_insert(deliveries).values(rows).on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(deliveries.c.id)
    )
    return len(result.all())


async def feedback_to_reporter(
    session: AsyncSession, *, notifier: Notifier, clue_id: uuid.UUID, stage: str, source: str, **context: object
) -> Rendered:
    """第一时间向投诉人反馈: the receipt page always (anonymous or not), and SMS / e-mail to a named reporter."""
    reporter = (await session.execute(select(reporters).where(reporters.c.clue_id == clue_id))).first()
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
        log.warning("no channel reaches the supervising office; escalation recorded in deliveries only")
    await queue_message(session, source=source, template=f"office/{template}", recipient="office",
                        rendered=rendered, channels=channels, clue_id=clue_id, unit_id=unit_id)
    return rendered


# --- events -----------------------------------------------------------------------------------------


async def record_unit(session: AsyncSession, *, event: UnitUpserted, data: dict) -> None:
    """单位名录 read model. Official contacts ride along if the directory carries them."""
    contacts = {k: str(data[k]) for k in UNIT_CONTACT_CHANNELS if data.get(k)}
    values = {"name": event.name, "parent_id": event.parent_id, "active": event.active, "contacts": contacts,
              "updated_at": now_utc()}
    await session.execute(
        pg_insert(units).values(unit_id=event.unit_id, **values)
        .on_conflict_do_update(index_elements=["unit_id"], set_=values)
    )


async def acknowledge_clue(session: AsyncSession, *, notifier: Notifier, event: ClueReceived, source: str) -> None:
    """受理回执: remember how to reach the reporter (sealed) and acknowledge at once."""
    sealed = event.reporter_contact
    anonymous = event.anonymous or sealed is None
    await session.execute(
        pg_insert(reporters)
        .values(
            clue_id=event.clue_id, tracking_number=event.tracking_number, anonymous=anonymous,
            contact_kid=None if anonymous else sealed.kid,
            contact_nonce=None if anonymous else sealed.nonce,
            contact_ciphertext=None if anonymous else sealed.ciphertext,
            unit_id=event.unit_id, received_at=event.received_at,
        )
        .on_conflict_do_nothing(index_elements=["clue_id"])
    )
    await feedback_to_reporter(session, notifier=notifier, clue_id=event.clue_id, stage="received", source=source,
                               tracking_number=event.tracking_number, received_at=event.received_at)


async def watch_deadline(
    session: AsyncSession, *, kind: str, ref_id: uuid.UUID, unit_id: str, deadline: date, label: str,
    clue_id: uuid.UUID | None = None, case_id: uuid.UUID | None = None,
) -> None:
    """督办: watch a deadline. A new deadline (re-routed, extended) restarts reminders and escalation."""
    values = {"unit_id": unit_id, "deadline": deadline, "label": label, "clue_id": clue_id, "case_id": case_id}
    await session.execute(
        pg_insert(deadlines).values(id=new_id(), kind=kind, ref_id=ref_id, **values)
        .on_conflict_do_update(
            index_elements=["kind", "ref_id"],
            set_={**values, "reminded_on": None, "escalated_on": None, "resolved_at": None},
            where=deadlines.c.deadline != deadline,
        )
    )


async def route_clue(session: AsyncSession, *, notifier: Notifier, event: ClueTriaged, source: str) -> None:
    """分办: tell the reporter; a transfer (转办) also notifies the unit and starts watching its deadline."""
    name = await unit_name(session, event.unit_id)
    await feedback_to_reporter(session, notifier=notifier, clue_id=event.clue_id, stage="triaged", source=source,
                               tracking_number=event.tracking_number, decision=event.decision, unit_name=name,
                               deadline=event.deadline)
    # Only a transfer tells a unit: for a clue the commission investigates itself, the unit must not be tipped off.
    if event.decision != "transfer" or not event.unit_id:
        return
    working_days = (notifier.calendar.working_days_between(event.run_date, event.deadline)
                    if event.deadline else None)
    await notify_unit(session, notifier=notifier, unit_id=event.unit_id, template="transfer_assigned",
                      source=source, clue_id=event.clue_id, unit_name=name, tracking_number=event.tracking_number,
                      deadline=event.deadline, working_days=working_days, type_label=event.type_code,
                      must_investigate=event.must_investigate)
    if event.deadline:
        await watch_deadline(session, kind="transfer", ref_id=event.clue_id, unit_id=event.unit_id,
                             deadline=event.deadline, label=event.tracking_number, clue_id=event.clue_id)


def _token_hash(token: str) -> str:
    # The token is 256 random bits: a fast hash is enough (nothing to brute-force), unlike receipt codes.
    return hashlib.sha256(token.encode()).hexdigest()


async def conclude_case(session: AsyncSession, *, notifier: Notifier, event: CaseConcluded, source: str) -> None:
    """办结反馈 and 满意度回访: tell each reporter the outcome, then ask them to rate the handling."""
    s = notifier.settings
    for clue_id in event.clue_ids:
        await feedback_to_reporter(session, notifier=notifier, clue_id=clue_id, stage="concluded", source=source,
                                   finding=event.finding, outcome_summary=event.outcome_summary,
                                   case_number=event.case_number)
        token = secrets.token_urlsafe(32)
        created = (
            await session.execute(
                pg_insert(ratings)
                .values(token_hash=_token_hash(token), clue_id=clue_id, case_id=event.case_id,
                        case_number=event.case_number, unit_id=event.unit_id,
                        expires_at=now_utc() + timedelta(days=s.rating_valid_days))
                .on_conflict_do_nothing(index_elements=["clue_id", "case_id"])
                .returning(ratings.c.token_hash)
            )
        ).first()
        if created is not None:
            link = f"{s.public_base_url.rstrip('/')}/api/v1/notification/ratings/{token}"
            await feedback_to_reporter(session, notifier=notifier, clue_id=clue_id, stage="rating-request",
                                       source=f"{source}:rating", rating_link=link, valid_days=s.rating_valid_days)
    if event.clue_ids:
        await session.execute(
            update(deadlines)
            .where(deadlines.c.kind == "transfer", deadlines.c.clue_id.in_(event.clue_ids),
                   deadlines.c.resolved_at.is_(None))
            .values(resolved_at=now_utc())
        )


async def close_case(session: AsyncSession, *, notifier: Notifier, event: CaseClosed, source: str) -> None:
    """结案: tell the reporters; rectification deadlines of the case stop being watched."""
    for clue_id in event.clue_ids:
        await feedback_to_reporter(session, notifier=notifier, clue_id=clue_id, stage="closed", source=source,
                                   case_number=event.case_number)
    await session.execute(
        update(deadlines)
        .where(deadlines.c.case_id == event.case_id, deadlines.c.resolved_at.is_(None))
        .values(resolved_at=now_utc())
    )


async def assign_rectification(
    session: AsyncSession, *, notifier: Notifier, event: RectificationAssigned, source: str
) -> None:
    """整改交办: notify the unit and watch the deadline."""
    await notify_unit(session, notifier=notifier, unit_id=event.unit_id, template="rectification_assigned",
                      source=source, task=event.task, deadline=event.deadline, responsible=event.responsible)
    await watch_deadline(session, kind="rectification", ref_id=event.rectification_id, unit_id=event.unit_id,
                         deadline=event.deadline, label=event.task, case_id=event.case_id)


async def escalate(session: AsyncSession, *, notifier: Notifier, watch, today: date) -> None:
    """逾期督办: the supervising office hears of it, the unit is told it was reported. Once per deadline."""
    source = f"escalation:{watch.id}:{watch.deadline.isoformat()}"
    name = await unit_name(session, watch.unit_id)
    over = max(0, notifier.calendar.working_days_between(watch.deadline, today))
    common = {"unit_name": name, "kind": watch.kind, "label": watch.label, "deadline": watch.deadline}
    await notify_office(session, notifier=notifier, template="escalation", source=source, unit_id=watch.unit_id,
                        clue_id=watch.clue_id, today=today, working_days_over=over, **common)
    await notify_unit(session, notifier=notifier, unit_id=watch.unit_id, template="overdue_notice", source=source,
                      clue_id=watch.clue_id, office_name=notifier.settings.supervising_office_name, **common)
    await session.execute(
        update(deadlines).where(deadlines.c.id == watch.id)
        .values(escalated_on=today, reminded_on=watch.reminded_on or today)
    )


async def rectification_overdue(
    session: AsyncSession, *, notifier: Notifier, event: RectificationOverdue, source: str
) -> None:
    """Accountability found the rectification overdue: escalate now unless the schedule already did."""
    await watch_deadline(session, kind="rectification", ref_id=event.rectification_id, unit_id=event.unit_id,
                         deadline=event.deadline, label=event.task, case_id=event.case_id)
    watch = (
        await session.execute(
            select(deadlines).where(deadlines.c.kind == "rectification",
                                    deadlines.c.ref_id == event.rectification_id).with_for_update()
        )
    ).one()
    if watch.escalated_on is None:
        await escalate(session, notifier=notifier, watch=watch, today=today_local(event.detected_at))


async def remind_and_escalate(session: AsyncSession, *, notifier: Notifier, today: date) -> dict[str, int]:
    """The daily 督办 pass: remind units N working days before a deadline, escalate M working days after."""
    s, cal = notifier.settings, notifier.calendar
    horizon = today + timedelta(days=7 + 2 * s.remind_working_days_before)  # generous: holidays stretch weeks
    due = (
        await session.execute(
            select(deadlines)
            .where(deadlines.c.resolved_at.is_(None), deadlines.c.escalated_on.is_(None),
                   deadlines.c.deadline <= horizon)
            .order_by(deadlines.c.deadline)
            .with_for_update(skip_locked=True)
        )
    ).all()
    counts = {"reminded": 0, "escalated": 0}
    for watch in due:
        if watch.deadline < today and cal.working_days_between(watch.deadline, today) >= s.escalate_working_days_after:
            await escalate(session, notifier=notifier, watch=watch, today=today)
            counts["escalated"] += 1
            continue
        left = cal.working_days_between(today, watch.deadline)
        if watch.reminded_on is None and 0 <= left <= s.remind_working_days_before:
            await notify_unit(session, notifier=notifier, unit_id=watch.unit_id, template="deadline_reminder",
                              source=f"reminder:{watch.id}:{watch.deadline.isoformat()}", clue_id=watch.clue_id,
                              kind=watch.kind, label=watch.label, deadline=watch.deadline, working_days_left=left)
            await session.execute(update(deadlines).where(deadlines.c.id == watch.id).values(reminded_on=today))
            counts["reminded"] += 1
    return counts


# --- bulletins (公开通报) ------------------------------------------------------------------------------


async def publish_bulletin(
    session: AsyncSession, *, source: str, kind: str, rendered: Rendered, published_at: datetime,
    period: str | None = None, unit_id: str | None = None, data: dict | None = None,
) -> bool:
    result = await session.execute(
        pg_insert(bulletins)
        .values(id=new_id(), source=source, kind=kind, title=redact_identity(rendered.subject),
                body=redact_identity(rendered.body), period=period, unit_id=unit_id, data=data or {},
                published_at=published_at)
        .on_conflict_do_nothing(index_elements=["source"])
        .returning(bulletins.c.id)
    )
    return result.first() is not None


async def publish_typical_case(session: AsyncSession, *, event: TypicalCasePublished, source: str) -> None:
    """典型案例通报 / 澄清正名."""
    rendered = render(f"bulletin/{event.kind}", title=event.title, body=event.body)
    await publish_bulletin(session, source=source, kind=event.kind, rendered=rendered,
                           published_at=event.published_at, period=today_local(event.published_at).strftime("%Y-%m"),
                           unit_id=event.unit_id, data={"scope": event.scope, "problem_type": event.problem_type})


async def publish_results(session: AsyncSession, *, notifier: Notifier, event: ResultsPublished, source: str) -> None:
    """评议结果公布 (十优十差), and a notice to each unit a consequence falls on."""
    names = {row.unit_id: row.unit_name for c in event.categories for row in c.ranking}
    categories = [
        {
            "category": c.category,
            "top": [names.get(u, u) for u in c.top_ten],
            "bottom": [names.get(u, u) for u in c.bottom_ten],
            "ranking": [r.model_dump() for r in sorted(c.ranking, key=lambda r: r.rank)],
        }
        for c in event.categories
    ]
    rendered = render("bulletin/ranking", name=event.name, period=event.period, categories=categories)
    await publish_bulletin(session, source=source, kind="ranking", rendered=rendered,
                           published_at=event.published_at, period=event.period,
                           data={"campaign_id": str(event.campaign_id), "categories": categories})
    for consequence in event.consequences:
        await notify_unit(session, notifier=notifier, unit_id=consequence.unit_id, template="consequence",
                          source=f"{source}:{consequence.kind}", unit_name=consequence.unit_name,
                          campaign_name=event.name, period=event.period, reason=consequence.reason)


async def record_daily_sheet(
    session: AsyncSession, *, notifier: Notifier, event: DailySheetPublished, source: str
) -> None:
    """当日线索梳理表: kept for the monthly bulletin; each unit with clues routed to it gets a notice."""
    values = {"total": event.total, "by_type": [r.model_dump() for r in event.by_type],
              "by_decision": [r.model_dump() for r in event.by_decision]}
    await session.execute(
        pg_insert(daily_sheets).values(run_date=event.run_date, **values)
        .on_conflict_do_update(index_elements=["run_date"], set_=values)
    )
    for row in event.by_unit:
        if row.count > 0:
            await notify_unit(session, notifier=notifier, unit_id=row.key, template="daily_sheet", source=source,
                              run_date=event.run_date, count=row.count)


def previous_month(today: date) -> date:
    first = today.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


async def compose_monthly_bulletin(session: AsyncSession, *, month: date, published_at: datetime) -> bool:
    """月度通报 for the month starting at ``month``; nothing if it exists already or the month was empty."""
    period = month.strftime("%Y-%m")
    if await session.scalar(select(bulletins.c.id).where(bulletins.c.source == f"monthly:{period}")):
        return False
    end = (month + timedelta(days=32)).replace(day=1)
    sheets = (
        await session.execute(select(daily_sheets).where(daily_sheets.c.run_date >= month,
                                                         daily_sheets.c.run_date < end))
    ).all()
    month_bulletins = (
        await session.execute(
            select(bulletins.c.kind, bulletins.c.title)
            .where(bulletins.c.kind != "monthly", bulletins.c.period == period)
            .order_by(bulletins.c.published_at)
        )
    ).all()
    if not sheets and not month_bulletins:
        return False
    by_type: dict[str, int] = {}
    for sheet in sheets:
        for row in sheet.by_type:
            by_type[row["key"]] = by_type.get(row["key"], 0) + int(row["count"])
    rendered = render(
        "bulletin/monthly",
        month_label=f"{month.year}年{month.month}月",
        clues_total=sum(s.total for s in sheets),
        by_type=[{"key": k, "count": v} for k, v in sorted(by_type.items(), key=lambda kv: -kv[1])],
        typical=[b.title for b in month_bulletins if b.kind == "typical"],
        clarifications=[b.title for b in month_bulletins if b.kind == "clarification"],
        rankings=[b.title for b in month_bulletins if b.kind == "ranking"],
    )
    return await publish_bulletin(session, source=f"monthly:{period}", kind="monthly", rendered=rendered,
                                  published_at=published_at, period=period)


# --- reporter satisfaction (满意度回访) ------------------------------------------------------------------


async def get_rating_request(session: AsyncSession, *, token: str):
    row = (await session.execute(select(ratings).where(ratings.c.token_hash == _token_hash(token)))).first()
    if row is None:
        raise RatingNotFound
    return row


async def answer_rating(session: AsyncSession, *, notifier: Notifier, token: str, rating: int):
    """The reporter's answer: stored once, then ``feedback-received`` for evaluation's data indicators."""
    now = now_utc()
    row = (
        await session.execute(
            select(ratings).where(ratings.c.token_hash == _token_hash(token)).with_for_update()
        )
    ).first()
    if row is None:
        raise RatingNotFound
    if row.answered_at is not None:
        raise RatingAlreadyGiven
    if row.expires_at <= now:
        raise RatingExpired
    updated = (
        await session.execute(
            update(ratings).where(and_(ratings.c.token_hash == row.token_hash, ratings.c.answered_at.is_(None)))
            .values(rating=rating, answered_at=now).returning(ratings)
        )
    ).one()
    await notifier.outbox.publish(
        session,
        FeedbackReceived(clue_id=row.clue_id, case_id=row.case_id, unit_id=row.unit_id, rating=rating, received_at=now),
    )
    return updated


# --- reading -------------------------------------------------------------------------------------------


async def list_inbox(session: AsyncSession, *, unit_id: str, after: uuid.UUID | None, limit: int,
                     unread_only: bool = False) -> list:
    q = select(inbox_messages).where(inbox_messages.c.unit_id == unit_id)
    if after is not None:
        q = q.where(inbox_messages.c.id < after)
    if unread_only:
        q = q.where(inbox_messages.c.read_at.is_(None))
    return (await session.execute(q.order_by(inbox_messages.c.id.desc()).limit(limit))).all()


async def mark_read(session: AsyncSession, *, unit_id: str, message_id: uuid.UUID):
    """Marks one of the unit's messages read; None if the unit has no such message."""
    row = (
        await session.execute(
            update(inbox_messages)
            .where(inbox_messages.c.id == message_id, inbox_messages.c.unit_id == unit_id)
            .values(read_at=func.coalesce(inbox_messages.c.read_at, func.now()))
            .returning(inbox_messages)
        )
    ).first()
    return row


async def list_deliveries(
    session: AsyncSession, *, after: uuid.UUID | None, limit: int, status: str | None = None,
    channel: str | None = None, clue_id: uuid.UUID | None = None, unit_id: str | None = None,
) -> list:
    q = select(deliveries)
    for column, value in ((deliveries.c.status, status), (deliveries.c.channel, channel),
                          (deliveries.c.clue_id, clue_id), (deliveries.c.unit_id, unit_id)):
        if value is not None:
            q = q.where(column == value)
    if after is not None:
        q = q.where(deliveries.c.id < after)
    return (await session.execute(q.order_by(deliveries.c.id.desc()).limit(limit))).all()


async def list_bulletins(session: AsyncSession, *, after: uuid.UUID | None, limit: int,
                         kind: str | None = None) -> list:
    q = select(bulletins)
    if kind is not None:
        q = q.where(bulletins.c.kind == kind)
    if after is not None:
        q = q.where(bulletins.c.id < after)
    return (await session.execute(q.order_by(bulletins.c.id.desc()).limit(limit))).all()


async def get_bulletin(session: AsyncSession, *, bulletin_id: uuid.UUID):
    return (await session.execute(select(bulletins).where(bulletins.c.id == bulletin_id))).first()
