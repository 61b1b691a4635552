"""一天一梳理: the daily run, set-based.

One transaction per run date, serialised by an advisory lock: read every pending clue received up to the
cut-off in one query, classify/dedupe/route/decide in memory (``screen.triage_batch``, off the event loop),
then write the outcomes with COPY into a temporary table and a single UPDATE … FROM, and the
``clue-triaged`` events with COPY straight into the outbox. Each run of a date issues a new
version of its sheet (the older ones stay); the sheet counts every clue sorted for the date, in earlier
versions and on arrival (即查即办) too. An on-demand run before the cut-off takes the day up to the moment it
runs and leaves the day open; the run after the cut-off closes it. The scheduler and the start-up catch-up
never issue a second closing version (``only_if_open``), so two replicas at 17:30 give one sheet.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from time import perf_counter as _perf
from typing import Any

import orjson
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.calendar import SHANGHAI, default_calendar
from services.common.contracts.base import envelope_bytes
from services.common.contracts.triage import (
    ClueTriaged,
    DailySheetCount,
    DailySheetPublished,
)
from services.common.db import session_scope
from services.common.logs import traceparent_var
from services.common.outbox import Outbox

from . import dedupe
from .classifier import default_classifier
from .models import daily_runs, outbox
from .screen import ClueInput, Deadlines, Outcome, Reference, cluster_of, triage_batch
from .settings import TriageSettings
from .taxonomy import default_taxonomy
from .units import load_directory

log = logging.getLogger(__name__)

_RESULT_COLUMNS = (
    "id", "family", "type_code", "tags", "confidence", "evidence", "must_investigate", "triggers",
    "routed_unit_id", "route_reason", "state", "decision", "reason", "deadline", "merged_into", "sources",
    "enterprise", "model_version", "conduct",
)


def cutoff_at(run_date: date, cutoff: str) -> datetime:
    hour, minute = (int(x) for x in cutoff.split(":"))
    return datetime.combine(run_date, time(hour, minute), tzinfo=SHANGHAI)


def next_cutoff(now: datetime, cutoff: str) -> datetime:
    local = now.astimezone(SHANGHAI)
    candidate = cutoff_at(local.date(), cutoff)
    return candidate if candidate > local else cutoff_at(local.date() + timedelta(days=1), cutoff)


def deadlines_of(settings: TriageSettings) -> Deadlines:
    return Deadlines(settings.transfer_working_days, settings.enterprise_transfer_working_days,
                     settings.accept_working_days, settings.enterprise_accept_working_days)


_TRIAGED_TYPE = ClueTriaged.event_type()


def clue_triaged_payload(o: Outcome, run_date: date, *, now: str, traceparent: str | None) -> bytes:
    """The CloudEvent bytes of ``clue_triaged(o)``, built without a model round trip per clue: at 100,000
    clues the models cost seconds. ``test_triage_events`` checks it decodes to the same contract."""
    c = o.classification
    data = {
        "clue_id": str(o.clue.id), "tracking_number": o.clue.tracking_number, "run_date": run_date.isoformat(),
        "family": c.family, "type_code": c.type_code, "tags": list(c.tags), "confidence": c.confidence,
        "unit_id": o.routed_unit_id, "decision": o.decision, "must_investigate": bool(o.triggers),
        "must_investigate_triggers": o.triggers, "enterprise_related": o.enterprise,
        "deadline": o.deadline.isoformat() if o.deadline else None,
        "merged_into": str(o.merged_into) if o.merged_into else None, "reason": o.reason,
        "channel": o.clue.channel, "received_at": o.clue.received_at.isoformat(),
    }
    return envelope_bytes(service="triage", event_type=_TRIAGED_TYPE, subject=str(o.clue.id), data=data,
                          traceparent=traceparent, time=now)


def clue_triaged(o: Outcome, run_date: date) -> ClueTriaged:
    c = o.classification
    return ClueTriaged(
        clue_id=o.clue.id, tracking_number=o.clue.tracking_number, run_date=run_date, family=c.family,
        type_code=c.type_code, tags=list(c.tags), confidence=c.confidence, unit_id=o.routed_unit_id,
        decision=o.decision, must_investigate=bool(o.triggers), must_investigate_triggers=o.triggers,
        enterprise_related=o.enterprise, deadline=o.deadline, merged_into=o.merged_into, reason=o.reason,
        channel=o.clue.channel, received_at=o.clue.received_at,
    )


async def _raw(session: AsyncSession):
    conn = await session.connection()
    return (await conn.get_raw_connection()).driver_connection


def run_date_of(at: datetime, cutoff: str) -> date:
    """The day whose window holds a clue received at ``at``: today's until the cut-off, then the next."""
    local = at.astimezone(SHANGHAI)
    return local.date() if local <= cutoff_at(local.date(), cutoff) else local.date() + timedelta(days=1)


