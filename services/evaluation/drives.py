"""Campaign drives (专项行动) and their tasks: phases with dates, tasks handed to a lead unit and responsible
units with a deadline, progress reported by the units, overdue parts surfaced (R-SU-2).

Each responsible unit answers for its own part: a task is done when every unit has reported it done, and a
unit's part is overdue (逾期未完成) once the deadline has passed without its "done"."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.calendar import SHANGHAI
from services.common.contracts.drives import DriveTaskAssigned, DriveTaskReported
from services.common.errors import Problem
from services.common.ids import new_id
from services.common.outbox import Outbox
from services.common.scope import Scope

from .drive_models import drive_tasks, drives, task_reports

PART_LABELS = {"done": "已完成", "in_progress": "推进中", "not_started": "未报送进展", "overdue": "逾期未完成"}


def today() -> date:
    return datetime.now(SHANGHAI).date()


async def create_drive(session: AsyncSession, *, title: str, phases: list[dict[str, Any]], by: str) -> uuid.UUID:
    for earlier, later in pairwise(phases):
        if later["starts_on"] < earlier["starts_on"]:
            raise Problem(422, f"阶段“{later['name']}”开始早于上一阶段“{earlier['name']}”，请按先后顺序填写。",
                          slug="phase-order")
    for p in phases:
        if p["ends_on"] < p["starts_on"]:
            raise Problem(422, f"阶段“{p['name']}”的结束日期早于开始日期。", slug="phase-dates")
    drive_id = new_id()
    await session.execute(insert(drives).values(
        id=drive_id, title=title, created_by=by,
        phases=[{**p, "starts_on": p["starts_on"].isoformat(), "ends_on": p["ends_on"].isoformat()} for p in phases]))
    return drive_id


async def _drive(session: AsyncSession, drive_id: uuid.UUID):
    row = (await session.execute(select(drives).where(drives.c.id == drive_id))).first()
    if row is None:
        raise Problem(404, "没有这项专项行动。", slug="not-found")
    return row


async def add_task(session: AsyncSession, outbox: Outbox, *, drive_id: uuid.UUID, body: dict[str, Any]
                   ) -> uuid.UUID:
    drive = await _drive(session, drive_id)
    names = [p["name"] for p in drive.phases]
    if body.get("phase") is not None and body["phase"] not in names:
        raise Problem(422, f"本行动没有“{body['phase']}”阶段（可选：{'、'.join(names)}）。", slug="phase-unknown")
    units = list(dict.fromkeys([body["lead_unit"], *body["responsible_units"]]))  # the lead unit answers too
    task_id = new_id()
    await session.execute(insert(drive_tasks).values(
        id=task_id, drive_id=drive_id, phase=body.get("phase"), title=body["title"], lead_unit=body["lead_unit"],
        responsible_units=units, deadline=body["deadline"], handed_down_from=body.get("handed_down_from")))
    await outbox.publish(session, DriveTaskAssigned(
        task_id=task_id, drive_id=drive_id, drive_title=drive.title, phase=body.get("phase"), title=body["title"],
        lead_unit=body["lead_unit"], responsible_units=units, deadline=body["deadline"],
        handed_down_from=body.get("handed_down_from"), assigned_at=datetime.now(UTC)))
    return task_id


def _part(reports: list, deadline: date, on: date) -> str:
    if any(r.done for r in reports):
        return "done"
    if deadline < on:
        return "overdue"
    return "in_progress" if reports else "not_started"


async def _tasks(session: AsyncSession, statement, scope: Scope) -> list[dict[str, Any]]:
    tasks = (await session.execute(statement)).all()
    if scope.unit_bound:
        tasks = [t for t in tasks if scope.unit_id in t.responsible_units]
    ids = [t.id for t in tasks]
    reports: dict[tuple, list] = {}
    if ids:
        for r in (await session.execute(select(task_reports).where(task_reports.c.task_id.in_(ids))
                                        .order_by(task_reports.c.reported_at))).all():
            reports.setdefault((r.task_id, r.unit_id), []).append(r)
    on = today()
    out = []
    for t in tasks:
        units = [scope.unit_id] if scope.unit_bound else list(t.responsible_units)
        parts = []
        for unit in units:
            mine = reports.get((t.id, unit), [])
            state = _part(mine, t.deadline, on)
            last = mine[-1] if mine else None
            parts.append({"unit_id": unit, "role_label": "牵头单位" if unit == t.lead_unit else "责任单位",
                          "state": state, "state_label": PART_LABELS[state],
                          "percent": last.percent if last else 0, "last_progress": last.progress if last else None})
        out.append({"id": t.id, "drive_id": t.drive_id, "phase": t.phase, "title": t.title,
                    "lead_unit": t.lead_unit, "responsible_units": list(t.responsible_units), "deadline": t.deadline,
                    "handed_down_from": t.handed_down_from, "parts": parts,
                    "done": all(p["state"] == "done" for p in parts),
                    "overdue": any(p["state"] == "overdue" for p in parts)})
    return out


def _phase_now(phases: list[dict[str, Any]], on: date) -> str | None:
    return next((p["name"] for p in phases if p["starts_on"] <= on.isoformat() <= p["ends_on"]), None)


async def view(session: AsyncSession, drive_id: uuid.UUID, scope: Scope) -> dict[str, Any]:
    drive = await _drive(session, drive_id)
    tasks = await _tasks(session, select(drive_tasks).where(drive_tasks.c.drive_id == drive_id)
                         .order_by(drive_tasks.c.deadline, drive_tasks.c.created_at), scope)
    if scope.unit_bound and not tasks:
        raise Problem(404, "没有这项专项行动。", slug="not-found")  # no task of its own: as if absent
    return {"id": drive.id, "title": drive.title, "phases": drive.phases,
            "current_phase": _phase_now(drive.phases, today()), "tasks": tasks,
            "overdue_tasks": sum(t["overdue"] for t in tasks), "done_tasks": sum(t["done"] for t in tasks)}


async def list_drives(session: AsyncSession, scope: Scope) -> list[dict[str, Any]]:
    rows = (await session.execute(select(drives).order_by(drives.c.created_at.desc()))).all()
    if scope.unit_bound:
        mine = set((await session.scalars(select(drive_tasks.c.drive_id).distinct().where(
            drive_tasks.c.responsible_units.any(scope.unit_id)))).all())
        rows = [r for r in rows if r.id in mine]
    return [{"id": r.id, "title": r.title, "phases": r.phases, "current_phase": _phase_now(r.phases, today())}
            for r in rows]


async def report(session: AsyncSession, outbox: Outbox, *, task_id: uuid.UUID, unit_id: str, progress: str,
                 percent: int, done: bool, by: str, scope: Scope) -> dict[str, Any]:
    task = (await session.execute(select(drive_tasks).where(drive_tasks.c.id == task_id))).first()
    scope.require(task is not None and (not scope.unit_bound or scope.unit_id in task.responsible_units), "任务")
    if unit_id not in task.responsible_units:
        raise Problem(422, f"单位 {unit_id} 不是这项任务的牵头或责任单位。", slug="unit-not-responsible")
    if done and percent != 100:
        raise Problem(422, "报送完成时进度应为 100%。", slug="percent-done")
    reported_at = datetime.now(UTC)
    await session.execute(insert(task_reports).values(
        id=new_id(), task_id=task_id, unit_id=unit_id, progress=progress, percent=percent, done=done,
        reported_by=by, reported_at=reported_at))
    await outbox.publish(session, DriveTaskReported(task_id=task_id, unit_id=unit_id, done=done,
                                                    reported_at=reported_at))
    [read] = await _tasks(session, select(drive_tasks).where(drive_tasks.c.id == task_id), scope)
    return read


async def overdue(session: AsyncSession) -> list[dict[str, Any]]:
    """逾期未完成: every unit's overdue part across all drives, for the 督查考评办."""
    tasks = await _tasks(session, select(drive_tasks).where(drive_tasks.c.deadline < today())
                         .order_by(drive_tasks.c.deadline), Scope())
    return [{"task_id": t["id"], "drive_id": t["drive_id"], "title": t["title"], "deadline": t["deadline"],
             "unit_id": p["unit_id"], "role_label": p["role_label"], "state_label": p["state_label"]}
            for t in tasks for p in t["parts"] if p["state"] == "overdue"]
