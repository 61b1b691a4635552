"""Request and response bodies of the triage API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


class ClueRead(BaseModel):
    id: uuid.UUID
    tracking_number: str
    channel: str
    subject: str | None
    text: str
    unit_id: str | None
    enterprise_related: bool
    received_at: datetime
    state: str


class ClueList(BaseModel):
    items: list[ClueRead]
    next_cursor: str | None = None
