"""The transfer's way back as the unit and the reporter hear it (triage decides; notification tells).

- result filed: the unit has answered, so its deadline stops being watched (escalation is for a deadline
  that truly passes with no answer, not for every transfer);
- returned (退回重办): the unit is told why and by when, and the new deadline is watched afresh;
- concluded: the reporter hears the outcome and is asked to rate the handling; the unit hears it passed;
- re-screened away from ``transfer`` (e.g. an officer opened a case instead): the watch is settled.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.transfers import TransferConcluded, TransferResultFiled, TransferReturned
from services.common.contracts.triage import ClueTriaged
from services.common.ids import new_id

from ..models import deadlines
from .core import Notifier, feedback_to_reporter, notify_office, notify_unit, now_utc, unit_name
from .ratings import request_rating


async def _settle(session: AsyncSession, clue_id: uuid.UUID) -> None:
    await session.execute(
        update(deadlines)
        .where(deadlines.c.kind == "transfer", deadlines.c.ref_id == clue_id, deadlines.c.resolved_at.is_(None))
        .values(resolved_at=now_utc()))


async def transfer_result_filed(session: AsyncSession, *, notifier: Notifier, event: TransferResultFiled,
                                source: str) -> None:
    """The unit answered: its deadline is settled, and the office is asked to review the result."""
    now = now_utc()
    # Settled even if an earlier event of this clue (other topics, not ordered with this one) has not yet
    # made or reopened the watch: those find this round settled and leave it so.
    if event.deadline is not None:
        insert = pg_insert(deadlines).values(
            id=new_id(), kind="transfer", ref_id=event.clue_id, unit_id=event.unit_id, deadline=event.deadline,
            label=event.tracking_number, clue_id=event.clue_id, resolved_at=now, round=event.round)
        await session.execute(insert.on_conflict_do_update(
            index_elements=["kind", "ref_id"],
            set_={"resolved_at": func.coalesce(deadlines.c.resolved_at, now),
                  "round": func.greatest(func.coalesce(deadlines.c.round, 0), event.round)}))
    else:
        await _settle(session, event.clue_id)
    name = await unit_name(session, event.unit_id)
    await notify_office(session, notifier=notifier, template="transfer_result_filed", source=source,
                        unit_id=event.unit_id, clue_id=event.clue_id, unit_name=name,
                        tracking_number=event.tracking_number, round=event.round, on_time=event.on_time,
                        deadline=event.deadline)


async def transfer_returned(session: AsyncSession, *, notifier: Notifier, event: TransferReturned,
                            source: str) -> None:
    """退回重办: the unit's notice, and its new deadline watched from scratch (reminder, escalation)."""
    await notify_unit(session, notifier=notifier, unit_id=event.unit_id, template="transfer_returned",
                      source=source, clue_id=event.clue_id, tracking_number=event.tracking_number,
                      reason=event.reason, deadline=event.deadline, working_days=event.working_days,
                      round=event.round)
    values = {"unit_id": event.unit_id, "deadline": event.deadline, "label": event.tracking_number,
              "clue_id": event.clue_id, "reminded_on": None, "escalated_on": None, "resolved_at": None,
              "round": event.round}
    await session.execute(
        pg_insert(deadlines).values(id=new_id(), kind="transfer", ref_id=event.clue_id, **values)
        .on_conflict_do_update(index_elements=["kind", "ref_id"], set_=values,
                               where=func.coalesce(deadlines.c.round, 0) < event.round))


async def transfer_concluded(session: AsyncSession, *, notifier: Notifier, event: TransferConcluded,
                             source: str) -> None:
    """办结反馈 through the reporter's existing feedback path, then 满意度回访."""
    await _settle(session, event.clue_id)
    await feedback_to_reporter(session, notifier=notifier, clue_id=event.clue_id, stage="transfer-concluded",
                               source=source, finding=event.finding, outcome_summary=event.outcome_summary)
    await request_rating(session, notifier=notifier, clue_id=event.clue_id, source=source, unit_id=event.unit_id)
    await notify_unit(session, notifier=notifier, unit_id=event.unit_id, template="transfer_concluded",
                      source=source, clue_id=event.clue_id, tracking_number=event.tracking_number)


async def transfer_superseded(session: AsyncSession, *, event: ClueTriaged) -> None:
    """A clue screened again as anything but a transfer is no longer the unit's to answer for."""
    if event.decision != "transfer":
        await _settle(session, event.clue_id)