def last_cutoff_date(now: datetime, cutoff: str) -> date:
    """The date of the latest cut-off at or before ``now``."""
    local = now.astimezone(SHANGHAI)
    return local.date() if local >= cutoff_at(local.date(), cutoff) else local.date() - timedelta(days=1)


def lock_key(run_date: date) -> int:
    return zlib.crc32(f"triage-daily-run:{run_date.isoformat()}".encode())


Progress = Callable[[int, int], Awaitable[None]]


async def run_daily(
    sessions: async_sessionmaker[AsyncSession],
    settings: TriageSettings,
    *,
    run_date: date,
    triggered_by: str,
    now: datetime | None = None,
    only_if_open: bool = False,
    job_id: Any = None,
    progress: Progress | None = None,
) -> tuple[dict[str, Any], bool]:
    """Run the daily sort for ``run_date`` and issue a new version of its sheet. Returns (the version's row,
    whether it ran now). ``only_if_open`` (the scheduler, the catch-up): once a version has closed the day,
    return it instead of running again, so two replicas at the cut-off issue one sheet."""
    async with session_scope(sessions) as session:
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(run_date)})
        newest = (await session.execute(select(daily_runs).where(daily_runs.c.run_date == run_date)
                                        .order_by(daily_runs.c.version.desc()).limit(1))).first()
        if only_if_open and newest is not None and newest.closes_day:
            return dict(newest._mapping), False
        version = (newest.version + 1) if newest is not None else 1
        started = now or datetime.now(UTC)
        # An early on-demand run takes the day up to the moment it runs and leaves the day open: clues that
        # arrive later the same day wait for the run after the cut-off, not for tomorrow's.
        day_cutoff = cutoff_at(run_date, settings.daily_cutoff)
        window_end = min(day_cutoff, started)
        raw = await _raw(session)
        events = Outbox(outbox, settings)
        clock = _Clock()
        # streamed from a cursor straight into light inputs: no second copy of the day as driver records
        clues = [ClueInput(*r) async for r in raw.cursor(
            f"SELECT {_CLUE_COLUMNS} FROM triage.clues WHERE state = 'pending' AND received_at <= $1 "  # noqa: S608 — constant column list
            "ORDER BY received_at, id", window_end, prefetch=5000)]
        if progress:
            await progress(len(clues), 0)
        references = await read_references(raw, window_end, settings)
        directory = await load_directory(session)
        classifier = default_classifier(settings.classifier_dir)  # the newest version, reloaded when one appears
        clock.lap("read")
        # Dedupe the whole day once, then sort and write it chunk by chunk (whole clusters per chunk, so a
        # duplicate's 五必查 trigger or 涉企 flag still reaches its primary): only one chunk's outcomes,
        # evidence, COPY records and events are in memory at a time.
        primaries = await asyncio.to_thread(cluster_of, clues, references, threshold=settings.duplicate_threshold,
                                            window=_window(settings))
        clock.lap("dedupe")
        ran = 0
        for chunk, chunk_primaries in chunks_of(clues, primaries, len(references), settings.daily_run_chunk):
            outcomes, ref_sources = await asyncio.to_thread(
                triage_batch, chunk, references, taxonomy=default_taxonomy(), directory=directory,
                calendar=default_calendar(), run_date=run_date, deadlines=deadlines_of(settings),
                duplicate_threshold=settings.duplicate_threshold, duplicate_window=_window(settings),
                classifier=classifier, primaries=chunk_primaries,
            )
            clock.lap("compute")
            await write_outcomes(session, outcomes, ref_sources, run_date=run_date, at=started, events=events,
                                 clock=clock)
            ran += len(outcomes)
            del outcomes, ref_sources
            if progress:
                await progress(len(clues), ran)
        del clues, references, primaries
        # clues screened on arrival (即查即办) in this window join this day's sheet
        await raw.execute("UPDATE triage.clues SET run_date = $1 WHERE run_date IS NULL AND state <> 'pending' "
                          "AND received_at <= $2", run_date, window_end)
        # the sheet is the whole day's: clues of earlier versions and those screened on arrival count too
        counts, total = await day_counts(raw, run_date)
        finished = datetime.now(UTC)
        sheet = {"run_date": run_date.isoformat(), "version": version, "window_end": window_end.isoformat(),
                 "total": total, **counts, "published_at": finished.isoformat(),
                 "model_version": classifier.version}
        row = {"run_date": run_date, "version": version, "closes_day": started >= day_cutoff, "job_id": job_id,
               "window_end": window_end, "started_at": started, "finished_at": finished, "total": total,
               "sheet": sheet, "triggered_by": triggered_by}
        await session.execute(insert(daily_runs).values(**row))
        published = DailySheetPublished(
            run_date=run_date, total=total, published_at=finished,
            **{dim: [DailySheetCount(**c) for c in counts[dim]] for dim in counts},
        )
        await events.copy_many(raw, [published])
        clock.lap("sheet")
        if progress:
            await progress(ran, ran)
        log.info("daily run done", extra={"run_date": run_date.isoformat(), "version": version, "clues": ran,
                                          "seconds": clock.laps})
        return {**row, "confirmed_by": None, "confirmed_at": None, "ran": ran}, True


