"""Intake service: FastAPI factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.common.app import ServiceSpec, build_service_app
from services.common.contracts.intake import ClueReceived

from . import citizen_pages, open311, pages
from .api import router
from .attachments import blob_store, staging_dir
from .handlers import HANDLERS
from .models import metadata
from .receipts import RateLimiter
from .settings import IntakeSettings, get_settings


async def prepare_storage(app: FastAPI) -> None:
    settings: IntakeSettings = app.state.settings
    staging_dir(settings).mkdir(parents=True, exist_ok=True, mode=0o700)
    Path(settings.data_dir).chmod(0o700)
    app.state.blobs = blob_store(settings)
    app.state.receipt_limiter = RateLimiter(settings.receipt_lookups_per_minute)


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    return build_service_app(
        ServiceSpec(
            name="intake",
            settings=settings or get_settings(),
            metadata=metadata,
            routers=[router, pages.router, citizen_pages.router, open311.router],
            produces=[ClueReceived],
            handlers=HANDLERS,
            on_startup=[prepare_storage],
            title="zuofeng intake",
            description="Clues in: hotline feeds, QR posters, staff channels, Open311; receipts.",
        )
    )
