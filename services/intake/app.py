"""Intake service: FastAPI factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.common.app import ServiceSpec, build_service_app
from services.common.contracts.inspections import (
    InspectionFindingRecorded,
    InspectionPlanned,
    InspectionResultReported,
)
from services.common.contracts.intake import ClueReceived
from services.common.limits import BodyLimit
from services.common.outbox import Outbox

from . import citizen_pages, inspection_api, open311, pages, project_checks
from .api import router
from .attachments import blob_store, staging_dir
from .callbacks import callback_worker
from .handlers import HANDLERS
from .models import metadata, outbox
from .receipts import RateLimiter
from .settings import IntakeSettings, get_settings


async def prepare_storage(app: FastAPI) -> None:
    settings: IntakeSettings = app.state.settings
    staging_dir(settings).mkdir(parents=True, exist_ok=True, mode=0o700)  # noqa: ASYNC240 — at start-up
    Path(settings.data_dir).chmod(0o700)  # noqa: ASYNC240 — once at start-up, before serving
    app.state.blobs = blob_store(settings)
    app.state.receipt_limiter = RateLimiter(settings.receipt_lookups_per_minute)


def body_limits(settings: IntakeSettings) -> list[BodyLimit]:
    """The QR form carries its attachments; a hotline batch up to 500 tickets; everything else is one
    small JSON body or form (a report's text is at most 20 000 characters)."""
    return [
        BodyLimit("/api/v1/intake/qr/", settings.attachment_max_count * settings.attachment_max_bytes + (1 << 20)),
        BodyLimit("/api/v1/intake/inspections/plans/*/visits",
                  settings.attachment_max_count * settings.attachment_max_bytes + (1 << 20)),
        BodyLimit("/api/v1/intake/feeds/*/reports:batch", settings.batch_body_max_bytes),
        BodyLimit("/", settings.body_max_bytes),
    ]


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return build_service_app(
        ServiceSpec(
            name="intake",
            settings=settings,
            metadata=metadata,
            routers=[router, inspection_api.router, pages.router, citizen_pages.router, open311.router,
                     open311.discovery_router],
            produces=[ClueReceived, InspectionPlanned, InspectionFindingRecorded, InspectionResultReported],
            handlers={**HANDLERS, **project_checks.handlers(Outbox(outbox, settings), settings)},
            workers=[callback_worker],
            on_startup=[prepare_storage],
            title="zuofeng intake",
            description="Clues in: hotline feeds, QR posters, staff channels, Open311; receipts.",
            body_limits=body_limits(settings),
        )
    )
