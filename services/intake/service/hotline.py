"""热线回告: what a hotline learns about its own tickets — the stages recorded for the callback worker,
and the status the line pulls by its own ticket id.

Only what the reporter may know goes to a line: the status and its label, the feedback deadline, and the
messages written for the reporter. Never the unit a kept clue concerns, the problem type or 五必查.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Row, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.ids import new_id

from .. import catalog
from ..models import clues, hotline_updates
from .accepting import SHANGHAI

_LINE_OF_CHANNEL = {channel: line for line, channel in catalog.HOTLINE_CHANNELS.items()}


def line_of(channel: str) -> str | None:
    return _LINE_OF_CHANNEL.get(channel)


def expected_datetime(deadline: date | None) -> str | None:
    # A deadline is a working day; the unit has until that day's end.
    return datetime.combine(deadline, time(23, 59, 59), SHANGHAI).isoformat() if deadline else None


def _payload(clue: Row, *, line: str, stage: str, key: str, at: datetime, message: str | None) -> dict[str, Any]:
    return {
        "idempotency_key": key,
        "line": line,
        "external_id": clue.external_id,
        "tracking_number": clue.tracking_number,
        "stage": stage,
        "stage_label": catalog.HOTLINE_STAGES[stage],
        "status": clue.status,
        "status_label": catalog.STATUS_LABELS.get(clue.status, clue.status),
        "expected_datetime": expected_datetime(clue.deadline),
        "message": message,
        "occurred_at": at.astimezone(SHANGHAI).isoformat(),
    }


async def record_stage(session: AsyncSession, rows: Sequence[Row], *, stage: str, at: datetime,
                       message: str | None = None) -> int:
    """Queue a callback for each hotline ticket among ``rows`` (clues that just reached ``stage``), in the
    caller's transaction; other channels are skipped. Rows need channel, external_id, tracking_number,
    status and deadline."""
    values = []
    for clue in rows:
        line = line_of(clue.channel)
        if line is None or not clue.external_id:
            continue
        key = str(new_id())
        values.append({"idempotency_key": key, "line": line, "clue_id": clue.id, "stage": stage, "occurred_at": at,
                       "payload": _payload(clue, line=line, stage=stage, key=key, at=at, message=message)})
    if values:
        await session.execute(insert(hotline_updates), values)
    return len(values)


async def record_feedback_stage(session: AsyncSession, *, clue_id: uuid.UUID, stage: str, message: str,
                                at: datetime) -> int:
    """反馈: the reporter's message (an outcome, a transfer) passed on for the line to tell its caller."""
    if stage in catalog.HOTLINE_UNFORWARDED_FEEDBACK:
        return 0
    clue = (await session.execute(select(clues).where(clues.c.id == clue_id))).first()
    return await record_stage(session, [clue] if clue else [], stage="feedback", at=at, message=message)


async def ticket_status(session: AsyncSession, *, line: str, external_id: str) -> dict[str, Any] | None:
    """The line's own ticket as it stands, with every stage it reached; None if the line has no such ticket."""
    clue = (await session.execute(
        select(clues).where(clues.c.channel == catalog.HOTLINE_CHANNELS[line], clues.c.external_id == external_id)
    )).first()
    if clue is None:
        return None
    updates = (await session.execute(
        select(hotline_updates.c.stage, hotline_updates.c.occurred_at, hotline_updates.c.payload,
               hotline_updates.c.status)
        .where(hotline_updates.c.clue_id == clue.id).order_by(hotline_updates.c.id)
    )).all()
    return {
        "id": clue.id,
        "external_id": clue.external_id,
        "tracking_number": clue.tracking_number,
        "status": clue.status,
        "status_label": catalog.STATUS_LABELS.get(clue.status, clue.status),
        "received_at": clue.received_at,
        "updated_at": clue.updated_at,
        "expected_datetime": expected_datetime(clue.deadline),
        "stages": [{"stage": u.stage, "stage_label": catalog.HOTLINE_STAGES.get(u.stage, u.stage),
                    "occurred_at": u.occurred_at, "message": u.payload.get("message"),
                    "callback": u.status} for u in updates],
    }
