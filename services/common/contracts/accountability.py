"""Events the accountability service produces."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal

from .base import EventContract, Id

Finding = Literal["substantiated", "partly_substantiated", "unfounded", "closed_without_filing"]
Scope = Literal["unit", "sector", "citywide"]


class CaseOpened(EventContract):
    service: ClassVar[str] = "accountability"
    event: ClassVar[str] = "case-opened"
    key_field: ClassVar[str] = "case_id"

    case_id: Id
    case_number: str
    clue_ids: list[Id] = []
    unit_id: str | None = None
    serious: bool = False
    opened_at: datetime


class CaseConcluded(EventContract):
    """Findings recorded (or closed without filing): the outcome the reporter is told of."""

    service: ClassVar[str] = "accountability"
    event: ClassVar[str] = "case-concluded"
    key_field: ClassVar[str] = "case_id"

    case_id: Id
    case_number: str
    clue_ids: list[Id] = []
    unit_id: str | None = None
    finding: Finding
    outcome_summary: str  # wording fit for the reporter: no names of persons handled
    concluded_at: datetime
    # An unfounded or unfiled complaint is not held against the unit complained about (R-AC-12).
    counts_against_unit: bool = True


class CaseClosed(EventContract):
    service: ClassVar[str] = "accountability"
    event: ClassVar[str] = "case-closed"
    key_field: ClassVar[str] = "case_id"

    case_id: Id
    case_number: str
    clue_ids: list[Id] = []
    unit_id: str | None = None
    closed_at: datetime


class RectificationAssigned(EventContract):
    """整改任务 given to a unit, with its deadline."""

    service: ClassVar[str] = "accountability"
    event: ClassVar[str] = "rectification-assigned"
    key_field: ClassVar[str] = "rectification_id"

    rectification_id: Id
    case_id: Id
    unit_id: str
    task: str
    deadline: date
    responsible: str | None = None
    case_number: str | None = None  # the case the task comes from, for the unit's notice


class RectificationOverdue(EventContract):
    service: ClassVar[str] = "accountability"
    event: ClassVar[str] = "rectification-overdue"
    key_field: ClassVar[str] = "rectification_id"

    rectification_id: Id
    case_id: Id
    unit_id: str
    task: str
    deadline: date
    detected_at: datetime


class TypicalCasePublished(EventContract):
    """典型案例 named and published (点名道姓通报曝光), or a clarification (澄清正名) for the accused."""

    service: ClassVar[str] = "accountability"
    event: ClassVar[str] = "typical-case-published"
    key_field: ClassVar[str] = "case_id"

    case_id: Id
    kind: Literal["typical", "clarification"] = "typical"
    title: str
    body: str
    scope: Scope
    unit_id: str | None = None
    problem_type: str | None = None
    published_at: datetime


class BenchmarkCasePublished(EventContract):
    """标杆案例 (e.g. a 容错免责 exemption) offered to triage as precedent."""

    service: ClassVar[str] = "accountability"
    event: ClassVar[str] = "benchmark-case-published"
    key_field: ClassVar[str] = "case_id"

    case_id: Id
    title: str
    summary: str
    problem_type: str | None = None
    tags: list[str] = []
    published_at: datetime


class UnitAwardIneligible(EventContract):
    """取消年度综合类评先评优资格: a unit whose 五必查 matter was substantiated (R-AC-9)."""

    service: ClassVar[str] = "accountability"
    event: ClassVar[str] = "unit-award-ineligible"
    key_field: ClassVar[str] = "unit_id"

    unit_id: str
    year: int
    case_id: Id
    reason: str
    # Which rule took the eligibility: R-AC-9's 五必查 rule is its own consequence, not an evaluation veto.
    rule: str = "must_investigate"
