"""Events triage consumes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.consumer import Handler
from services.common.contracts.accountability import BenchmarkCasePublished, CaseOpened
from services.common.contracts.intake import ClueReceived
from services.common.events import CloudEvent
from services.common.outbox import Outbox

from . import kept, projects, service
from .daily_run import screen_on_arrival
from .settings import TriageSettings


def build_handlers(settings: TriageSettings, outbox: Outbox) -> dict[type, Handler]:
    """Handlers bound to the app's settings (its topic prefix and cut-off, for 即查即办) and outbox: a clue
    the commission keeps is screened on arrival (kept.py), a clue or case of a key project is linked to it
    (projects.py)."""

    async def on_clue_received(session: AsyncSession, event: ClueReceived, envelope: CloudEvent) -> None:
        verdict = await service.record_received_clue(session, event, model_dir=settings.classifier_dir)
        if not await kept.keep(session, outbox, event) and verdict is not None \
                and service.screened_on_arrival(verdict, event.enterprise_related, settings):
            await screen_on_arrival(session, event.clue_id, settings)  # in the same transaction as the copy
        # key projects (R-SU-5): a phone check's clue, or a clue naming a project (in-memory matcher)
        await projects.link_arriving_clue(session, event)
        await projects.link_by_mention(session, outbox, event,
                                       list(verdict.triggers) if verdict is not None else None)

    async def on_case_opened(session: AsyncSession, event: CaseOpened, envelope: CloudEvent) -> None:
        await projects.link_case(session, event)

    async def on_benchmark_case_published(session: AsyncSession, event: BenchmarkCasePublished,
                                          envelope: CloudEvent) -> None:
        await service.record_benchmark_case(session, event, source="accountability")

    return {ClueReceived: on_clue_received, BenchmarkCasePublished: on_benchmark_case_published,
            CaseOpened: on_case_opened}
