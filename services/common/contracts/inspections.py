"""Events of proactive inspections (明察暗访, 作风巡查, 巡察), produced by intake (R-SU-1).

A finding itself travels as an ordinary ``clue-received`` with channel ``inspection`` and
``kept_by_commission``; these events carry what belongs to the inspection: its plan, the finding's link to
the plan and the team's recommendation, and the result report against its deadline (限期报送结果)."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import BaseModel

from .base import EventContract, Id

InspectionKind = Literal["open", "covert", "style_patrol", "circuit"]


class InspectionPlanned(EventContract):
    """检查计划: a plan with its target units, theme, team and dates was registered."""

    service: ClassVar[str] = "intake"
    event: ClassVar[str] = "inspection-planned"
    key_field: ClassVar[str] = "plan_id"

    plan_id: Id
    kind: InspectionKind
    theme: str
    month: str  # YYYY-MM, the month whose theme (一月一主题) the plan serves
    target_units: list[str]
    starts_on: date
    ends_on: date
    report_due: date
    holiday: str | None = None  # the holiday the plan checks around (节日期间), if any


class InspectionFindingRecorded(EventContract):
    """检查发现问题: a finding became a clue the commission keeps, with the team's recommendation."""

    service: ClassVar[str] = "intake"
    event: ClassVar[str] = "inspection-finding-recorded"
    key_field: ClassVar[str] = "finding_id"

    finding_id: Id
    plan_id: Id
    clue_id: Id
    tracking_number: str
    unit_id: str | None = None
    theme: str
    source: Literal["visit", "walk_in"]
    recommendation: str
    recorded_at: datetime


class InspectionResultReported(EventContract):
    """报送检查结果: the team reported a plan's results, on time or late against its deadline."""

    service: ClassVar[str] = "intake"
    event: ClassVar[str] = "inspection-result-reported"
    key_field: ClassVar[str] = "plan_id"

    plan_id: Id
    theme: str
    report_due: date
    reported_on: date
    on_time: bool
    findings: int
    visits: int


class InspectionCount(BaseModel):
    key: str  # the unit's id, or the theme
    visits: int
    findings: int


class InspectionStateCount(BaseModel):
    state: str
    label: str
    count: int


class InspectionBulletinRequested(EventContract):
    """一月一通报: the office asked for the month's inspection bulletin; notification drafts it for review from
    these counts (visits and findings per inspected unit and per theme, plans by result state). No finding's
    text, no clue and no reporter travels: only what a published 通报 may say after review."""

    service: ClassVar[str] = "intake"
    event: ClassVar[str] = "inspection-bulletin-requested"
    key_field: ClassVar[str] = "month"

    month: str  # YYYY-MM
    theme: str | None = None  # the month's theme (一月一主题), if one was set
    plans: int
    by_unit: list[InspectionCount]
    by_theme: list[InspectionCount]
    by_state: list[InspectionStateCount]
    requested_by: str
    requested_at: datetime
