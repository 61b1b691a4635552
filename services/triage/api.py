"""Triage's HTTP routes: thin — parse, authorise (role and unit), call ``service``, shape the answer."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select

from services.common import audit
from services.common.auth import CurrentPrincipal, Principal, require_roles
from services.common.contracts.triage import Decision
from services.common.db import SessionDep
from services.common.errors import Problem
from services.common.scope import scope_of

from . import competence, service
from .daily_run import SHANGHAI, run_daily
from .models import audit_log, units
from .classifier import default_classifier
from .schemas import (
    BenchmarkCaseRead,
    ClassifyRequest,
    ClassifyResult,
    ClueList,
    ClueOverride,
    ClueRead,
    DailyRunCreate,
    DailySheetRead,
    UnitImportResult,
    UnitList,
    UnitRead,
)
from .taxonomy import default_taxonomy
from .units import parse_directory, upsert_units

router = APIRouter(prefix="/api/v1/triage", tags=["triage"])

Staff = Annotated[Principal, require_roles(
    "triage_officer", "investigator", "org_officer", "unit_handler", "evaluation_admin", "auditor")]
Reader = Annotated[Principal, require_roles("triage_officer", "investigator", "org_officer", "auditor", "unit_handler")]
SheetReader = Annotated[Principal, require_roles("triage_officer", "investigator", "org_officer", "auditor")]
Officer = Annotated[Principal, require_roles("triage_officer")]
Admin = Annotated[Principal, require_roles("admin")]


@router.get("/taxonomy")
async def get_taxonomy(principal: Staff) -> dict:
    """作风问题分类: families and the 13 types, secondary tags, 五必查 triggers, decisions (codes + labels)."""
    return default_taxonomy().export()


async def _classify_caller(principal: CurrentPrincipal) -> Principal:
    """Triage officers, and the systems that feed clues in (hotline keys, signed requests)."""
    if principal.kind == "hotline" or (principal.kind == "staff" and principal.has_role("triage_officer")):
        return principal
    raise Problem(403, "预分类仅对线索梳理人员（triage_officer）和对接系统开放。", slug="forbidden-role")


@router.post("/classify", response_model=ClassifyResult, response_model_by_alias=True)
async def classify(body: ClassifyRequest, request: Request,
                   principal: Annotated[Principal, Depends(_classify_caller)]) -> dict:
    """预分类: family, type, tags, 五必查 triggers, 涉企, out of scope, confidence and evidence for a text,
    codes with their Chinese labels. Nothing is stored, routed or transferred."""
    text = body.text.strip()
    if not text:
        raise Problem(422, "线索内容不能为空。", slug="text-required")
    classifier = default_classifier(request.app.state.settings.classifier_dir)
    verdict = classifier.classify(f"{body.subject}。{text}" if body.subject else text,
                                  enterprise_flag=body.enterprise_related)
    return classifier.labelled(verdict)


@router.get("/clues", response_model=ClueList)
async def get_clues(
    session: SessionDep,
    principal: Reader,
    cursor: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    state: Annotated[str | None, Query(pattern="^(pending|review|triaged)$")] = None,
    decision: Decision | None = None,
    family: str | None = None,
    type_code: str | None = None,
    tag: str | None = None,
    channel: str | None = None,
    unit: str | None = None,
    run_date: date | None = None,
    must_investigate: bool | None = None,
) -> ClueList:
    """The officer queue: clues triage holds, filtered. A unit handler sees only those transferred to its unit."""
    filters = {"state": state, "decision": decision, "family": family, "type_code": type_code, "tag": tag,
               "channel": channel, "unit": unit, "run_date": run_date, "must_investigate": must_investigate}
    items = await service.list_clues(session, after=cursor, limit=limit, unit_id=scope_of(principal).unit_id,
                                     filters=filters, organization_only=competence.organization_only(principal))
    next_cursor = str(items[-1].id) if len(items) == limit else None
    return ClueList(items=items, next_cursor=next_cursor)


@router.get("/clues/{clue_id}", response_model=ClueRead)
async def get_clue(clue_id: uuid.UUID, session: SessionDep, principal: Reader) -> ClueRead:
    row = await service.get_clue(session, clue_id=clue_id, principal=principal)
    return ClueRead.model_validate(row._mapping)


@router.patch("/clues/{clue_id}", response_model=ClueRead)
async def patch_clue(
    clue_id: uuid.UUID, change: ClueOverride, request: Request, session: SessionDep, principal: Officer
) -> ClueRead:
    """人工调整: override type, unit and/or decision with a reason (audited; re-publishes clue-triaged)."""
    return await service.override_clue(session, request.app.state.outbox, clue_id=clue_id, change=change,
                                       principal=principal, settings=request.app.state.settings)


@router.get("/clues/{clue_id}/benchmark-cases", response_model=list[BenchmarkCaseRead])
async def get_benchmark_cases(clue_id: uuid.UUID, session: SessionDep, principal: Reader) -> list[BenchmarkCaseRead]:
    """标杆案例 similar to the clue, best first."""
    row = await service.get_clue(session, clue_id=clue_id, principal=principal)
    return await service.similar_benchmark_cases(session, clue=row)


@router.post("/daily-runs", response_model=DailySheetRead)
async def post_daily_run(request: Request, response: Response, principal: Officer,
                         body: DailyRunCreate | None = None) -> DailySheetRead:
    """Run the daily sort now for a date (default today, Asia/Shanghai). Idempotent per date: 201 when it
    ran, 200 with the stored sheet when the date had already run."""
    run_date = (body.run_date if body else None) or datetime.now(SHANGHAI).date()
    if run_date > datetime.now(SHANGHAI).date():
        raise Problem(422, "A daily run cannot be for a future date.", slug="run-date-in-future")
    run, created = await run_daily(request.app.state.sessions, request.app.state.settings, run_date=run_date,
                                   triggered_by=principal.subject)
    response.status_code = 201 if created else 200
    return DailySheetRead.of(run, created)


@router.get("/daily-sheets/{run_date}.csv")
async def get_daily_sheet_csv(run_date: date, session: SessionDep, principal: SheetReader) -> Response:
    run = await _sheet_for(session, principal, run_date)
    return Response(service.sheet_csv(run), media_type="text/csv; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="daily-sheet-{run_date.isoformat()}.csv"'})


@router.get("/daily-sheets/{run_date}", response_model=DailySheetRead)
async def get_daily_sheet(run_date: date, session: SessionDep, principal: SheetReader) -> DailySheetRead:
    """当日线索梳理表: counts by channel, type, unit and decision. The clues: GET /clues?run_date=…
    The organization department gets the sheet of its own matters (12380, 选人用人)."""
    return DailySheetRead.of(await _sheet_for(session, principal, run_date))


async def _sheet_for(session, principal: Principal, run_date: date) -> dict:
    run = await service.get_run(session, run_date=run_date)
    if competence.organization_only(principal):
        return await competence.organization_sheet(session, run, run_date)
    return run


@router.post("/daily-sheets/{run_date}/confirm", response_model=DailySheetRead)
async def confirm_daily_sheet(run_date: date, session: SessionDep, principal: Officer) -> DailySheetRead:
    return DailySheetRead.of(await service.confirm_sheet(session, run_date=run_date, principal=principal))


@router.get("/units", response_model=UnitList)
async def get_units(
    session: SessionDep,
    principal: Staff,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
    parent_id: str | None = None,
    level: Annotated[str | None, Query(pattern="^(region|agency|section)$")] = None,
    category: str | None = None,
) -> UnitList:
    """单位名录, in id order, cursor-paginated."""
    query = select(units).order_by(units.c.id).limit(limit)
    if cursor:
        query = query.where(units.c.id > cursor)
    for column, value in (("parent_id", parent_id), ("level", level), ("category", category)):
        if value is not None:
            query = query.where(units.c[column] == value)
    items = [UnitRead.model_validate(r._mapping) for r in (await session.execute(query)).all()]
    return UnitList(items=items, next_cursor=items[-1].id if len(items) == limit else None)


@router.get("/units/{unit_id}", response_model=UnitRead)
async def get_unit(unit_id: str, session: SessionDep, principal: Staff) -> UnitRead:
    row = (await session.execute(select(units).where(units.c.id == unit_id))).first()
    if row is None:
        raise Problem(404, "No such unit.", slug="unit-not-found")
    return UnitRead.model_validate(row._mapping)


@router.post("/units:import", response_model=UnitImportResult)
async def import_units(request: Request, session: SessionDep, principal: Admin) -> UnitImportResult:
    """Import a directory file (body: YAML tree or CSV, by content type); upserts and publishes each unit."""
    content_type = request.headers.get("content-type", "")
    fmt = "csv" if "csv" in content_type else "yaml" if "yaml" in content_type else None
    if fmt is None:
        raise Problem(415, "Send the directory as text/csv or application/yaml.", slug="unsupported-media-type")
    try:
        content = (await request.body()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(422, "The directory file must be UTF-8.", slug="unit-invalid") from exc
    records = parse_directory(content, fmt=fmt)
    count = await upsert_units(session, request.app.state.outbox, records)
    await audit.record(session, audit_log, actor=principal, action="units.import", entity_type="unit_directory",
                       entity_id="*", details={"units": count, "format": fmt})
    return UnitImportResult(imported=count)
