"""Notification's request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class InboxMessageRead(_Read):
    id: uuid.UUID
    unit_id: str
    template: str
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None = None


class InboxList(BaseModel):
    items: list[InboxMessageRead]
    next_cursor: str | None = None


class DeliveryRead(_Read):
    """A delivery as staff see it: the recipient is a reference, never an address; no message body."""

    id: uuid.UUID
    source: str
    template: str
    channel: str
    recipient: str
    clue_id: uuid.UUID | None = None
    unit_id: str | None = None
    subject: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None = None
    created_at: datetime
    sent_at: datetime | None = None


class DeliveryList(BaseModel):
    items: list[DeliveryRead]
    next_cursor: str | None = None


class BulletinRead(_Read):
    id: uuid.UUID
    kind: str
    title: str
    body: str
    period: str | None = None
    unit_id: str | None = None
    published_at: datetime
    status: str = "published"
    data: dict = {}


class BulletinPublish(BaseModel):
    """The reviewed wording (either may be left out to publish the draft as composed)."""

    title: str | None = Field(None, min_length=2, max_length=200)
    body: str | None = Field(None, min_length=2, max_length=20000)


class BulletinList(BaseModel):
    items: list[BulletinRead]
    next_cursor: str | None = None


class RatingRequestRead(BaseModel):
    case_number: str | None = None
    expires_at: datetime
    answered: bool
    rating: int | None = None
    comment: str | None = None


class RatingCreate(BaseModel):
    rating: int = Field(ge=1, le=5, description="1 非常不满意 … 5 非常满意")
    comment: str | None = Field(None, max_length=1000, description="意见建议（选填）")