_CLUE_COLUMNS = "id, tracking_number, channel, subject, text, unit_id, enterprise_related, received_at"


def chunks_of(clues: list[ClueInput], primaries: list[int], offset: int, size: int):
    """(chunk, its primaries over references + chunk) with every cluster whole inside one chunk: a clue
    goes to its in-run primary's chunk, any other clue to the chunk being filled (≈ ``size`` clues)."""
    chunk_of: list[int] = [0] * len(clues)
    members: list[list[int]] = [[]]
    for i in range(len(clues)):
        root = primaries[offset + i]
        if root >= offset and root != offset + i:
            c = chunk_of[root - offset]
        else:
            if len(members[-1]) >= size:
                members.append([])
            c = len(members) - 1
        chunk_of[i] = c
        members[c].append(i)
    for indices in members:
        if not indices:
            continue
        position = {i: k for k, i in enumerate(indices)}
        tail = [root if (root := primaries[offset + i]) < offset else offset + position[root - offset]
                for i in indices]
        yield [clues[i] for i in indices], _Shifted(offset, tail)


class _Shifted:
    """Primaries over references + one chunk, without a copy of the references' part (each its own)."""

    def __init__(self, offset: int, tail: list[int]) -> None:
        self.offset, self.tail = offset, tail

    def __getitem__(self, k: int) -> int:
        return k if k < self.offset else self.tail[k - self.offset]


