"""Events the intake service produces."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel

from .base import EventContract, Id

Channel = Literal[
    "hotline_12388",
    "hotline_12345",
    "hotline_12380",
    "qr_code",
    "petition",
    "media",
    "online",
    "walk_in",
    "inspection",
    "mayor_line",
    "open311",
    "project_check",
]


class SealedContact(BaseModel):
    """A reporter's contact (phone / e-mail only) sealed with AES-GCM under a key that intake and
    notification share; the event carries ciphertext only, never the identity itself."""

    kid: str
    nonce: str
    ciphertext: str


class ClueReceived(EventContract):
    """线索受理: a clue was accepted from any channel and given a tracking number."""

    service: ClassVar[str] = "intake"
    event: ClassVar[str] = "clue-received"
    key_field: ClassVar[str] = "clue_id"

    clue_id: Id
    tracking_number: str
    channel: Channel
    received_at: datetime
    subject: str | None = None  # the official or office complained about, as reported
    text: str
    unit_id: str | None = None  # pre-routed unit (QR poster's unit, or named by the hotline)
    place: str | None = None
    poster_code: str | None = None
    enterprise_related: bool = False  # 涉企
    anonymous: bool = True
    attachment_count: int = 0
    external_id: str | None = None  # the hotline's own ticket id
    category_hint: str | None = None  # the hotline's or Open311 client's own category code
    reporter_contact: SealedContact | None = None
    # An inspection's finding or a walk-in report handed to the inspection team: triage accepts it at once
    # for the commission and never transfers it to the unit concerned (R-SU-1).
    kept_by_commission: bool = False
