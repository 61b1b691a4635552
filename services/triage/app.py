"""Triage service: FastAPI factory."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.app import ServiceSpec, build_service_app
from services.common.outbox import Outbox
from services.common.contracts.projects import KeyProjectChecked, KeyProjectRegistered, KeyProjectTriggerRaised
from services.common.contracts.transfers import TransferConcluded, TransferResultFiled, TransferReturned
from services.common.contracts.triage import ClueTriaged, DailySheetPublished, UnitUpserted

from .api import router
from .handlers import build_handlers
from .models import metadata, outbox
from .project_api import router as project_router
from .runs import daily_run_scheduler
from .settings import TriageSettings, get_settings
from .startup import seed_reference_data
from .stats_api import router as stats_router
from .transfer_api import router as transfer_router


def create_app(settings: TriageSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return build_service_app(
        ServiceSpec(
            name="triage",
            settings=settings,
            metadata=metadata,
            routers=[transfer_router, project_router, stats_router, router],
            produces=[ClueTriaged, DailySheetPublished, UnitUpserted,
                      TransferResultFiled, TransferReturned, TransferConcluded,
                      KeyProjectRegistered, KeyProjectChecked, KeyProjectTriggerRaised],
            handlers=build_handlers(settings, Outbox(outbox, settings)),
            workers=[daily_run_scheduler],
            on_startup=[seed_reference_data],
            title="zuofeng triage",
            description="Daily sort and screen, taxonomy, unit directory, routing, duplicates.",
        )
    )
