"""Events accountability consumes: triaged clues, the unit directory, evaluation results (as proposals)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.drives import SelfCheckReferred
from services.common.contracts.evaluation import ResultsPublished
from services.common.contracts.triage import ClueTriaged, UnitUpserted
from services.common.events import CloudEvent
from services.common.outbox import Outbox

from services.common.consumer import Handler, SetHandler

from .service import clue_cases, consequences, proposals, self_check_referrals


def build_handlers(outbox: Outbox) -> dict[type, Handler]:
    """Handlers bound to the app's outbox (its table and topic prefix), as the routes use it."""

    async def on_clues_triaged(session: AsyncSession, events: Sequence[tuple[ClueTriaged, CloudEvent]]) -> None:
        # Set-based: a daily run's thousands of triaged clues settle a poll at a time.
        await clue_cases.open_cases_from_clues(session, outbox, [event for event, _ in events])

    async def on_unit_upserted(session: AsyncSession, event: UnitUpserted, envelope: CloudEvent) -> None:
        await consequences.upsert_unit(session, event)

    async def on_results_published(session: AsyncSession, event: ResultsPublished, envelope: CloudEvent) -> None:
        # Consequences become proposals for the competent officer, never decided measures (R-AC-14).
        await proposals.propose_from_evaluation(session, event)

    async def on_self_check_referred(session: AsyncSession, event: SelfCheckReferred, envelope: CloudEvent) -> None:
        await self_check_referrals.propose_from_self_check(session, event)

    return {ClueTriaged: SetHandler(on_clues_triaged), UnitUpserted: on_unit_upserted,
            ResultsPublished: on_results_published, SelfCheckReferred: on_self_check_referred}
