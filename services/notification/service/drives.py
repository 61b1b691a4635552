"""Campaign-drive tasks (专项行动任务): each responsible unit is told of its task, and its deadline is watched
like a rectification's (reminder before, escalation to the supervising office after) until it reports done."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.drives import DriveTaskAssigned, DriveTaskReported

from ..models import deadlines
from .core import Notifier, notify_unit
from .oversight import watch_deadline

KIND = "drive_task"


def part_id(task_id: uuid.UUID, unit_id: str) -> uuid.UUID:
    """One watched deadline per unit's part of a task (stable, so a replay changes nothing)."""
    return uuid.uuid5(task_id, unit_id)


async def assign(session: AsyncSession, *, notifier: Notifier, event: DriveTaskAssigned, source: str) -> None:
    for unit_id in event.responsible_units:
        await notify_unit(session, notifier=notifier, unit_id=unit_id, template="drive_task_assigned",
                          source=f"{source}:{unit_id}", drive_title=event.drive_title, phase=event.phase,
                          title=event.title, deadline=event.deadline, lead=unit_id == event.lead_unit,
                          handed_down_from=event.handed_down_from)
        await watch_deadline(session, kind=KIND, ref_id=part_id(event.task_id, unit_id), unit_id=unit_id,
                             deadline=event.deadline, label=event.title)


async def reported(session: AsyncSession, *, event: DriveTaskReported) -> None:
    if event.done:
        await session.execute(update(deadlines).where(
            deadlines.c.kind == KIND, deadlines.c.ref_id == part_id(event.task_id, event.unit_id),
            deadlines.c.resolved_at.is_(None)).values(resolved_at=datetime.now(UTC)))
