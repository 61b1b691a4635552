"""The transfer's way back as the unit and the reporter hear it (triage decides; notification tells).

- result filed: the unit has answered, so its deadline stops being watched (escalation is for a deadline
  that truly passes with no answer, not for every transfer);
- returned (退回重办): the unit is told why and by when, and the new deadline is watched afresh;
- concluded: the reporter hears the outcome and is asked to rate the handling; the unit hears it passed;
- re-screened away from ``transfer`` (e.g. an officer opened a case instead): the watch is settled.
"""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.transfers import TransferConcluded, TransferResultFiled, TransferReturned
from services.common.contracts.triage import ClueTriaged
from services.common.ids import new_id

from ..models import deadlines
from .core import Notifier, feedback_to_reporter, notify_unit, now_utc
from .ratings import request_rating


async def _settle(session: AsyncSession, clue_id: uuid.UUID) -> None:
    await session.execute(
        update(deadlines)
        .where(deadlines.c.kind == "transfer", deadlines.c.ref_id == clue_id, deadlines.c.resolved_at.is_(None))
        .values(resolved_at=now_utc()))


async def transfer_result_filed(session: AsyncSession, *, notifier: Notifier, event: TransferResultFiled,
                                source: str) -> None:
    await _settle(session, event.clue_id)


async def transfer_returned(session: AsyncSession, *, notifier: Notifier, event: TransferReturned,
                            source: str) -> None:
    """退回重办: the unit's notice, and its new deadline watched from scratch (reminder, escalation)."""
    await notify_unit(session, notifier=notifier, unit_id=event.unit_id, template="transfer_returned",
                      source=source, clue_id=event.clue_id, tracking_number=event.tracking_number,
                      reason=event.reason, deadline=event.deadline, working_days=event.working_days,
                      round=event.round)
    values = {"unit_id": event.unit_id, "deadline": event.deadline, "label": event.tracking_number,
              "clue_id": event.clue_id, "reminded_on": None, "escalated_on": None, "resolved_at": None}
    await session.execute(
        pg_insert(deadlines).values(id=new_id(), kind="transfer", ref_id=event.clue_id, **values)
        .on_conflict_do_update(index_elements=["kind", "ref_id"], set_=values))


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
