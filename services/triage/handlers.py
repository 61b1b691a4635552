"""Events triage consumes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.accountability import BenchmarkCasePublished
from services.common.contracts.intake import ClueReceived
from services.common.events import CloudEvent

from . import service
from .settings import get_settings


async def on_clue_received(session: AsyncSession, event: ClueReceived, envelope: CloudEvent) -> None:
    await service.record_received_clue(session, event, model_dir=get_settings().classifier_dir)


async def on_benchmark_case_published(session: AsyncSession, event: BenchmarkCasePublished,
                                      envelope: CloudEvent) -> None:
    await service.record_benchmark_case(session, event, source="accountability")


HANDLERS = {ClueReceived: on_clue_received, BenchmarkCasePublished: on_benchmark_case_published}
