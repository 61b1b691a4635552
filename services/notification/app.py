"""Notification service: FastAPI factory."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.app import ServiceSpec, build_service_app
from services.common.contracts.notification import FeedbackReceived, ReporterFeedbackIssued

from .api import router
from .handlers import HANDLERS
from .models import metadata
from .settings import NotificationSettings, get_settings


def create_app(settings: NotificationSettings | None = None) -> FastAPI:
    return build_service_app(
        ServiceSpec(
            name="notification",
            settings=settings or get_settings(),
            metadata=metadata,
            routers=[router],
            produces=[FeedbackReceived, ReporterFeedbackIssued],
            handlers=HANDLERS,
            title="zuofeng notification",
            description="Reporter feedback, unit reminders and escalation, bulletins, deliveries.",
        )
    )
