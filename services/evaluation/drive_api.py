"""Routes of campaign drives (专项行动) and their tasks, under ``/api/v1/evaluation/drives``.

Not under ``/campaigns``: those paths are the public 万人评机关 results. The 督查考评办 (evaluation_admin)
runs drives; a unit handler sees and reports on its own unit's tasks only (services/common/scope.py)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from services.common.auth import Principal, require_roles
from services.common.db import SessionDep
from services.common.errors import Problem
from services.common.scope import scope_of
from services.common.text import StorableModel

from . import drives

router = APIRouter(prefix="/api/v1/evaluation/drives", tags=["drives"])

Office = Annotated[Principal, require_roles("evaluation_admin")]
Reader = Annotated[Principal, require_roles("evaluation_admin", "auditor", "org_officer", "unit_handler")]
Unit = Annotated[str, Field(min_length=1, max_length=64)]


class Phase(BaseModel):
    name: str = Field(min_length=2, max_length=100)
    starts_on: date
    ends_on: date


class DriveCreate(StorableModel):
    title: str = Field(min_length=2, max_length=200)
    phases: list[Phase] = Field(min_length=1, max_length=20)


class TaskCreate(StorableModel):
    title: str = Field(min_length=2, max_length=500)
    phase: str | None = Field(None, max_length=100)
    lead_unit: str = Field(min_length=1, max_length=64, description="牵头单位")
    responsible_units: list[Unit] = Field(default_factory=list, max_length=500, description="责任单位")
    deadline: date = Field(description="完成时限")
    handed_down_from: str | None = Field(None, max_length=200, description="交办来源，如巡视反馈意见")


class ProgressReport(StorableModel):
    progress: str = Field(min_length=2, max_length=5000)
    percent: int = Field(ge=0, le=100)
    done: bool = False
    unit_id: str | None = Field(None, max_length=64, description="督查考评办代报时填写")


@router.post("", status_code=201)
async def post_drive(body: DriveCreate, session: SessionDep, principal: Office) -> dict[str, Any]:
    drive_id = await drives.create_drive(session, title=body.title,
                                         phases=[p.model_dump() for p in body.phases], by=principal.subject)
    return await drives.view(session, drive_id, scope_of(principal))


@router.get("")
async def get_drives(session: SessionDep, principal: Reader) -> list[dict[str, Any]]:
    return await drives.list_drives(session, scope_of(principal))


@router.get("/overdue")
async def get_overdue(session: SessionDep, principal: Office) -> list[dict[str, Any]]:
    """逾期未完成的任务，逐单位列出."""
    return await drives.overdue(session)


@router.get("/{drive_id}")
async def get_drive(drive_id: uuid.UUID, session: SessionDep, principal: Reader) -> dict[str, Any]:
    return await drives.view(session, drive_id, scope_of(principal))


@router.post("/{drive_id}/tasks", status_code=201)
async def post_task(drive_id: uuid.UUID, body: TaskCreate, request: Request, session: SessionDep,
                    principal: Office) -> dict[str, Any]:
    task_id = await drives.add_task(session, request.app.state.outbox, drive_id=drive_id, body=body.model_dump())
    view = await drives.view(session, drive_id, scope_of(principal))
    return next(t for t in view["tasks"] if t["id"] == task_id)


@router.post("/tasks/{task_id}/reports", status_code=201)
async def post_report(task_id: uuid.UUID, body: ProgressReport, request: Request, session: SessionDep,
                      principal: Reader) -> dict[str, Any]:
    """进展报送: a unit handler for its own unit; the office may report for a named unit."""
    scope = scope_of(principal)
    if scope.unit_bound:
        unit_id = scope.unit_id
    elif principal.has_role("evaluation_admin") and body.unit_id:
        unit_id = body.unit_id
    else:
        raise Problem(403, "进展由责任单位报送；督查考评办代报须写明单位（unit_id）。", slug="forbidden-role")
    return await drives.report(session, request.app.state.outbox, task_id=task_id, unit_id=unit_id,  # type: ignore[arg-type]
                               progress=body.progress, percent=body.percent, done=body.done,
                               by=principal.subject, scope=scope)
