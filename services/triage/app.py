"""Triage service: FastAPI factory."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.app import ServiceSpec, build_service_app
from services.common.contracts.triage import ClueTriaged, DailySheetPublished, UnitUpserted

from .api import router
from .runs import daily_run_scheduler
from .handlers import build_handlers
from .models import metadata
from .settings import TriageSettings, get_settings
from .startup import seed_reference_data


def create_app(settings: TriageSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return build_service_app(
        ServiceSpec(
            name="triage",
            settings=settings,
            metadata=metadata,
            routers=[router],
            produces=[ClueTriaged, DailySheetPublished, UnitUpserted],
            handlers=build_handlers(settings),
            workers=[daily_run_scheduler],
            on_startup=[seed_reference_data],
            title="zuofeng triage",
            description="Daily sort and screen, taxonomy, unit directory, routing, duplicates.",
        )
    )
