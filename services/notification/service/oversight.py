"""督查督办: deadlines watched, reminders before them and escalation to the supervising office after."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.accountability import RectificationAssigned, RectificationOverdue
from services.common.ids import new_id

from ..models import deadlines
from .core import Notifier, notify_office, notify_unit, today_local, unit_name


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


async def assign_rectification(
    session: AsyncSession, *, notifier: Notifier, event: RectificationAssigned, source: str
) -> None:
    """整改交办: notify the unit and watch the deadline."""
    await notify_unit(session, notifier=notifier, unit_id=event.unit_id, template="rectification_assigned",
                      source=source, task=event.task, deadline=event.deadline, responsible=event.responsible,
                      case_number=event.case_number)
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
    counts = {"reminded": 0, "escalated": 0, "escalated_transfer": 0}
    # the office-only kinds (an inspection team's deadline never reaches a unit); imported here, since
    # inspections.py builds on this module's watch_deadline
    from . import inspections

    for watch in due:
        office_only = watch.kind in inspections.OFFICE_KINDS
        if watch.deadline < today and cal.working_days_between(watch.deadline, today) >= s.escalate_working_days_after:
            if office_only:
                await inspections.escalate(session, notifier=notifier, watch=watch, today=today)
            else:
                await escalate(session, notifier=notifier, watch=watch, today=today)
            counts["escalated"] += 1
            counts["escalated_transfer"] += watch.kind == "transfer"
            continue
        left = cal.working_days_between(today, watch.deadline)
        if watch.reminded_on is None and 0 <= left <= s.remind_working_days_before and office_only:
            await inspections.remind(session, notifier=notifier, watch=watch, working_days_left=left)
            await session.execute(update(deadlines).where(deadlines.c.id == watch.id).values(reminded_on=today))
            counts["reminded"] += 1
        elif watch.reminded_on is None and 0 <= left <= s.remind_working_days_before:
            await notify_unit(session, notifier=notifier, unit_id=watch.unit_id, template="deadline_reminder",
                              source=f"reminder:{watch.id}:{watch.deadline.isoformat()}", clue_id=watch.clue_id,
                              kind=watch.kind, label=watch.label, deadline=watch.deadline, working_days_left=left)
            await session.execute(update(deadlines).where(deadlines.c.id == watch.id).values(reminded_on=today))
            counts["reminded"] += 1
    return counts
