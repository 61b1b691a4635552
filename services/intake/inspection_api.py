"""Routes of inspections (明察暗访): themes, plans, visits with evidence, findings, walk-ins, results, counts.

Only the commission's inspection staff (作风办、明察暗访组) reach them: a unit handler is refused outright,
since a covert visit's plan must never reach the unit it targets."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import Field, ValidationError, field_validator
from starlette.datastructures import UploadFile

from services.common.auth import CurrentPrincipal, Principal
from services.common.db import SessionDep, session_scope
from services.common.errors import Problem
from services.common.scope import scope_of
from services.common.text import StorableModel

from . import inspections, service
from .api import _read_form, _stage_all
from .schemas import ReporterIdentity

router = APIRouter(prefix="/api/v1/intake/inspections", tags=["inspections"])

INSPECTORS = ("triage_officer", "investigator")  # 作风办 and the 明察暗访组 it sends out
READERS = (*INSPECTORS, "org_officer", "auditor")
DESK = ("triage_officer", "investigator", "org_officer")  # who sits at the 现场举报投诉台
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _roles(*roles: str):
    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.kind != "staff" or scope_of(principal).unit_bound or not principal.has_role(*roles):
            raise Problem(403, "明察暗访只向委机关检查人员开放。", slug="forbidden-role")
        return principal
    return Depends(dependency)


Inspector = Annotated[Principal, _roles(*INSPECTORS)]
Reader = Annotated[Principal, _roles(*READERS)]
Desk = Annotated[Principal, _roles(*DESK)]


def _month(value: str | None) -> str | None:
    if value is not None and not MONTH.match(value):
        raise Problem(422, "月份格式应为 YYYY-MM，例如 2026-12。", slug="month-invalid")
    return value


class ThemeSet(StorableModel):
    theme: str = Field(min_length=2, max_length=200)


class PlanCreate(StorableModel):
    kind: Literal["open", "covert", "style_patrol", "circuit"]
    theme: str | None = Field(None, min_length=2, max_length=200)
    target_units: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1, max_length=500)
    team: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(min_length=1, max_length=50)
    leader: str = Field(min_length=1, max_length=100)
    starts_on: date | None = None
    ends_on: date | None = None
    holiday: Literal["元旦", "春节", "清明", "五一", "端午", "中秋", "国庆"] | None = None
    report_due: date | None = None


class FindingCreate(StorableModel):
    text: str = Field(min_length=5, max_length=20000)
    recommendation: str = Field(min_length=2, max_length=2000, description="检查组的处理建议")
    visit_id: uuid.UUID | None = None
    unit_id: str | None = Field(None, max_length=64)
    subject: str | None = Field(None, max_length=200)
    place: str | None = Field(None, max_length=200)


class WalkInCreate(StorableModel):
    text: str = Field(min_length=5, max_length=20000)
    hall: str = Field(min_length=2, max_length=200, description="窗口大厅（现场举报投诉台所在地）")
    unit_id: str | None = Field(None, max_length=64)
    subject: str | None = Field(None, max_length=200)
    plan_id: uuid.UUID | None = None
    reporter: ReporterIdentity | None = None


class ResultReport(StorableModel):
    summary: str = Field(min_length=5, max_length=20000)


class VisitFields(StorableModel):
    unit_id: str = Field(min_length=1, max_length=64)
    place: str = Field(min_length=2, max_length=200)
    notes: str = Field("", max_length=20000)
    visited_at: datetime | None = None

    @field_validator("visited_at", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return None if value == "" else value


@router.get("/themes")
async def get_themes(session: SessionDep, principal: Reader) -> list[dict[str, Any]]:
    """月度主题（一月一主题）."""
    return await inspections.list_themes(session)


@router.put("/themes/{month}")
async def put_theme(month: str, body: ThemeSet, session: SessionDep, principal: Inspector) -> dict[str, Any]:
    return await inspections.set_theme(session, month=_month(month) or month, theme=body.theme,
                                       by=principal.subject)


@router.post("/plans", status_code=201)
async def post_plan(body: PlanCreate, request: Request, session: SessionDep, principal: Inspector) -> dict[str, Any]:
    """检查计划: target units, theme (or the month's), team, dates (or a holiday's, from the calendar)."""
    plan_id = await inspections.create_plan(session, request.app.state.outbox, plan=inspections.PlanInput(
        **body.model_dump()), by=principal.subject)
    return await inspections.plan_detail(session, plan_id)


@router.get("/plans")
async def get_plans(session: SessionDep, principal: Reader, month: Annotated[str | None, Query()] = None
                    ) -> list[dict[str, Any]]:
    return await inspections.list_plans(session, month=_month(month))


@router.get("/plans/{plan_id}")
async def get_plan(plan_id: uuid.UUID, session: SessionDep, principal: Reader) -> dict[str, Any]:
    return await inspections.plan_detail(session, plan_id)


@router.post("/plans/{plan_id}/visits", status_code=201)
async def post_visit(plan_id: uuid.UUID, request: Request, session: SessionDep, principal: Inspector
                     ) -> dict[str, Any]:
    """检查记录 with on-site evidence (multipart ``evidence``: photos, audio, video), cleaned and stored
    exactly like a QR report's attachments."""
    settings = request.app.state.settings
    async with session_scope(request.app.state.sessions) as lookup:
        inspections.require_member(await inspections.get_plan(lookup, plan_id), principal.subject)
    form = await _read_form(request, settings)
    try:
        try:
            fields = VisitFields.model_validate({k: v for k, v in form.multi_items() if isinstance(v, str)})
        except ValidationError as exc:
            errors = service.safe_errors(exc)
            raise Problem(422, service.invalid_detail(errors, "检查记录不完整：请填写被检查单位和地点。"),
                          slug="validation", errors=errors) from None
        files = [f for f in form.getlist("evidence") if isinstance(f, UploadFile) and (f.filename or f.size)]
        if len(files) > settings.attachment_max_count:
            raise Problem(413, f"最多上传 {settings.attachment_max_count} 个现场证据。", slug="too-many-attachments")
        staged = await _stage_all(files, settings)
    finally:
        await form.close()
    try:
        for s in staged:
            await request.app.state.blobs.put(s)
    finally:
        for s in staged:
            s.path.unlink(missing_ok=True)
    plan = await inspections.get_plan(session, plan_id)
    return await inspections.record_visit(session, plan=plan, unit_id=fields.unit_id, place=fields.place,
                                          visited_at=fields.visited_at, notes=fields.notes, evidence=staged,
                                          by=principal.subject)


