"""Intake service: FastAPI factory."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.app import ServiceSpec, build_service_app
from services.common.contracts.intake import ClueReceived

from .api import router
from .handlers import HANDLERS
from .models import metadata
from .settings import IntakeSettings, get_settings


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    return build_service_app(
        ServiceSpec(
            name="intake",
            settings=settings or get_settings(),
            metadata=metadata,
            routers=[router],
            produces=[ClueReceived],
            handlers=HANDLERS,
            title="zuofeng intake",
            description="Clues in: hotline feeds, QR posters, staff channels, Open311; receipts.",
        )
    )
