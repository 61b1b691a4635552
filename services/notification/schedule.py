"""The scheduler: the daily 督办 pass (reminders, escalation) and the monthly bulletin (月度通报), composed as
a draft for the office to review and publish.

Both are idempotent (deadlines remember what was sent; bulletins and deliveries are unique by source),
so running the pass often, or on several replicas, sends nothing twice.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI

from services.common.db import session_scope
from services.common.observability import record_sla_breach

from . import service

log = logging.getLogger(__name__)


async def run_schedule_once(app: FastAPI) -> dict[str, int]:
    notifier = app.state.notifier
    now = service.now_utc()
    today = service.today_local(now)
    async with session_scope(app.state.sessions) as session:
        counts = await service.remind_and_escalate(session, notifier=notifier, today=today)
    async with session_scope(app.state.sessions) as session:
        counts["rating_reminders"] = await service.remind_unrated(session, notifier=notifier, today=today)
    # Counted once committed, so a rolled-back pass is not counted. A unit's transfer deadline is watched
    # only here; rectification deadlines are accountability's, which counts them when it detects them.
    record_sla_breach("notification", "transfer-deadline", counts["escalated_transfer"])
    async with session_scope(app.state.sessions) as session:
        counts["monthly"] = int(await service.compose_monthly_bulletin(
            session, month=service.previous_month(today), published_at=now, notifier=notifier))
    return counts


async def schedule_worker(app: FastAPI) -> None:
    """Background worker (``ServiceSpec.workers``)."""
    while True:
        try:
            counts = await run_schedule_once(app)
            if any(counts.values()):
                log.info("schedule pass", extra=counts)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 — try again next tick
            log.warning("schedule pass failed", extra={"error": repr(exc)})
        await asyncio.sleep(app.state.settings.schedule_poll_seconds)
