"""Events the notification service produces."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from .base import EventContract, Id


class FeedbackReceived(EventContract):
    """The reporter rated how the clue was handled (used by evaluation's data indicators)."""

    service: ClassVar[str] = "notification"
    event: ClassVar[str] = "feedback-received"
    key_field: ClassVar[str] = "clue_id"

    clue_id: Id
    case_id: Id | None = None
    unit_id: str | None = None
    rating: int = Field(ge=1, le=5)
    received_at: datetime
    comment: str | None = None  # the reporter's own words (意见), for the units' rectification


class ReporterFeedbackIssued(EventContract):
    """A message for the reporter; intake shows it on the anonymous receipt page."""

    service: ClassVar[str] = "notification"
    event: ClassVar[str] = "reporter-feedback-issued"
    key_field: ClassVar[str] = "clue_id"

    clue_id: Id
    stage: str  # received / triaged / transfer-concluded / concluded / closed / rating-request / rating-reminder
    message: str
    issued_at: datetime