async def _with_pending_duplicates(raw, clue: ClueInput, settings: TriageSettings) -> list[ClueInput]:
    """The clue and the earlier, still pending clues it duplicates: the cluster is screened now together
    (the earliest stays primary and takes the 涉企 flag), rather than the re-report left unmerged."""
    rows = await raw.fetch(
        f"SELECT {_CLUE_COLUMNS} FROM triage.clues WHERE state = 'pending' AND id <> $1 "  # noqa: S608 — constant column list
        "AND received_at > $2 AND received_at <= $3 ORDER BY received_at, id",
        clue.id, clue.received_at - _window(settings), clue.received_at)
    if not rows:
        return [clue]
    earlier = [ClueInput(**dict(r)) for r in rows]
    roots = dedupe.cluster([dedupe.DedupeItem(c.text, c.subject, c.received_at) for c in [*earlier, clue]],
                           threshold=settings.duplicate_threshold, window=_window(settings))
    return [c for c, root in zip(earlier, roots, strict=False) if root == roots[-1]] + [clue]


def _window(settings: TriageSettings) -> timedelta:
    return timedelta(days=settings.duplicate_window_days)


async def read_references(raw, window_end: datetime, settings: TriageSettings) -> list[Reference]:
    """Earlier screened clues a new one may duplicate (it then merges into them)."""
    rows = await raw.fetch(
        "SELECT id, tracking_number, text, subject, received_at FROM triage.clues "
        "WHERE state <> 'pending' AND decision IS DISTINCT FROM 'merge' "
        "AND received_at > $1 AND received_at <= $2 ORDER BY received_at, id",
        window_end - _window(settings), window_end,
    )
    return [Reference(**dict(r)) for r in rows]


async def day_counts(raw, run_date: date) -> tuple[dict[str, list[dict[str, Any]]], int]:
    """当日线索梳理表 counts by channel, type, unit and decision over every clue sorted for the date."""
    rows = await raw.fetch(
        "SELECT channel, coalesce(type_code, 'unclassified') AS type, coalesce(routed_unit_id, $2) AS unit, "
        "coalesce(decision, 'review') AS decision, count(*) AS n FROM triage.clues WHERE run_date = $1 "
        "GROUP BY 1, 2, 3, 4", run_date, DailySheetPublished.UNROUTED)
    counters: dict[str, dict[str, int]] = {"by_channel": {}, "by_type": {}, "by_unit": {}, "by_decision": {}}
    for r in rows:
        for dim, key in (("by_channel", r["channel"]), ("by_type", r["type"]), ("by_unit", r["unit"]),
                         ("by_decision", r["decision"])):
            counters[dim][key] = counters[dim].get(key, 0) + r["n"]
    counts = {dim: [{"key": k, "count": v} for k, v in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))]
              for dim, c in counters.items()}
    return counts, sum(r["n"] for r in rows)


async def screen_on_arrival(session: AsyncSession, clue_id: Any, settings: TriageSettings) -> bool:
    """即查即办: sort, dedupe, route and decide one clue now (its events go out now); it joins the sheet of
    the run whose window covers it. Serialised with that day's run (same lock): never screened twice."""
    raw = await _raw(session)
    received_at = await raw.fetchval("SELECT received_at FROM triage.clues WHERE id = $1", clue_id)
    run_date = run_date_of(received_at, settings.daily_cutoff)
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(run_date)})
    row = await raw.fetchrow(f"SELECT {_CLUE_COLUMNS} FROM triage.clues WHERE id = $1 AND state = 'pending'", clue_id)  # noqa: S608 — constant column list
    if row is None:
        return False
    at = datetime.now(UTC)
    # every clue screened so far, also those received after this one (events of different clues may reach
    # triage out of order): a duplicate merges into the one screened first
    references = await read_references(raw, max(at, received_at), settings)
    batch = await _with_pending_duplicates(raw, ClueInput(**dict(row)), settings)
    outcomes, ref_sources = triage_batch(
        batch, references, taxonomy=default_taxonomy(), directory=await load_directory(session),
        calendar=default_calendar(), run_date=run_date, deadlines=deadlines_of(settings),
        duplicate_threshold=settings.duplicate_threshold, duplicate_window=_window(settings),
        classifier=default_classifier(settings.classifier_dir))
    await write_outcomes(session, outcomes, ref_sources, run_date=run_date, at=at, events=Outbox(outbox, settings),
                         listed=False)
    return True


