"""Events evaluation consumes: the unit directory, and the facts behind 大数据评议 (data indicators)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.calendar import SHANGHAI
from services.common.contracts.accountability import (
    CaseConcluded,
    RectificationOverdue,
    UnitAwardIneligible,
)
from services.common.contracts.notification import FeedbackReceived
from services.common.contracts.triage import ClueTriaged, UnitUpserted
from services.common.events import CloudEvent

from . import service

# A clue counts as a complaint against its unit when it was accepted or transferred; a merged duplicate or
# a clue set aside does not (the same clue from three channels is one complaint).
COUNTED_DECISIONS = {"accept", "transfer"}
SUBSTANTIATED = {"substantiated", "partly_substantiated"}


def _day(at: datetime | None, fallback: date) -> date:
    return at.astimezone(SHANGHAI).date() if at is not None else fallback


async def on_unit_upserted(session: AsyncSession, event: UnitUpserted, envelope: CloudEvent) -> None:
    await service.upsert_directory_unit(
        session, unit_id=event.unit_id, name=event.name, category=event.category,
        key_section=event.key_section, active=event.active)


async def on_clue_triaged(session: AsyncSession, event: ClueTriaged, envelope: CloudEvent) -> None:
    unit = event.unit_id if event.decision in COUNTED_DECISIONS else None
    await service.put_complaint(session, key=f"complaint:{event.clue_id}", unit_id=unit,
                                occurred_on=_day(event.received_at, event.run_date))


async def on_case_concluded(session: AsyncSession, event: CaseConcluded, envelope: CloudEvent) -> None:
    unit = event.unit_id if event.finding in SUBSTANTIATED and event.counts_against_unit else None
    await service.put_fact(session, key=f"substantiated:{event.case_id}", unit_id=unit, kind="substantiated",
                           value=1, occurred_on=_day(event.concluded_at, envelope.time.date()))
    # 不属实 and 了结: the complaints behind the case are not held against the unit (R-AC-12).
    await service.count_complaints(session, keys=[f"complaint:{c}" for c in event.clue_ids], unit_id=event.unit_id,
                                   counted=event.counts_against_unit,
                                   occurred_on=_day(event.concluded_at, envelope.time.date()))


async def on_rectification_overdue(session: AsyncSession, event: RectificationOverdue, envelope: CloudEvent) -> None:
    await service.put_fact(session, key=f"overdue:{event.rectification_id}", unit_id=event.unit_id,
                           kind="overdue_rectification", value=1, occurred_on=_day(event.detected_at, event.deadline))


async def on_feedback_received(session: AsyncSession, event: FeedbackReceived, envelope: CloudEvent) -> None:
    # The reporter's latest rating of a clue replaces an earlier one.
    await service.put_fact(session, key=f"feedback:{event.clue_id}", unit_id=event.unit_id, kind="feedback",
                           value=event.rating, occurred_on=_day(event.received_at, envelope.time.date()))


async def on_unit_award_ineligible(session: AsyncSession, event: UnitAwardIneligible, envelope: CloudEvent) -> None:
    await service.put_fact(session, key=f"award_ineligible:{event.unit_id}:{event.year}:{event.case_id}",
                           unit_id=event.unit_id, kind="award_ineligible", value=1,
                           occurred_on=date(event.year, 1, 1))


HANDLERS: dict = {
    UnitUpserted: on_unit_upserted,
    ClueTriaged: on_clue_triaged,
    CaseConcluded: on_case_concluded,
    RectificationOverdue: on_rectification_overdue,
    FeedbackReceived: on_feedback_received,
    UnitAwardIneligible: on_unit_award_ineligible,
}
