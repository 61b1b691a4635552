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
from .handlers import HANDLERS, bind_outbox
from .models import metadata
from .settings import AccountabilitySettings, get_settings
from .workers import overdue_detector


async def _bind_outbox(app: FastAPI) -> None:
    bind_outbox(app.state.outbox)


def create_app(settings: AccountabilitySettings | None = None) -> FastAPI:
    return build_service_app(
        ServiceSpec(
            name="accountability",
            settings=settings or get_settings(),
            metadata=metadata,
            routers=[router],
            produces=[BenchmarkCasePublished, CaseClosed, CaseConcluded, CaseOpened, RectificationAssigned,
                      RectificationOverdue, TypicalCasePublished, UnitAwardIneligible],
            handlers=HANDLERS,
            workers=[overdue_detector],
            on_startup=[_bind_outbox],
            title="zuofeng accountability",
            description="Cases, persons, measures, 一案双查, 容错免责, rectification ledger, statistics.",
        )
    )
