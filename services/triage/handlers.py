"""Events triage consumes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.consumer import Handler
from services.common.contracts.accountability import BenchmarkCasePublished
from services.common.contracts.intake import ClueReceived
from services.common.events import CloudEvent
from services.common.outbox import Outbox

from . import kept, service


def build_handlers(outbox: Outbox) -> dict[type, Handler]:
    """Handlers bound to the app's outbox: a clue the commission keeps is screened on arrival (kept.py)."""

    async def on_clue_received(session: AsyncSession, event: ClueReceived, envelope: CloudEvent) -> None:
        await service.record_received_clue(session, event)
        await kept.keep(session, outbox, event)

    async def on_benchmark_case_published(session: AsyncSession, event: BenchmarkCasePublished,
                                          envelope: CloudEvent) -> None:
        await service.record_benchmark_case(session, event, source="accountability")

    return {ClueReceived: on_clue_received, BenchmarkCasePublished: on_benchmark_case_published}
