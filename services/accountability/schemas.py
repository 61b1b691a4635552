"""Request and response bodies of the accountability API."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from .domain import Action, ExemptionKind, Finding, LeaderRole, Rank, Responsibility, Scope

Text = Field(min_length=1, max_length=4000)
Short = Field(min_length=1, max_length=200)


class CaseCreate(BaseModel):
    title: str = Short
    summary: str | None = Field(None, max_length=4000)
    unit_id: str | None = Field(None, max_length=100)
    region: str | None = Field(None, max_length=100)
    problem_family: str | None = Field(None, max_length=40)
    problem_type: str | None = Field(None, max_length=60)
    serious: bool = False
    unit_problem: bool = False
    clue_ids: list[uuid.UUID] = []


class CaseUpdate(BaseModel):
    """Facts that may sharpen during the check; the state moves only through transitions."""

    title: str | None = Field(None, min_length=1, max_length=200)
    summary: str | None = Field(None, max_length=4000)
    serious: bool | None = None
    unit_problem: bool | None = None
    problem_type: str | None = Field(None, max_length=60)


class ClueAttach(BaseModel):
    clue_id: uuid.UUID
    tracking_number: str | None = Field(None, max_length=40)


class TransitionCreate(BaseModel):
    action: Action
    reason: str | None = Field(None, max_length=2000)


class FindingCreate(BaseModel):
    finding: Finding
    summary: str = Text  # internal statement of the facts found
    outcome_summary: str = Field(min_length=1, max_length=1000)  # told to the reporter: no names
    concluded_on: date | None = None  # 认定日期; defaults to today (Asia/Shanghai)


class PersonCreate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=100)  # defaults to the directory's leader
    post: str | None = Field(None, max_length=200)
    unit_id: str | None = Field(None, max_length=100)
    rank: Rank | None = None
    party_member: bool
    responsibility: Responsibility | None = None
    leader_role: LeaderRole | None = None


class PersonUpdate(BaseModel):
    post: str | None = Field(None, max_length=200)
    rank: Rank | None = None
    party_member: bool | None = None
    responsibility: Responsibility | None = None


class MeasureCreate(BaseModel):
    code: str = Field(min_length=1, max_length=60)
    transferred_for_prosecution: bool = False
    note: str | None = Field(None, max_length=2000)


class MeasureRead(BaseModel):
    id: uuid.UUID
    person_id: uuid.UUID
    family: str
    code: str
    name: str
    form: int
    transferred_for_prosecution: bool
    note: str | None


class ExemptionCreate(BaseModel):
    kind: ExemptionKind = "exempt"
    criteria: dict[str, bool]
    reasons: str = Text
    benchmark: bool = False
    benchmark_title: str | None = Field(None, max_length=200)
    benchmark_summary: str | None = Field(None, max_length=4000)


class ExemptionRead(BaseModel):
    id: uuid.UUID
    person_id: uuid.UUID
    kind: str
    criteria: dict[str, bool]
    reasons: str
    benchmark: bool


class PersonRead(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    name: str
    post: str | None
    unit_id: str | None
    unit_name: str | None
    rank: str | None
    party_member: bool
    responsibility: str | None
    leader_role: str | None
    measures: list[MeasureRead] = []
    exemption: ExemptionRead | None = None


class LeaderClearanceCreate(BaseModel):
    """一案双查: a reasoned finding that this leader bears no responsibility."""

    leader_role: LeaderRole
    reason: str = Text


class JointExamination(BaseModel):
    required: bool
    principal_leader: str | None = None  # the directory's names, to examine
    leader_in_charge: str | None = None
    held: list[str] = []
    cleared: dict[str, str] = {}
    missing: list[str] = []


class CaseRead(BaseModel):
    id: uuid.UUID
    case_number: str
    state: str
    allowed_actions: list[str]
    source: str
    title: str
    summary: str | None
    unit_id: str | None
    unit_name: str | None
    region: str | None
    problem_family: str | None
    problem_type: str | None
    serious: bool
    unit_problem: bool
    finding: str | None
    outcome_summary: str | None
    concluded_on: date | None
    opened_at: datetime
    closed_at: datetime | None
    clue_ids: list[uuid.UUID] = []


class CaseDetail(CaseRead):
    finding_summary: str | None = None
    persons: list[PersonRead] = []
    joint_examination: JointExamination | None = None


class CaseList(BaseModel):
    items: list[CaseRead]
    next_cursor: str | None = None


class CaseForUnit(BaseModel):
    """A decided case as the unit's handler sees it: the decision, never the clues, the internal facts, the
    persons or the title (a clue's case is titled with its tracking number and 五必查). Its rectification
    items: GET …/cases/{id}/rectifications."""

    id: uuid.UUID
    case_number: str
    state: str
    unit_id: str | None
    unit_name: str | None
    finding: str | None
    outcome_summary: str | None
    concluded_on: date | None
    closed_at: datetime | None


class UnitCaseList(BaseModel):
    items: list[CaseForUnit]
    next_cursor: str | None = None


class RectificationCreate(BaseModel):
    task: str = Text
    deadline: date
    responsible: str | None = Field(None, max_length=200)
    unit_id: str | None = Field(None, max_length=100)  # defaults to the case's unit


class EvidenceCreate(BaseModel):
    evidence: str = Text


class LookBackCreate(BaseModel):
    """回头看: the sign-off did not hold; the item reopens with a new deadline."""

    reason: str = Text
    deadline: date


class RectificationRead(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    case_number: str
    unit_id: str
    task: str
    deadline: date
    responsible: str | None
    status: str
    overdue: bool
    evidence: str | None
    signed_off_at: datetime | None
    look_backs: int


class RectificationList(BaseModel):
    items: list[RectificationRead]
    next_cursor: str | None = None


class PublicationCreate(BaseModel):
    title: str = Short
    body: str = Text
    scope: Scope


class TypicalCaseRead(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    case_number: str
    kind: str
    title: str
    body: str
    scope: str
    unit_id: str | None
    problem_type: str | None
    published_at: datetime


class TypicalCaseList(BaseModel):
    items: list[TypicalCaseRead]
    next_cursor: str | None = None


class Count(BaseModel):
    key: str
    count: int


class Stats(BaseModel):
    """Counts as the seeds' bulletins give them (e.g. Datong 2017-12)."""

    period_from: date | None
    period_to: date | None
    region: str | None
    rank: str | None
    problems: int  # 查处问题 (substantiated cases)
    persons: int  # 处理人数 (distinct persons held accountable)
    disciplined: int  # 给予党政纪处分
    organizational_handling: int  # 组织处理
    county_level: int  # 县处级干部
    by_form: list[Count]
    by_type: list[Count]
    by_family: list[Count]


class MonthlyBulletin(BaseModel):
    """一月一通报: the month's figures and the typical cases published in it."""

    month: str
    stats: Stats
    typical_cases: list[TypicalCaseRead]
