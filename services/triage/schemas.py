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


class ClueList(BaseModel):
    items: list[ClueRead]
    next_cursor: str | None = None


class ClueOverride(BaseModel):
    """人工调整: any of type, unit and decision; the reason is required and kept in the audit log."""

    type_code: str | None = None
    unit_id: str | None = None
    decision: Decision | None = None
    merged_into: uuid.UUID | None = None
    reason: str = Field(min_length=2, max_length=2000)


class DailyRunCreate(BaseModel):
    run_date: date | None = None  # default: today in Asia/Shanghai


class DailySheetRead(BaseModel):
    run_date: date
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

    @classmethod
    def of(cls, run: dict[str, Any], created: bool | None = None) -> "DailySheetRead":
        sheet = run["sheet"]
        return cls(
            run_date=run["run_date"], window_end=run["window_end"], total=run["total"],
            by_channel=sheet["by_channel"], by_type=sheet["by_type"], by_unit=sheet["by_unit"],
            by_decision=sheet["by_decision"], transferred_by_unit=sheet.get("transferred_by_unit", []),
            triggered_by=run["triggered_by"], started_at=run["started_at"],
            finished_at=run["finished_at"], confirmed_by=run.get("confirmed_by"),
            confirmed_at=run.get("confirmed_at"), created=created,
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
