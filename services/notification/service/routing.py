"""分办 a consumer poll at a time: the set form of ``reporters.route_clue`` and ``transfers.transfer_superseded``.

A daily run triages a city's day at once, and each ``ClueTriaged`` handled alone cost about a dozen round
trips (the unit's name, the reporter, the receipt, its event, the contact's audit entry, the messages, the
NOTIFY, the unit's contacts, its messages, the deadline; bench/results/set_handlers.md). Here a poll's
clues cost a constant number of statements: units and reporters read once, every delivery row of the set in
one insert, the receipts' events, the audit entries of opened contacts, the watched deadlines and the
settled ones each once. The messages are the same ones, rendered from the same templates, with the same
dedupe keys, so a replay (or the one-at-a-time fallback) queues nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.contracts.notification import ReporterFeedbackIssued
from services.common.contracts.triage import ClueTriaged
from services.common.ids import new_id

from ..catalog import problem_type_label
from ..models import audit_log, deadlines, deliveries, reporters, units
from ..rendering import render
from .core import (
    CONTACT_CHANNELS,
    DELIVERY_WAKEUP,
    ContactUnavailable,
    Notifier,
    message_rows,
    now_utc,
    open_contact,
    reporter_addresses,
    unit_addresses,
)

log = logging.getLogger(__name__)
_NOTIFY = text(f"SELECT pg_notify('{DELIVERY_WAKEUP}', '')")
_DELIVERY_COLUMNS = (("id", "uuid"), ("dedupe_key", "text"), ("source", "text"), ("template", "text"),
                     ("channel", "text"), ("recipient", "text"), ("clue_id", "uuid"), ("unit_id", "text"),
                     ("subject", "text"), ("body", "text"), ("status", "text"), ("attempts", "integer"),
                     ("sent_at", "timestamptz"), ("updated_at", "timestamptz"))
# The set's delivery rows as one array per column: one statement whatever the count, parsed once (a
# multi-row VALUES, or SQLAlchemy's executemany with RETURNING, spent ~0.1 s a poll building parameters).
# Our own table and column names, no input.
_INSERT_DELIVERIES = text(
    f"INSERT INTO {deliveries.fullname} ({', '.join(n for n, _ in _DELIVERY_COLUMNS)}) SELECT * FROM unnest("  # noqa: S608
    + ", ".join(f"CAST(:{n} AS {t}[])" for n, t in _DELIVERY_COLUMNS)
    + ") ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key, channel")


async def route_clues(session: AsyncSession, *, notifier: Notifier,
                      events: Sequence[tuple[ClueTriaged, str]]) -> None:
    """Each (event, source) as ``route_clue`` then ``transfer_superseded`` would handle it; no two events of
    the set are about the same clue (the consumer's promise), so their effects do not interact."""
    unit_ids = list({e.unit_id for e, _ in events if e.unit_id})
    by_unit = {row.unit_id: row for row in (await session.execute(
        select(units.c.unit_id, units.c.name, units.c.contacts).where(units.c.unit_id.in_(unit_ids)))).all()
    } if unit_ids else {}
    by_clue = {row.clue_id: row for row in (await session.execute(
        select(reporters).where(reporters.c.clue_id.in_([e.clue_id for e, _ in events])))).all()}
    now = now_utc()
    rows: list[dict] = []
    issued: dict[str, ReporterFeedbackIssued] = {}  # receipt dedupe key → its event, if the row is new
    opened: list[audit.Entry] = []
    watched: list[dict] = []
    for event, source in events:
        unit = by_unit.get(event.unit_id)
        name = (unit.name if unit else event.unit_id) if event.unit_id else ""
        reporter = by_clue.get(event.clue_id)
        rendered = render("reporter/triaged", tracking_number=event.tracking_number,
                          anonymous=reporter.anonymous if reporter else True, decision=event.decision,
                          unit_name=name, deadline=event.deadline)
        recipient = f"reporter:{event.clue_id}"
        receipt = f"{source}|{recipient}|receipt"
        rows.append({"id": new_id(), "dedupe_key": receipt, "source": source, "template": "reporter/triaged",
                     "channel": "receipt", "recipient": recipient, "clue_id": event.clue_id, "unit_id": None,
                     "subject": rendered.subject, "body": rendered.body, "status": "sent", "attempts": 1,
                     "sent_at": now, "updated_at": now})
        issued[receipt] = ReporterFeedbackIssued(clue_id=event.clue_id, stage="triaged", message=rendered.body,
                                                 issued_at=now)
        if reporter is None:
            log.warning("feedback for a clue not received here; receipt page only",
                        extra={"clue_id": str(event.clue_id)})
        elif not reporter.anonymous and reporter.contact_ciphertext:
            channels = _reporter_channels(notifier, reporter, opened)
            rows += _queued(message_rows(source=source, template="reporter/triaged", recipient=recipient,
                                         rendered=rendered, channels=channels, clue_id=event.clue_id), now)
        # Only a transfer tells a unit: for a clue the commission investigates itself, the unit must not be
        # tipped off.
        if event.decision == "transfer" and event.unit_id:
            working_days = (notifier.calendar.working_days_between(event.run_date, event.deadline)
                            if event.deadline else None)
            notice = render("unit/transfer_assigned", unit_name=name, tracking_number=event.tracking_number,
                            deadline=event.deadline, working_days=working_days,
                            type_label=problem_type_label(event.type_code), must_investigate=event.must_investigate)
            rows += _queued(message_rows(
                source=source, template="unit/transfer_assigned", recipient=f"unit:{event.unit_id}",
                rendered=notice, channels=unit_addresses(notifier, event.unit_id, unit.contacts if unit else None),
                clue_id=event.clue_id, unit_id=event.unit_id), now)
            if event.deadline:
                watched.append({"id": new_id(), "kind": "transfer", "ref_id": event.clue_id,
                                "unit_id": event.unit_id, "deadline": event.deadline,
                                "label": event.tracking_number, "clue_id": event.clue_id, "case_id": None})
    if opened:
        await audit.record_many(session, audit_log, opened)
    recorded = (await session.execute(_INSERT_DELIVERIES, {
        name: [row[name] for row in rows] for name, _ in _DELIVERY_COLUMNS})).all()
    if feedback := [issued[row.dedupe_key] for row in recorded if row.dedupe_key in issued]:
        await notifier.outbox.publish_many(session, feedback)
    if any(row.channel != "receipt" for row in recorded):
        await session.execute(_NOTIFY)  # wakes the delivery worker at commit
    if watched:  # executemany: one compiled statement, one pipelined round trip
        stmt = pg_insert(deadlines)
        await session.execute(stmt.on_conflict_do_update(
            index_elements=["kind", "ref_id"],
            set_={**{k: stmt.excluded[k] for k in ("unit_id", "deadline", "label", "clue_id", "case_id")},
                  "reminded_on": None, "escalated_on": None, "resolved_at": None},
            where=deadlines.c.deadline != stmt.excluded.deadline), watched)
    # A clue screened again as anything but a transfer is no longer the unit's to answer for.
    if settled := [e.clue_id for e, _ in events if e.decision != "transfer"]:
        await session.execute(
            update(deadlines)
            .where(deadlines.c.kind == "transfer", deadlines.c.ref_id.in_(settled), deadlines.c.resolved_at.is_(None))
            .values(resolved_at=now))


def _reporter_channels(notifier: Notifier, reporter, opened: list[audit.Entry]) -> dict[str, str]:
    """The named reporter's channels; opening the sealed contact is an audit entry (why, never the contact)."""
    try:
        contact = open_contact(notifier, reporter.clue_id, reporter.contact_kid, reporter.contact_nonce,
                               reporter.contact_ciphertext)
    except ContactUnavailable as exc:
        log.warning("reporter contact unusable; receipt page only",
                    extra={"clue_id": str(reporter.clue_id), "reason": str(exc)})
        return {}
    opened.append(audit.Entry(actor="notification", action="open_contact", entity_type="clue",
                              entity_id=str(reporter.clue_id),
                              details={"purpose": "queue", "channels": sorted(CONTACT_CHANNELS[k] for k in contact)}))
    return reporter_addresses(notifier, contact)


def _queued(rows: list[dict], now) -> list[dict]:
    """Queued rows with the receipt's columns too: one executemany needs the same keys in every row."""
    return [{**row, "attempts": 0, "sent_at": None, "updated_at": now} for row in rows]

