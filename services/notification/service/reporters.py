"""投诉人: acknowledgement on receipt (受理回执), feedback on each outcome, and 满意度回访."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.accountability import CaseClosed, CaseConcluded
from services.common.contracts.intake import ClueReceived
from services.common.contracts.triage import ClueTriaged

from ..catalog import problem_type_label
from ..models import deadlines, deliveries, reporters
from ..rendering import Rendered
from .core import (
    ContactUnavailable,
    Notifier,
    addresses_for,
    feedback_to_reporter,
    notify_unit,
    now_utc,
    queue_message,
    unit_name,
)
from .oversight import watch_deadline
from .ratings import request_rating


async def acknowledge_clue(session: AsyncSession, *, notifier: Notifier, event: ClueReceived, source: str) -> None:
    """受理回执: remember how to reach the reporter (sealed) and acknowledge at once."""
    sealed = event.reporter_contact
    anonymous = event.anonymous or sealed is None
    stored = await session.execute(
        pg_insert(reporters)
        .values(
            clue_id=event.clue_id, tracking_number=event.tracking_number, anonymous=anonymous,
            contact_kid=None if anonymous or sealed is None else sealed.kid,
            contact_nonce=None if anonymous or sealed is None else sealed.nonce,
            contact_ciphertext=None if anonymous or sealed is None else sealed.ciphertext,
            unit_id=event.unit_id, received_at=event.received_at,
        )
        .on_conflict_do_nothing(index_elements=["clue_id"])
        .returning(*reporters.c)
    )
    # The row just stored saves feedback_to_reporter reading it back (one round trip per acknowledgement).
    await feedback_to_reporter(session, notifier=notifier, clue_id=event.clue_id, stage="received", source=source,
                               known_reporter=stored.first(), tracking_number=event.tracking_number,
                               received_at=event.received_at)
    if not anonymous:
        await _catch_up(session, notifier=notifier, clue_id=event.clue_id)


async def _catch_up(session: AsyncSession, *, notifier: Notifier, clue_id) -> None:
    """A later stage's event (another topic, so not ordered with this one) may have been handled first: its
    message is on the receipt page, but without the contact no SMS / e-mail went out. Send it now."""
    earlier = (await session.execute(
        select(deliveries.c.source, deliveries.c.template, deliveries.c.subject, deliveries.c.body)
        .where(deliveries.c.clue_id == clue_id, deliveries.c.channel == "receipt",
               deliveries.c.template != "reporter/received")
        .order_by(deliveries.c.id)
    )).all()
    if not earlier:
        return
    try:
        channels = await addresses_for(session, notifier, f"reporter:{clue_id}")
    except ContactUnavailable:
        return  # feedback_to_reporter has logged it
    for row in earlier:
        await queue_message(session, source=row.source, template=row.template, recipient=f"reporter:{clue_id}",
                            rendered=Rendered(subject=row.subject, body=row.body), channels=channels, clue_id=clue_id)


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
                      deadline=event.deadline, working_days=working_days,
                      type_label=problem_type_label(event.type_code),
                      must_investigate=event.must_investigate)
    if event.deadline:
        await watch_deadline(session, kind="transfer", ref_id=event.clue_id, unit_id=event.unit_id,
                             deadline=event.deadline, label=event.tracking_number, clue_id=event.clue_id)


async def conclude_case(session: AsyncSession, *, notifier: Notifier, event: CaseConcluded, source: str) -> None:
    """办结反馈 and 满意度回访: tell each reporter the outcome, then ask them to rate the handling."""
    for clue_id in event.clue_ids:
        await feedback_to_reporter(session, notifier=notifier, clue_id=clue_id, stage="concluded", source=source,
                                   finding=event.finding, outcome_summary=event.outcome_summary,
                                   case_number=event.case_number)
        await request_rating(session, notifier=notifier, clue_id=clue_id, source=source, case_id=event.case_id,
                             case_number=event.case_number, unit_id=event.unit_id)
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
