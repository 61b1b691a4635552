"""Evaluation service: FastAPI factory."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.app import ServiceSpec, build_service_app
from services.common.contracts.drives import (
    DriveTaskAssigned,
    DriveTaskReported,
    FeedbackHandedDown,
    SelfCheckReferred,
    SelfCheckReviewClosed,
)
from services.common.contracts.evaluation import ResultsPublished, VoterCodeRequested

from . import drive_models  # noqa: F401 — registers the drives' tables
from .api import router
from .export_api import router as export_router
from .drive_api import router as drive_router
from .feedback_api import router as feedback_router
from .pages import router as pages_router
from .review_api import router as review_router
from .self_check_api import router as self_check_router
from .handlers import HANDLERS
from .models import metadata
from .settings import EvaluationSettings, get_settings


def create_app(settings: EvaluationSettings | None = None) -> FastAPI:
    return build_service_app(
        ServiceSpec(
            name="evaluation",
            settings=settings or get_settings(),
            metadata=metadata,
            routers=[drive_router, feedback_router, self_check_router, review_router, export_router, router,
                     pages_router],
            produces=[ResultsPublished, VoterCodeRequested, DriveTaskAssigned, DriveTaskReported,
                      SelfCheckReferred, FeedbackHandedDown, SelfCheckReviewClosed],
            handlers=HANDLERS,
            title="zuofeng evaluation",
            description="万人评机关 campaigns, ballots, scores, rankings (十优/十差), grades, consequences.",
        )
    )
