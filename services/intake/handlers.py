"""Events intake consumes to keep each clue's status and the feedback shown on the receipt page."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.consumer import Handler
from services.common.contracts.accountability import CaseClosed, CaseConcluded
from services.common.contracts.base import EventContract
from services.common.contracts.notification import ReporterFeedbackIssued
from services.common.contracts.transfers import TransferConcluded
from services.common.contracts.triage import ClueTriaged, UnitUpserted
from services.common.events import CloudEvent

from . import catalog, service


async def on_clue_triaged(session: AsyncSession, event: ClueTriaged, envelope: CloudEvent) -> None:
    await service.move_status(session, clue_ids=[event.clue_id],
                              to=catalog.TRIAGE_DECISION_STATUS[event.decision], at=envelope.time,
                              deadline=event.deadline, unit_id=event.unit_id, family=event.family)


async def on_case_concluded(session: AsyncSession, event: CaseConcluded, envelope: CloudEvent) -> None:
    await service.move_status(session, clue_ids=event.clue_ids, to="concluded", at=event.concluded_at)


async def on_case_closed(session: AsyncSession, event: CaseClosed, envelope: CloudEvent) -> None:
    await service.move_status(session, clue_ids=event.clue_ids, to="closed", at=event.closed_at)


async def on_transfer_concluded(session: AsyncSession, event: TransferConcluded, envelope: CloudEvent) -> None:
    """The unit's result was accepted: the clue is concluded as the reporter sees it."""
    await service.move_status(session, clue_ids=[event.clue_id], to="concluded", at=event.concluded_at)


async def on_reporter_feedback(session: AsyncSession, event: ReporterFeedbackIssued, envelope: CloudEvent) -> None:
    await service.record_feedback(session, clue_id=event.clue_id, stage=event.stage, message=event.message,
                                  issued_at=event.issued_at)


async def on_unit_upserted(session: AsyncSession, event: UnitUpserted, envelope: CloudEvent) -> None:
    await service.record_unit_name(session, unit_id=event.unit_id, name=event.name)


HANDLERS: dict[type[EventContract], Handler] = {
    UnitUpserted: on_unit_upserted,
    ClueTriaged: on_clue_triaged,
    CaseConcluded: on_case_concluded,
    CaseClosed: on_case_closed,
    TransferConcluded: on_transfer_concluded,
    ReporterFeedbackIssued: on_reporter_feedback,
}