@router.post("/plans/{plan_id}/findings", status_code=201)
async def post_finding(plan_id: uuid.UUID, body: FindingCreate, request: Request, session: SessionDep,
                       principal: Inspector) -> dict[str, Any]:
    """发现问题: becomes a clue on channel 明察暗访, kept by the commission, with the team's recommendation."""
    plan = await inspections.get_plan(session, plan_id)
    inspections.require_member(plan, principal.subject)
    if body.unit_id is not None and body.unit_id not in plan.target_units:
        raise Problem(422, f"单位 {body.unit_id} 不在本计划的检查对象之中。", slug="unit-not-targeted")
    found = await inspections.record_finding(
        session, request.app.state.outbox, request.app.state.settings, plan=plan, text=body.text,
        recommendation=body.recommendation, unit_id=body.unit_id, subject=body.subject, place=body.place,
        visit_id=body.visit_id, source="visit", by=principal.subject)
    found.pop("receipt_code", None)
    return found


@router.post("/walk-ins", status_code=201)
async def post_walk_in(body: WalkInCreate, request: Request, session: SessionDep, principal: Desk) -> dict[str, Any]:
    """现场举报投诉台: a walk-in report handed straight to the inspection team under way (以现查直报), kept by
    the commission and not left for the next daily run. The reporter gets a receipt code once."""
    if body.plan_id is not None:
        plan = await inspections.get_plan(session, body.plan_id)
    else:
        plan = await inspections.active_plan(session, on=inspections.today_in_city())
    return await inspections.record_finding(
        session, request.app.state.outbox, request.app.state.settings, plan=plan, text=body.text,
        recommendation=inspections.WALK_IN_RECOMMENDATION, unit_id=body.unit_id, subject=body.subject,
        place=body.hall, visit_id=None, source="walk_in", by=principal.subject, reporter=body.reporter)


@router.post("/plans/{plan_id}/report")
async def post_report(plan_id: uuid.UUID, body: ResultReport, request: Request, session: SessionDep,
                      principal: Inspector) -> dict[str, Any]:
    """限期报送结果: the team's leader (or a member) reports the plan's results; late is recorded as late."""
    inspections.require_member(await inspections.get_plan(session, plan_id), principal.subject)
    return await inspections.report_results(session, request.app.state.outbox, plan_id=plan_id,
                                            summary=body.summary)


@router.get("/stats.csv")
async def get_stats_csv(session: SessionDep, principal: Reader, month: Annotated[str | None, Query()] = None
                        ) -> Response:
    """The same counts as CSV, for the month's 通报."""
    counts = await inspections.stats(session, month=_month(month))
    return Response(inspections.stats_csv(counts), media_type="text/csv; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="inspections-{month or "all"}.csv"'})


@router.get("/stats")
async def get_stats(session: SessionDep, principal: Reader, month: Annotated[str | None, Query()] = None
                    ) -> dict[str, Any]:
    """检查情况统计 per unit and theme, and plans by result state (一月一通报)."""
    return await inspections.stats(session, month=_month(month))
