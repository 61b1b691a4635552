"""Request and response bodies of the accountability API."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from typing import Literal

from .domain import (
    Action,
    Body,
    ExemptionBasis,
    ExemptionKind,
    Finding,
    LeaderRole,
    Management,
    ProposalDecision,
    Rank,
    Responsibility,
    Scope,
)

Text = Field(min_length=1, max_length=4000)
Short = Field(min_length=1, max_length=200)


class CaseCreate(BaseModel):
    title: str = Short
    summary: str | None = Field(None, max_length=4000)
    unit_id: str | None = Field(None, max_length=100)
    region: str | None = Field(None, max_length=100)
    problem_family: str | None = Field(None, max_length=40)
    problem_type: str | None = Field(None, max_length=60)
    serious: bool = False  # 重大案件: 一案双查, and a 专题民主生活会 within 30 days of closing
    unit_problem: bool = False
    must_investigate: bool = False  # 五必查
    source: Literal["officer", "inspection"] = "officer"
    lead_body: Body | None = None  # defaults to the opening officer's body
    tags: list[str] = Field(default_factory=list, max_length=20)
    campaign: str | None = Field(None, max_length=200)
    clue_ids: list[uuid.UUID] = []


class CaseUpdate(BaseModel):
    """Facts that may sharpen during the check; the state moves only through transitions."""

    title: str | None = Field(None, min_length=1, max_length=200)
    summary: str | None = Field(None, max_length=4000)
    serious: bool | None = None
    unit_problem: bool | None = None
    must_investigate: bool | None = None
    problem_type: str | None = Field(None, max_length=60)
    tags: list[str] | None = Field(None, max_length=20)
    campaign: str | None = Field(None, max_length=200)
    lead_body: Body | None = None  # 移交: the other body takes the lead


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
    management: Management | None = None  # 管理权限


class PersonUpdate(BaseModel):
    post: str | None = Field(None, max_length=200)
    rank: Rank | None = None
    party_member: bool | None = None
    responsibility: Responsibility | None = None
    management: Management | None = None


class MeasureCreate(BaseModel):
    code: str = Field(min_length=1, max_length=60)
    transferred_for_prosecution: bool = False
    note: str | None = Field(None, max_length=2000)


class MeasureRead(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID | None = None
    person_id: uuid.UUID
    family: str
    code: str
    name: str
    form: int
    transferred_for_prosecution: bool
    note: str | None


class ExemptionCreate(BaseModel):
    kind: ExemptionKind = "exempt"
    basis: ExemptionBasis = "reform"  # 改革创新容错 | 轻微责任豁免
    criteria: dict[str, bool]
    reasons: str = Text
    benchmark: bool = False
    benchmark_title: str | None = Field(None, max_length=200)
    benchmark_summary: str | None = Field(None, max_length=4000)


class ExemptionRead(BaseModel):
    id: uuid.UUID
    person_id: uuid.UUID
    kind: str
    basis: str = "reform"
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
    management: str | None = None
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
    must_investigate: bool = False
    lead_body: str = "commission"
    tags: list[str] = []
    campaign: str | None = None
    due_on: date | None = None  # 快查快结: the finding is due by then
    finding: str | None
    outcome_summary: str | None
    concluded_on: date | None
    opened_at: datetime
    closed_at: datetime | None
    referral: str | None = None
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
    origin: str | None = None
    problems: int  # 查处问题 (substantiated cases)
    persons: int  # 处理人数 (distinct persons held accountable)
    disciplined: int  # 给予党政纪处分
    organizational_handling: int  # 组织处理 (调整岗位, 降职, 免职…; not the light measures)
    education: int = 0  # 提醒教育 (提醒谈话, 函询, 约谈, 诫勉…), counted apart
    county_level: int  # 县处级干部
    by_form: list[Count]
    by_type: list[Count]
    by_family: list[Count]


class MonthlyBulletin(BaseModel):
    """一月一通报: the month's figures and the typical cases published in it."""

    month: str
    stats: Stats
    typical_cases: list[TypicalCaseRead]


class ProposalRead(BaseModel):
    """处理建议: a consequence waiting for the competent officer; never a decided measure."""

    id: uuid.UUID
    source: str
    kind: str
    body: str
    body_name: str
    status: str
    status_name: str
    campaign: str | None
    unit_id: str | None
    unit_name: str | None
    title: str
    reason: str
    suggested_measure: str | None
    suggested_measure_name: str | None
    persons: list[dict]
    held_to_account: str | None = None
    grounds: list[str] = []
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    case_id: uuid.UUID | None
    created_at: datetime


class ProposalList(BaseModel):
    items: list[ProposalRead]
    next_cursor: str | None = None


class ProposalDecisionCreate(BaseModel):
    decision: ProposalDecision
    reason: str | None = Field(None, min_length=1, max_length=2000)  # required to modify or decline
    suggested_measure: str | None = Field(None, max_length=60)
    title: str | None = Field(None, min_length=1, max_length=200)
    body: Body | None = None


class ReferralCreate(BaseModel):
    """诬告陷害: refer an unfounded complaint that looks like a deliberate false accusation."""

    reason: str = Text


class BenchmarkCreate(BaseModel):
    """标杆案例 from any resolved case: facts and reasons only, no names."""

    title: str = Short
    summary: str = Text


class FollowUpDone(BaseModel):
    held_on: date
    minutes: str = Text


class FollowUpRead(BaseModel):
    case_id: uuid.UUID
    case_number: str
    unit_id: str | None
    due_on: date
    status: str
    overdue: bool
    held_on: date | None
    minutes: str | None


class AgeingItem(BaseModel):
    id: uuid.UUID
    case_number: str
    state: str
    lead_body: str
    unit_name: str | None
    opened_at: datetime
    due_on: date | None
    days_over: int
    bucket: str


class AgeingView(BaseModel):
    """快查快结: open cases without a finding yet, by how far past their time limit."""

    as_of: date
    buckets: list[Count]
    items: list[AgeingItem]


class FourWindsReport(BaseModel):
    """每月向上级纪委报告查处违反中央八项规定精神案件和"四风"案件情况 (003)."""

    month: str
    opened: int
    filed: int
    substantiated: int
    persons_handled: int
    disciplined: int
    by_tag: list[Count]


class ImportRequest(BaseModel):
    """Cases as the import's JSON shape (see ``service.imports.ImportCase``); each validated on its own, so
    one bad case never refuses the others."""

    cases: list[dict] = Field(min_length=1, max_length=20_000)


class ImportRowError(BaseModel):
    rows: list[int]  # the case's position in the request (1-based), or the sheet's row numbers
    ref: str | None
    field: str
    detail: str


class ImportedCase(BaseModel):
    ref: str
    case_id: uuid.UUID
    case_number: str


class ImportResult(BaseModel):
    import_id: uuid.UUID
    sha256: str
    cases_imported: int
    cases_refused: int
    imported: list[ImportedCase]
    errors: list[ImportRowError]