async def write_outcomes(session: AsyncSession, outcomes: list[Outcome], ref_sources: dict[Any, list[dict]],
                         *, run_date: date, at: datetime, events: Outbox, clock: _Clock | None = None,
                         listed: bool = True) -> None:
    """Bulk write: COPY the outcomes into a temporary table, one UPDATE … FROM, COPY the events.
    ``listed`` false (screened on arrival): the clues join a sheet at the run whose window covers them."""
    raw = await _raw(session)
    # IF NOT EXISTS + TRUNCATE: a consumer's batch screens several clues on arrival in one transaction
    await raw.execute(
        "CREATE TEMP TABLE IF NOT EXISTS triage_run_out (id uuid, family text, type_code text, tags text[], "
        "confidence float8, "
        "evidence jsonb, must_investigate bool, triggers text[], routed_unit_id text, route_reason text, "
        "state text, decision text, reason text, deadline date, merged_into uuid, sources jsonb, enterprise bool, "
        "model_version text, conduct bool) "
        "ON COMMIT DROP"
    )
    await raw.execute("TRUNCATE triage_run_out")
    records = [
        (o.clue.id, o.classification.family, o.classification.type_code, list(o.classification.tags),
         o.classification.confidence, orjson.dumps(o.classification.evidence_json()).decode(), bool(o.triggers),
         o.triggers, o.routed_unit_id, o.route_reason, o.state, o.decision, o.reason, o.deadline, o.merged_into,
         orjson.dumps(o.sources).decode(), o.enterprise, o.classification.model_version, o.classification.conduct)
        for o in outcomes
    ]
    await raw.copy_records_to_table("triage_run_out", records=records, columns=_RESULT_COLUMNS)
    await raw.execute("ANALYZE triage_run_out")  # a temporary table has no statistics: plan a hash join
    await raw.execute(
        "UPDATE triage.clues c SET family = o.family, type_code = o.type_code, tags = o.tags, "
        "confidence = o.confidence, evidence = o.evidence, must_investigate = o.must_investigate, "
        "triggers = o.triggers, routed_unit_id = o.routed_unit_id, route_reason = o.route_reason, "
        "state = o.state, decision = o.decision, reason = o.reason, deadline = o.deadline, "
        "merged_into = o.merged_into, sources = c.sources || o.sources, enterprise_related = o.enterprise, "
        "model_version = o.model_version, conduct = o.conduct, classified_at = $2, "
        "run_date = $1, triaged_at = $2 FROM triage_run_out o WHERE c.id = o.id",
        run_date if listed else None, at,
    )
    if clock:
        clock.lap("write_clues")
    if ref_sources:
        await raw.execute("CREATE TEMP TABLE IF NOT EXISTS triage_run_refs (id uuid, add jsonb) ON COMMIT DROP")
        await raw.execute("TRUNCATE triage_run_refs")
        await raw.copy_records_to_table(
            "triage_run_refs", records=[(k, orjson.dumps(v).decode()) for k, v in ref_sources.items()],
            columns=("id", "add"))
        await raw.execute("UPDATE triage.clues c SET sources = c.sources || r.add FROM triage_run_refs r "
                          "WHERE c.id = r.id")
    traceparent = traceparent_var.get()
    now = datetime.now(UTC).isoformat()
    topic = ClueTriaged.topic(events.prefix)
    records = [(topic, str(o.clue.id), clue_triaged_payload(o, run_date, now=now, traceparent=traceparent))
               for o in outcomes if o.decision is not None]
    await events.copy_rows(raw, records)
    if clock:
        clock.lap("write_events")


class _Clock:
    """Seconds per phase of a run, for the log line (and the benchmark)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = _perf()

    def lap(self, name: str) -> None:
        now = _perf()
        self.laps[name] = round(now - self._last, 3)
        self._last = now
