"""Events triage consumes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.accountability import BenchmarkCasePublished
from services.common.contracts.intake import ClueReceived
from services.common.events import CloudEvent

from . import service
from .daily_run import screen_on_arrival
from .settings import TriageSettings


def build_handlers(settings: TriageSettings) -> dict:
    """The handlers, bound to the app's settings (its topic prefix and cut-off, for 即查即办)."""

    async def on_clue_received(session: AsyncSession, event: ClueReceived, envelope: CloudEvent) -> None:
        verdict = await service.record_received_clue(session, event, model_dir=settings.classifier_dir)
        if verdict is not None and service.screened_on_arrival(verdict, event.enterprise_related, settings):
            await screen_on_arrival(session, event.clue_id, settings)  # in the same transaction as the copy

    async def on_benchmark_case_published(session: AsyncSession, event: BenchmarkCasePublished,
                                          envelope: CloudEvent) -> None:
        await service.record_benchmark_case(session, event, source="accountability")

    return {ClueReceived: on_clue_received, BenchmarkCasePublished: on_benchmark_case_published}
