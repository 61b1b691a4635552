"""Request and response bodies of the intake API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class HotlineReportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    external_id: str = Field(min_length=1, max_length=128, description="The hotline's own ticket id")
    text: str = Field(min_length=1, max_length=20000, description="What was reported")
    subject: str | None = Field(None, max_length=500, description="Official or office complained about")
    unit_id: str | None = Field(None, max_length=64)
    place: str | None = Field(None, max_length=500)
    enterprise_related: bool = False


class ClueRead(BaseModel):
    id: uuid.UUID
    tracking_number: str
    channel: str
    external_id: str | None
    status: str
    received_at: datetime
