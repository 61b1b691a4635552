"""Events accountability consumes: triaged clues, the unit directory, evaluation results."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.evaluation import ResultsPublished
from services.common.contracts.triage import ClueTriaged, UnitUpserted
from services.common.events import CloudEvent
from services.common.outbox import Outbox

from .service import cases, consequences
from .settings import get_settings

_outbox: Outbox | None = None


def bind_outbox(outbox: Outbox) -> None:
    """Handlers publish through the app's outbox (same table, same topic prefix as the routes)."""
    global _outbox
    _outbox = outbox


def outbox() -> Outbox:
    if _outbox is None:
        from .models import outbox as table

        return Outbox(table, get_settings())
    return _outbox


async def on_clue_triaged(session: AsyncSession, event: ClueTriaged, envelope: CloudEvent) -> None:
    await cases.open_case_from_clue(session, outbox(), event)


async def on_unit_upserted(session: AsyncSession, event: UnitUpserted, envelope: CloudEvent) -> None:
    await consequences.upsert_unit(session, event)


async def on_results_published(session: AsyncSession, event: ResultsPublished, envelope: CloudEvent) -> None:
    await consequences.apply_evaluation_results(session, outbox(), event)


HANDLERS = {ClueTriaged: on_clue_triaged, UnitUpserted: on_unit_upserted, ResultsPublished: on_results_published}
