"""Accountability service: FastAPI factory."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.app import ServiceSpec, build_service_app
from services.common.contracts.accountability import (
    BenchmarkCasePublished,
    CaseClosed,
    CaseConcluded,
    CaseOpened,
    RectificationAssigned,
    RectificationOverdue,
    TypicalCasePublished,
    UnitAwardIneligible,
)

from .api import router
from .export_api import router as export_router
from services.common.outbox import Outbox

from .handlers import build_handlers
from .models import metadata, outbox
from .settings import AccountabilitySettings, get_settings
from .workers import overdue_detector


def create_app(settings: AccountabilitySettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return build_service_app(
        ServiceSpec(
            name="accountability",
            settings=settings,
            metadata=metadata,
            routers=[export_router, router],  # exports first: /bulletins/{month}.docx before /bulletins/{month}
            produces=[BenchmarkCasePublished, CaseClosed, CaseConcluded, CaseOpened, RectificationAssigned,
                      RectificationOverdue, TypicalCasePublished, UnitAwardIneligible],
            handlers=build_handlers(Outbox(outbox, settings)),
            workers=[overdue_detector],
            title="zuofeng accountability",
            description="Cases, persons, measures, 一案双查, 容错免责, rectification ledger, statistics.",
        )
    )
