"""Request and response bodies of the triage API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from services.common.contracts.triage import Decision


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
    family: str | None = None
    type_code: str | None = None
    tags: list[str] = []
    confidence: float = 0.0
    evidence: list[dict[str, Any]] = []
    must_investigate: bool = False
    triggers: list[str] = []
    routed_unit_id: str | None = None
    route_reason: str | None = None
    decision: str | None = None
    reason: str | None = None
    deadline: date | None = None
    merged_into: uuid.UUID | None = None
    sources: list[dict[str, Any]] = []
    run_date: date | None = None
    overridden: bool = False
    conduct: bool | None = None  # None: not classified yet
    model_version: str | None = None
    classified_at: datetime | None = None


class ClueList(BaseModel):
    items: list[ClueRead]
    next_cursor: str | None = None


class ClueOverride(BaseModel):
    """人工调整: any of type, unit and decision; the reason is required and kept in the audit log."""

    type_code: str | None = None
    unit_id: str | None = None
    decision: Decision | None = None
    merged_into: uuid.UUID | None = None
    # the officer's judgement that the text is (not) a conduct complaint at all, and of 五必查 / 涉企:
    # every override is kept as a labelled example for `zuofeng triage train`
    conduct: bool | None = None
    triggers: list[str] | None = None
    enterprise_related: bool | None = None
    reason: str = Field(min_length=2, max_length=2000)


class DailyRunCreate(BaseModel):
    run_date: date | None = None  # default: today in Asia/Shanghai


class DailyRunRead(BaseModel):
    """A daily run as a job: queued → running → done | failed, with its progress."""
    id: uuid.UUID
    run_date: date
    kind: str  # on_demand | scheduled | catch_up
    state: str
    triggered_by: str
    requested_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    total: int | None = None  # pending clues in the run's window, once read
    processed: int = 0
    version: int | None = None  # the sheet version the run issued
    error: str | None = None
    sheet: str | None = None  # where the sheet is, once done

    @classmethod
    def of(cls, job: dict[str, Any]) -> DailyRunRead:
        done = job["state"] == "done"
        return cls(**{k: job.get(k) for k in cls.model_fields if k != "sheet"},
                   sheet=f"/api/v1/triage/daily-sheets/{job['run_date'].isoformat()}?version={job['version']}"
                   if done else None)


class DailySheetRead(BaseModel):
    run_date: date
    version: int = 1  # each run of the date issues a new version; GET gives the newest
    closes_day: bool = True  # False: an early on-demand run, the day's clues after it wait for the cut-off
    window_end: datetime
    total: int
    by_channel: list[dict[str, Any]]
    by_type: list[dict[str, Any]]
    by_unit: list[dict[str, Any]]
    by_decision: list[dict[str, Any]]
    transferred_by_unit: list[dict[str, Any]] = []  # what each unit is told of (sheets run before: empty)
    triggered_by: str
    started_at: datetime
    finished_at: datetime
    confirmed_by: str | None = None
    confirmed_at: datetime | None = None
    created: bool | None = None  # on POST: whether this call ran the day, or found it already run
    model_version: str | None = None  # which classifier version sorted the day

    @classmethod
    def of(cls, run: dict[str, Any], created: bool | None = None) -> DailySheetRead:
        sheet = run["sheet"]
        return cls(
            run_date=run["run_date"], version=run.get("version", 1), closes_day=run.get("closes_day", True),
            window_end=run["window_end"], total=run["total"],
            by_channel=sheet["by_channel"], by_type=sheet["by_type"], by_unit=sheet["by_unit"],
            by_decision=sheet["by_decision"], transferred_by_unit=sheet.get("transferred_by_unit", []),
            triggered_by=run["triggered_by"], started_at=run["started_at"],
            finished_at=run["finished_at"], confirmed_by=run.get("confirmed_by"),
            confirmed_at=run.get("confirmed_at"), created=created, model_version=sheet.get("model_version"),
        )


class UnitRead(BaseModel):
    id: str
    name: str
    level: Literal["region", "agency", "section"]
    parent_id: str | None
    region: str | None
    category: str | None
    principal_leader: str | None
    leader_in_charge: str | None
    key_section: bool
    aliases: list[str]
    active: bool


class UnitList(BaseModel):
    items: list[UnitRead]
    next_cursor: str | None = None


class UnitImportResult(BaseModel):
    imported: int


class BenchmarkCaseRead(BaseModel):
    case_id: uuid.UUID
    title: str
    summary: str
    problem_type: str | None
    tags: list[str]
    source: str
    score: float


class ClassifyRequest(BaseModel):
    """预分类: a text to classify, without storing anything."""

    text: str = Field(min_length=1, max_length=20000)
    subject: str | None = Field(None, max_length=500)
    enterprise_related: bool = False


class Coded(BaseModel):
    code: str
    label: str


class EvidenceItem(BaseModel):
    phrase: str
    for_: str = Field(alias="for")
    label: str
    weight: float

    model_config = {"populate_by_name": True, "serialize_by_alias": True}


class ClassifyResult(BaseModel):
    conduct: bool
    out_of_scope: bool
    conduct_probability: float
    family: Coded | None
    type: Coded | None
    tags: list[Coded]
    triggers: list[Coded]
    trigger_candidates: list[Coded]  # found by the 五必查 layer alone: an officer confirms or not
    must_investigate: bool
    enterprise: bool
    enterprise_markers: list[str]
    confidence: float
    needs_officer: bool
    evidence: list[EvidenceItem]
    model_version: str | None
