"""Events accountability consumes: triaged clues, the unit directory, evaluation results (as proposals)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.evaluation import ResultsPublished
from services.common.contracts.triage import ClueTriaged, UnitUpserted
from services.common.events import CloudEvent
from services.common.outbox import Outbox

from services.common.consumer import Handler

from .service import cases, consequences, proposals


def build_handlers(outbox: Outbox) -> dict[type, Handler]:
    """Handlers bound to the app's outbox (its table and topic prefix), as the routes use it."""

    async def on_clue_triaged(session: AsyncSession, event: ClueTriaged, envelope: CloudEvent) -> None:
        await cases.open_case_from_clue(session, outbox, event)

    async def on_unit_upserted(session: AsyncSession, event: UnitUpserted, envelope: CloudEvent) -> None:
        await consequences.upsert_unit(session, event)

    async def on_results_published(session: AsyncSession, event: ResultsPublished, envelope: CloudEvent) -> None:
        # Consequences become proposals for the competent officer, never decided measures (R-AC-14).
        await proposals.propose_from_evaluation(session, event)

    return {ClueTriaged: on_clue_triaged, UnitUpserted: on_unit_upserted, ResultsPublished: on_results_published}
