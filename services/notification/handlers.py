"""Events notification consumes. Each handler runs in the consumer's transaction (inbox-deduplicated);
it only records and queues, never sends: sending is the delivery worker's, outside this transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.consumer import Handler, SetHandler
from services.common.contracts.accountability import (
    CaseClosed,
    CaseConcluded,
    RectificationAssigned,
    RectificationOverdue,
    TypicalCasePublished,
)
from services.common.contracts.drives import DriveTaskAssigned, DriveTaskReported, SelfCheckReviewClosed
from services.common.contracts.inspections import (
    InspectionBulletinRequested,
    InspectionPlanned,
    InspectionResultReported,
)
from services.common.contracts.evaluation import ResultsPublished, VoterCodeRequested
from services.common.contracts.intake import ClueReceived
from services.common.contracts.transfers import TransferConcluded, TransferResultFiled, TransferReturned
from services.common.contracts.triage import (
    ClueTriaged,
    DailySheetPublished,
    UnitUpserted,
)
from services.common.events import CloudEvent

from . import service
from .service import Notifier
from .service import drives as drive_tasks
from .service import inspections
from .service import reviews as review_rounds
from .service import routing
from .service import transfers as transfer_loop
from .service.voters import send_voter_code


def build_handlers(notifier: Notifier) -> dict[type, Handler]:
    async def on_drive_task_assigned(session: AsyncSession, event: DriveTaskAssigned, envelope: CloudEvent) -> None:
        await drive_tasks.assign(session, notifier=notifier, event=event, source=envelope.id)

    async def on_drive_task_reported(session: AsyncSession, event: DriveTaskReported, envelope: CloudEvent) -> None:
        await drive_tasks.reported(session, event=event)

    async def on_inspection_planned(session: AsyncSession, event: InspectionPlanned, envelope: CloudEvent) -> None:
        await inspections.planned(session, event=event)

    async def on_inspection_result_reported(session: AsyncSession, event: InspectionResultReported,
                                            envelope: CloudEvent) -> None:
        await inspections.reported(session, event=event)

    async def on_inspection_bulletin_requested(session: AsyncSession, event: InspectionBulletinRequested,
                                               envelope: CloudEvent) -> None:
        await inspections.draft_bulletin(session, notifier=notifier, event=event)

    async def on_review_closed(session: AsyncSession, event: SelfCheckReviewClosed, envelope: CloudEvent) -> None:
        await review_rounds.draft_bulletin(session, notifier=notifier, event=event)

    async def on_unit_upserted(session: AsyncSession, event: UnitUpserted, envelope: CloudEvent) -> None:
        await service.record_unit(session, event=event, data=envelope.data)

    async def on_clue_received(session: AsyncSession, event: ClueReceived, envelope: CloudEvent) -> None:
        await service.acknowledge_clue(session, notifier=notifier, event=event, source=envelope.id)

    async def on_clues_triaged(session: AsyncSession, events: Sequence[tuple[ClueTriaged, CloudEvent]]) -> None:
        # Set-based: a daily run's thousands of triaged clues are routed a poll at a time.
        await routing.route_clues(session, notifier=notifier, events=[(e, envelope.id) for e, envelope in events])

    async def on_case_concluded(session: AsyncSession, event: CaseConcluded, envelope: CloudEvent) -> None:
        await service.conclude_case(session, notifier=notifier, event=event, source=envelope.id)

    async def on_case_closed(session: AsyncSession, event: CaseClosed, envelope: CloudEvent) -> None:
        await service.close_case(session, notifier=notifier, event=event, source=envelope.id)

    async def on_rectification_assigned(
        session: AsyncSession, event: RectificationAssigned, envelope: CloudEvent
    ) -> None:
        await service.assign_rectification(session, notifier=notifier, event=event, source=envelope.id)

    async def on_rectification_overdue(
        session: AsyncSession, event: RectificationOverdue, envelope: CloudEvent
    ) -> None:
        await service.rectification_overdue(session, notifier=notifier, event=event, source=envelope.id)

    async def on_typical_case_published(
        session: AsyncSession, event: TypicalCasePublished, envelope: CloudEvent
    ) -> None:
        await service.publish_typical_case(session, notifier=notifier, event=event, source=envelope.id)

    async def on_daily_sheet_published(
        session: AsyncSession, event: DailySheetPublished, envelope: CloudEvent
    ) -> None:
        await service.record_daily_sheet(session, notifier=notifier, event=event, source=envelope.id)

    async def on_results_published(session: AsyncSession, event: ResultsPublished, envelope: CloudEvent) -> None:
        await service.publish_results(session, notifier=notifier, event=event, source=envelope.id)

    async def on_transfer_result_filed(session: AsyncSession, event: TransferResultFiled,
                                       envelope: CloudEvent) -> None:
        await transfer_loop.transfer_result_filed(session, notifier=notifier, event=event, source=envelope.id)

    async def on_transfer_returned(session: AsyncSession, event: TransferReturned, envelope: CloudEvent) -> None:
        await transfer_loop.transfer_returned(session, notifier=notifier, event=event, source=envelope.id)

    async def on_transfer_concluded(session: AsyncSession, event: TransferConcluded, envelope: CloudEvent) -> None:
        await transfer_loop.transfer_concluded(session, notifier=notifier, event=event, source=envelope.id)

    async def on_voter_code_requested(session: AsyncSession, event: VoterCodeRequested,
                                      envelope: CloudEvent) -> None:
        await send_voter_code(session, notifier=notifier, event=event, source=envelope.id)

    return {
        VoterCodeRequested: on_voter_code_requested,
        UnitUpserted: on_unit_upserted,
        ClueReceived: on_clue_received,
        ClueTriaged: SetHandler(on_clues_triaged),
        CaseConcluded: on_case_concluded,
        CaseClosed: on_case_closed,
        RectificationAssigned: on_rectification_assigned,
        RectificationOverdue: on_rectification_overdue,
        TypicalCasePublished: on_typical_case_published,
        DailySheetPublished: on_daily_sheet_published,
        ResultsPublished: on_results_published,
        TransferResultFiled: on_transfer_result_filed,
        TransferReturned: on_transfer_returned,
        TransferConcluded: on_transfer_concluded,
        DriveTaskAssigned: on_drive_task_assigned,
        DriveTaskReported: on_drive_task_reported,
        InspectionPlanned: on_inspection_planned,
        InspectionResultReported: on_inspection_result_reported,
        InspectionBulletinRequested: on_inspection_bulletin_requested,
        SelfCheckReviewClosed: on_review_closed,
    }
