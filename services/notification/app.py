"""Notification service: FastAPI factory."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.app import ServiceSpec, build_service_app
from services.common.contracts.notification import (
    FeedbackReceived,
    ReporterFeedbackIssued,
)
from services.common.outbox import Outbox

from .api import router
from .rating_api import router as rating_router
from .delivery import delivery_worker
from .handlers import build_handlers
from .models import metadata, outbox
from .schedule import schedule_worker
from .service import Notifier
from .settings import NotificationSettings, get_settings


def create_app(settings: NotificationSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # Built here, not in a startup hook, because the consumer's handlers need it when the app is assembled.
    notifier = Notifier.from_settings(settings, Outbox(outbox, settings))

    async def provide_notifier(app: FastAPI) -> None:
        app.state.notifier = notifier

    app = build_service_app(
        ServiceSpec(
            name="notification",
            settings=settings,
            metadata=metadata,
            routers=[router, rating_router],
            produces=[FeedbackReceived, ReporterFeedbackIssued],
            handlers=build_handlers(notifier),
            workers=[delivery_worker, schedule_worker],
            on_startup=[provide_notifier],
            title="zuofeng notification",
            description="Reporter feedback, unit reminders and escalation, bulletins, deliveries.",
        )
    )
    app.state.notifier = notifier
    return app
