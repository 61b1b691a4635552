"""Daily runs as jobs: a request queues one and answers at once; the run reports its progress in the
database (``daily_run_jobs``), so any replica can answer ``GET /daily-runs/{id}``. Also the catch-up of a
missed cut-off at start-up and the scheduler, both on an injected clock."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.db import session_scope
from services.common.errors import Problem

from .daily_run import lock_key, last_cutoff_date, next_cutoff, run_daily
from .models import daily_run_jobs, daily_runs
from .settings import TriageSettings

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def clock_of(app) -> Clock:
    """The app's clock: the system's, unless a test set ``app.state.clock``."""
    return getattr(app.state, "clock", None) or system_clock


async def queue_run(sessions: async_sessionmaker[AsyncSession], *, run_date: date, kind: str, triggered_by: str,
                    now: datetime) -> dict[str, Any]:
    row = {"id": uuid.uuid4(), "run_date": run_date, "kind": kind, "state": "queued", "triggered_by": triggered_by,
           "requested_at": now, "processed": 0}
    async with session_scope(sessions) as session:
        await session.execute(insert(daily_run_jobs).values(**row))
    return {**row, "started_at": None, "finished_at": None, "total": None, "version": None, "error": None}


async def _set(sessions, job_id, **values) -> None:
    async with session_scope(sessions) as session:
        await session.execute(update(daily_run_jobs).where(daily_run_jobs.c.id == job_id).values(**values))


async def execute_run(sessions: async_sessionmaker[AsyncSession], settings: TriageSettings, job: dict[str, Any], *,
                      now: datetime) -> dict[str, Any]:
    """Run a queued job to done or failed; a failure is recorded on the job, never lost in a log only."""
    job_id = job["id"]
    await _set(sessions, job_id, state="running", started_at=now)

    async def progress(total: int, processed: int) -> None:
        await _set(sessions, job_id, total=total, processed=processed)

    try:
        run, _ = await run_daily(sessions, settings, run_date=job["run_date"], triggered_by=job["triggered_by"],
                                 now=now, only_if_open=job["kind"] != "on_demand", job_id=job_id, progress=progress)
    except asyncio.CancelledError:
        await _set(sessions, job_id, state="failed", finished_at=datetime.now(UTC), error="运行被中断（服务停止）。")
        raise
    except Exception as exc:  # noqa: BLE001 — recorded on the job: an officer sees it and runs the date again
        log.exception("daily run failed", extra={"run_date": job["run_date"].isoformat(), "job": str(job_id)})
        await _set(sessions, job_id, state="failed", finished_at=datetime.now(UTC),
                   error=f"每日梳理运行失败：{type(exc).__name__}")
        return await get_job(sessions, job_id)
    await _set(sessions, job_id, state="done", finished_at=datetime.now(UTC), version=run["version"])
    return await get_job(sessions, job_id)


async def get_job(sessions: async_sessionmaker[AsyncSession], job_id: uuid.UUID) -> dict[str, Any]:
    async with sessions() as session:
        row = (await session.execute(select(daily_run_jobs).where(daily_run_jobs.c.id == job_id))).first()
    if row is None:
        raise Problem(404, "没有这个每日梳理运行任务。", slug="daily-run-not-found")
    return dict(row._mapping)


async def fail_abandoned(sessions: async_sessionmaker[AsyncSession], *, now: datetime,
                         older_than: timedelta = timedelta(hours=1)) -> int:
    """Jobs left queued or running by a replica that stopped: a live run holds its date's advisory lock for
    its whole transaction, so a job whose date lock is free and that is older than ``older_than`` will
    never finish. Marked failed (the officer runs the date again). Returns how many."""
    failed = 0
    async with sessions() as session:
        stale = (await session.execute(select(daily_run_jobs.c.id, daily_run_jobs.c.run_date).where(
            daily_run_jobs.c.state.in_(("queued", "running")), daily_run_jobs.c.requested_at < now - older_than))).all()
    for job_id, run_date in stale:
        async with session_scope(sessions) as session:
            free = await session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": lock_key(run_date)})
            if free:
                await session.execute(update(daily_run_jobs).where(
                    daily_run_jobs.c.id == job_id, daily_run_jobs.c.state.in_(("queued", "running"))).values(
                    state="failed", finished_at=now, error="运行中断（服务曾停止），请重新发起当日梳理。"))
                failed += 1
    return failed


async def catch_up(sessions: async_sessionmaker[AsyncSession], settings: TriageSettings, *,
                   now: datetime) -> dict[str, Any] | None:
    """If the latest cut-off passed without a run that closed its day (the service was down at 17:30), run
    that day now. Returns the job, or None when nothing was missed."""
    missed = last_cutoff_date(now, settings.daily_cutoff)
    async with sessions() as session:
        closed = await session.scalar(select(daily_runs.c.version).where(
            daily_runs.c.run_date == missed, daily_runs.c.closes_day).limit(1))
    if closed is not None:
        return None
    log.warning("catching up a missed daily cut-off", extra={"run_date": missed.isoformat()})
    job = await queue_run(sessions, run_date=missed, kind="catch_up", triggered_by="catch-up", now=now)
    return await execute_run(sessions, settings, job, now=now)


async def daily_run_scheduler(app) -> None:
    """Background worker: catch up a missed cut-off, then run the daily sort at each cut-off (Asia/Shanghai)."""
    settings: TriageSettings = app.state.settings
    if not settings.scheduler_enabled:
        return
    clock = clock_of(app)
    try:
        await fail_abandoned(app.state.sessions, now=clock())
        await catch_up(app.state.sessions, settings, now=clock())
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 — the scheduled runs go on; an officer can run the date on demand
        log.exception("daily run catch-up failed")
    while True:
        target = next_cutoff(clock(), settings.daily_cutoff)
        await asyncio.sleep(max(0.0, (target - clock()).total_seconds()))
        run_date = target.astimezone(target.tzinfo).date()
        try:
            job = await queue_run(app.state.sessions, run_date=run_date, kind="scheduled", triggered_by="scheduler",
                                  now=clock())
            await execute_run(app.state.sessions, settings, job, now=max(clock(), target))
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 — logged; an officer can run the date on demand
            log.exception("scheduled daily run failed", extra={"run_date": run_date.isoformat()})
            await asyncio.sleep(60)
