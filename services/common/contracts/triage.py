"""Events the triage service produces."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import BaseModel

from .base import EventContract, Id

Decision = Literal["accept", "transfer", "merge", "set_aside"]
Family = Literal["inaction", "slow_action", "misconduct"]


class ClueTriaged(EventContract):
    """筛选: the daily run (or an officer) classified, routed and screened a clue."""

    service: ClassVar[str] = "triage"
    event: ClassVar[str] = "clue-triaged"
    key_field: ClassVar[str] = "clue_id"

    clue_id: Id
    tracking_number: str
    run_date: date
    family: Family | None = None
    type_code: str | None = None
    tags: list[str] = []
    confidence: float = 0.0
    unit_id: str | None = None
    decision: Decision
    must_investigate: bool = False  # 五必查
    must_investigate_triggers: list[str] = []
    enterprise_related: bool = False
    deadline: date | None = None  # feedback deadline for a transfer, in working days
    merged_into: Id | None = None
    reason: str | None = None
    channel: str | None = None
    received_at: datetime | None = None


class DailySheetCount(BaseModel):
    key: str
    count: int


class DailySheetPublished(EventContract):
    """当日线索梳理表 published for a date."""

    service: ClassVar[str] = "triage"
    event: ClassVar[str] = "daily-sheet-published"
    key_field: ClassVar[str] = "run_date"
    # The ``by_unit`` key counting the clues routed to no unit: not a unit id, nobody to notify.
    UNROUTED: ClassVar[str] = "unrouted"

    run_date: date
    total: int
    by_channel: list[DailySheetCount] = []
    by_type: list[DailySheetCount] = []
    by_unit: list[DailySheetCount] = []
    by_decision: list[DailySheetCount] = []
    # Per unit, only the clues transferred (转办) to it: the one count a unit may be told. ``by_unit`` also
    # counts the clues the commission keeps about the unit, and stays internal.
    transferred_by_unit: list[DailySheetCount] = []
    published_at: datetime


class UnitUpserted(EventContract):
    """One entry of the unit directory, on the log-compacted ``triage.units`` topic (key = unit id)."""

    service: ClassVar[str] = "triage"
    event: ClassVar[str] = "units"
    key_field: ClassVar[str] = "unit_id"
    compacted: ClassVar[bool] = True

    unit_id: str
    name: str
    level: Literal["region", "agency", "section"]
    parent_id: str | None = None
    region: str | None = None
    category: str | None = None  # evaluation category (e.g. 机关科室, 基层站所)
    principal_leader: str | None = None
    leader_in_charge: str | None = None
    key_section: bool = False
    active: bool = True
