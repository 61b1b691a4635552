"""Triage's HTTP routes: thin — parse, authorise (role and unit), call ``service``, shape the answer."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from services.common import audit, office
from services.common.auth import CurrentPrincipal, Principal, require_roles
from services.common.contracts.triage import Decision
from services.common.db import SessionDep
from services.common.errors import Problem
from services.common.scope import scope_of

from . import competence, service
from .daily_run import SHANGHAI
from .runs import clock_of, execute_run, get_job, queue_run
from .models import audit_log, units
from .projects import projects_of_clue
from .classifier import default_classifier
from .schemas import (
    BenchmarkCaseRead,
    ClassifyRequest,
    ClassifyResult,
    ClueList,
    ClueOverride,
    ClueRead,
    DailyRunCreate,
    DailyRunRead,
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
    read = ClueRead.model_validate(row._mapping)
    if not scope_of(principal).unit_bound:  # key projects (R-SU-5): the register is the commission's
        read.key_projects = await projects_of_clue(session, row.id, list(row.triggers))
    return read


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


@router.post("/daily-runs", response_model=DailyRunRead, status_code=202)
async def post_daily_run(request: Request, response: Response, principal: Officer,
                         body: DailyRunCreate | None = None) -> DailyRunRead:
    """Queue a run of the daily sort for a date (default today, Asia/Shanghai) and answer at once (202) with
    the run; each run issues a new version of the date's sheet. Before the cut-off the run takes the day up
    to now and leaves it open for the scheduled run after the cut-off."""
    app = request.app
    now = clock_of(app)()
    today = now.astimezone(SHANGHAI).date()
    run_date = (body.run_date if body else None) or today
    if run_date > today:
        raise Problem(422, "每日梳理不能针对未来的日期运行。", slug="run-date-in-future")
    job = await queue_run(app.state.sessions, run_date=run_date, kind="on_demand", triggered_by=principal.subject,
                          now=now)
    task = asyncio.create_task(execute_run(app.state.sessions, app.state.settings, job, now=now))
    tasks = app.state.__dict__.setdefault("daily_run_tasks", set())  # held, or the loop may drop the task
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    response.headers["location"] = f"/api/v1/triage/daily-runs/{job['id']}"
    return DailyRunRead.of(job)


@router.get("/daily-runs/{run_id}", response_model=DailyRunRead)
async def get_daily_run(run_id: uuid.UUID, request: Request, principal: SheetReader) -> DailyRunRead:
    """A run's state and progress (from the database: any replica answers)."""
    return DailyRunRead.of(await get_job(request.app.state.sessions, run_id))


@router.get("/daily-sheets/{run_date}.csv", response_class=Response,
            responses=office.binary_response(office.CSV_TYPE, "当日线索梳理表 (CSV, UTF-8 带 BOM)"))
async def get_daily_sheet_csv(run_date: date, session: SessionDep, principal: SheetReader,
                              version: Annotated[int | None, Query(ge=1)] = None) -> Response:
    run = await _sheet_for(session, principal, run_date, version)
    return office.csv_response(service.sheet_csv(run), f"daily-sheet-{run_date.isoformat()}-v{run['version']}.csv",
                               f"线索梳理表-{run_date.isoformat()}-第{run['version']}版.csv")


@router.get("/daily-sheets/{run_date}.xlsx", response_class=Response,
            responses=office.binary_response(office.XLSX_TYPE, "当日线索梳理表 (xlsx, 中文表头)"))
async def get_daily_sheet_xlsx(run_date: date, session: SessionDep, principal: SheetReader,
                               version: Annotated[int | None, Query(ge=1)] = None) -> Response:
    """当日线索梳理表 as a workbook: the same rows as the CSV, under Chinese headers."""
    run = await _sheet_for(session, principal, run_date, version)
    sheet = office.Sheet(f"线索梳理表 {run_date.isoformat()}", service.SHEET_HEADERS, service.sheet_rows(run))
    data = await run_in_threadpool(office.xlsx, sheet)
    return office.xlsx_response(data, f"daily-sheet-{run_date.isoformat()}-v{run['version']}.xlsx",
                                f"线索梳理表-{run_date.isoformat()}-第{run['version']}版.xlsx")


@router.get("/daily-sheets/{run_date}", response_model=DailySheetRead)
async def get_daily_sheet(run_date: date, session: SessionDep, principal: SheetReader,
                          version: Annotated[int | None, Query(ge=1)] = None) -> DailySheetRead:
    """当日线索梳理表: counts by channel, type, unit and decision; the newest version unless ``version`` is
    given. The clues: GET /clues?run_date=… The organization department gets the sheet of its own matters
    (12380, 选人用人)."""
    return DailySheetRead.of(await _sheet_for(session, principal, run_date, version))


async def _sheet_for(session, principal: Principal, run_date: date, version: int | None) -> dict:
    run = await service.get_run(session, run_date=run_date, version=version)
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
        raise Problem(404, "没有这个单位。", slug="unit-not-found")
    return UnitRead.model_validate(row._mapping)


@router.post("/units:import", response_model=UnitImportResult)
async def import_units(request: Request, session: SessionDep, principal: Admin) -> UnitImportResult:
    """Import a directory file (body: YAML tree or CSV, by content type); upserts and publishes each unit."""
    content_type = request.headers.get("content-type", "")
    fmt = "csv" if "csv" in content_type else "yaml" if "yaml" in content_type else None
    if fmt is None:
        raise Problem(415, "单位名录请以 text/csv 或 application/yaml 格式上传。", slug="unsupported-media-type")
    try:
        content = (await request.body()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(422, "单位名录文件须为 UTF-8 编码。", slug="unit-invalid") from exc
    records = parse_directory(content, fmt=fmt)
    count = await upsert_units(session, request.app.state.outbox, records)
    await audit.record(session, audit_log, actor=principal, action="units.import", entity_type="unit_directory",
                       entity_id="*", details={"units": count, "format": fmt})
    return UnitImportResult(imported=count)
