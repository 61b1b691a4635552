"""Request and response bodies of the intake API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.common.text import StorableModel

MAX_BATCH = 500


class ReporterIdentity(StorableModel):
    """实名举报人: sealed at rest on arrival; never echoed, logged or published."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(None, max_length=100, repr=False)
    phone: str | None = Field(None, max_length=40, repr=False)
    id_number: str | None = Field(None, max_length=40, repr=False)
    email: str | None = Field(None, max_length=200, repr=False)

    def is_empty(self) -> bool:
        return not any((self.name, self.phone, self.id_number, self.email))

    def __repr__(self) -> str:  # keep identity out of tracebacks and debug output
        return "ReporterIdentity(<sealed>)"

    __str__ = __repr__


class ClueBase(StorableModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(min_length=1, max_length=20000, description="What was reported")
    subject: str | None = Field(None, max_length=500, description="Official or office complained about")
    unit_id: str | None = Field(None, max_length=64)
    place: str | None = Field(None, max_length=500)
    enterprise_related: bool = Field(False, description="涉企投诉 (fast lane)")
    category_hint: str | None = Field(None, max_length=100)
    reporter: ReporterIdentity | None = Field(None, description="Named reporter; omit for anonymous")


class HotlineReportCreate(ClueBase):
    """One hotline ticket, after the line's field mapping."""

    external_id: str = Field(min_length=1, max_length=128, description="The hotline's own ticket id")


class BatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reports: list[Any] = Field(min_length=1, max_length=MAX_BATCH)


StaffChannel = Literal["petition", "media", "online", "walk_in", "inspection", "mayor_line"]


class StaffReportCreate(ClueBase):
    channel: StaffChannel
    external_id: str | None = Field(None, max_length=128, description="e.g. the petition bureau's number")
    issue_receipt: bool = Field(True, description="Give an anonymous reporter a receipt code (shown once)")


class ClueRead(BaseModel):
    id: uuid.UUID
    tracking_number: str
    channel: str
    external_id: str | None
    status: str
    received_at: datetime


class ClueAccepted(ClueRead):
    """The acknowledgement (有诉必应). ``receipt_code`` appears once, in this response only."""

    receipt_code: str | None = None


class ClueForUnit(ClueRead):
    """A transferred clue as the responsible unit's handler sees it: not whether the reporter gave a name,
    nor who recorded it (services/common/scope.py)."""

    subject: str | None
    text: str
    unit_id: str | None
    place: str | None
    poster_code: str | None
    enterprise_related: bool
    attachment_count: int
    category_hint: str | None


class ClueDetail(ClueForUnit):
    anonymous: bool
    recorded_by: str | None
    # Where, as the reporter gave it (Open311): staff see it exactly; public answers coarsen it.
    address: str | None = None
    lat: float | None = None
    long: float | None = None
    media_url: str | None = None


class AttachmentRead(BaseModel):
    id: uuid.UUID
    media_type: str
    size: int
    sha256: str
    created_at: datetime


class BatchItemResult(BaseModel):
    index: int
    outcome: Literal["created", "duplicate", "rejected"]
    id: uuid.UUID | None = None
    tracking_number: str | None = None
    external_id: str | None = None
    errors: list[dict] | None = None


class BatchResult(BaseModel):
    created: int
    duplicates: int
    rejected: int
    results: list[BatchItemResult]


class PosterCreate(StorableModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{4,64}$", description="Generated when omitted")
    unit_id: str = Field(min_length=1, max_length=64)
    place: str = Field(min_length=1, max_length=500)
    title: str | None = Field(None, max_length=200)


class PosterUpdate(StorableModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    unit_id: str | None = Field(None, min_length=1, max_length=64)
    place: str | None = Field(None, min_length=1, max_length=500)
    title: str | None = Field(None, max_length=200)
    active: bool | None = None


class PosterRead(BaseModel):
    code: str
    unit_id: str
    place: str
    title: str | None
    active: bool
    created_at: datetime
    page_url: str


class PosterPage(BaseModel):
    items: list[PosterRead]
    next_cursor: str | None


class IdentityRevealRequest(StorableModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=5, max_length=1000, description="Why the identity is needed (audited)")


class RevealApprovalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    investigator: str = Field(min_length=1, max_length=200, description="The investigator who may then reveal")
    case_number: str = Field(min_length=1, max_length=40, description="The case the reveal serves")
    reason: str = Field(min_length=5, max_length=1000, description="Why the approval is given (audited)")


class RevealApprovalRead(BaseModel):
    id: uuid.UUID
    clue_id: uuid.UUID
    investigator: str
    case_number: str
    approved_by: str
    approved_at: datetime
    expires_at: datetime


class IdentityRevealed(BaseModel):
    clue_id: uuid.UUID
    name: str | None
    phone: str | None
    id_number: str | None
    email: str | None


class FeedbackRead(BaseModel):
    stage: str
    message: str
    issued_at: datetime


class ReceiptStatus(BaseModel):
    tracking_number: str
    status: str
    status_label: str
    received_at: datetime
    updated_at: datetime | None
    feedback: list[FeedbackRead]


class QrFormFields(StorableModel):
    """The QR page's text fields (multipart); files are handled separately."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    text: str = Field(min_length=1, max_length=20000)
    subject: str | None = Field(None, max_length=500)
    enterprise_related: bool = False
    name: str | None = Field(None, max_length=100, repr=False)
    phone: str | None = Field(None, max_length=40, repr=False)
    id_number: str | None = Field(None, max_length=40, repr=False)
    email: str | None = Field(None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", repr=False)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_none(cls, data):
        if isinstance(data, dict):
            return {k: (None if v == "" else v) for k, v in data.items()}
        return data

    def reporter(self) -> ReporterIdentity | None:
        identity = ReporterIdentity(name=self.name, phone=self.phone, id_number=self.id_number, email=self.email)
        return None if identity.is_empty() else identity


class HotlineStageRead(BaseModel):
    stage: str
    stage_label: str
    occurred_at: datetime
    message: str | None = None
    callback: str  # pending / sending / delivered / failed / skipped


class HotlineTicketStatus(BaseModel):
    """热线回告 by pull: the line's own ticket, what became of it, and every stage it reached."""

    id: uuid.UUID
    external_id: str
    tracking_number: str
    status: str
    status_label: str
    received_at: datetime
    updated_at: datetime | None = None
    expected_datetime: str | None = None
    stages: list[HotlineStageRead]
