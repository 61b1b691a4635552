"""Benchmark: the triage daily sort of 100,000 clues (classify, dedupe, route, decide, write) < 30 s.

Creates a scratch database on the local PostgreSQL, migrates triage, imports the demo unit directory,
loads N synthetic clues (not timed) composed from the labelled set with invented details, ~3% of them
re-reported through another channel with small edits, then times ``run_daily`` end to end — one
transaction: read, compute, COPY results, one UPDATE … FROM, COPY ``clue-triaged`` events into the
outbox. Also times the in-memory part alone. Run: ``.venv/bin/python -m bench.triage_daily_sort [N]``.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import re
import logging
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import yaml

from services.common.calendar import default_calendar
from services.common.db import create_engine, create_session_factory, session_scope
from services.common.ids import new_id
from services.common.migrate import upgrade
from services.common.outbox import Outbox
from services.triage.daily_run import SHANGHAI, cutoff_at, run_daily
from services.triage.models import outbox
from services.triage.screen import ClueInput, triage_batch
from services.triage.settings import TriageSettings
from services.triage.taxonomy import default_taxonomy
from services.triage.units import DEMO_UNITS_FILE, load_directory, read_directory_file, upsert_units

ROOT = Path(__file__).resolve().parents[1]
SERVER = os.environ.get("BENCH_DATABASE_SERVER", "postgresql://zuofeng:zuofeng@127.0.0.1:55432/postgres")
CHANNELS = ["hotline_12345", "hotline_12388", "hotline_12380", "qr_code", "online", "petition", "mayor_line"]
STREETS = ["南关", "北关", "新建北路", "向阳里", "西花园", "魏都大道", "御河东路", "口泉", "新平旺", "马军营",
           "古店", "水泊寺", "西韩岭", "平旺", "东信广场", "大庆路", "开源街", "文兴路", "迎宾街", "永泰街"]
PEOPLE = ["一位老人", "我父亲", "邻居", "我们几户居民", "本人", "我爱人", "个体户", "小区业主", "农民工", "家长"]


def compose(rng: random.Random, clauses: list[str]) -> str:
    """Four clauses of different labelled clues, shuffled, and invented details: distinct complaints."""
    street = rng.choice(STREETS)
    detail = (f"{rng.choice(PEOPLE)}{rng.randint(1, 12)}月{rng.randint(1, 28)}日在{street}"
              f"{rng.randint(1, 300)}号")
    picked = rng.sample(clauses, 4)
    return f"{detail}，{picked[0]}，{picked[1]}。{picked[2]}，{picked[3]}。"


def synthetic_clues(n: int, day: datetime, seed: int = 42) -> list[tuple]:
    rng = random.Random(seed)
    labelled = yaml.safe_load((ROOT / "tests/data/triage_labelled_clues.yaml").read_text(encoding="utf-8"))
    clauses = sorted({c for _, _, text in labelled for c in re.split(r"[，。！；]", text) if len(c) >= 4})
    rows: list[tuple] = []
    for i in range(n):
        at = day + timedelta(seconds=i * 86400 // n)
        if rows and rng.random() < 0.03:
            original = rng.choice(rows[-2000:])
            text = original[4].replace("。", "！", 1) + "请尽快处理。"
        else:
            text = compose(rng, clauses)
        enterprise = rng.random() < 0.05
        rows.append((new_id(), f"ZF-B{i:08d}", rng.choice(CHANNELS), None, text, None, enterprise, at))
    return rows


async def main(n: int) -> dict:
    database = f"bench_triage_{os.getpid()}"
    admin = await asyncpg.connect(SERVER)
    await admin.execute(f'CREATE DATABASE "{database}"')
    url = SERVER.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0] + f"/{database}"
    try:
        await asyncio.to_thread(upgrade, "triage", url)
        settings = TriageSettings(database_url=url, kafka_enabled=False, scheduler_enabled=False)
        engine = create_engine(settings)
        sessions = create_session_factory(engine)
        async with session_scope(sessions) as session:
            await upsert_units(session, Outbox(outbox, settings), read_directory_file(DEMO_UNITS_FILE))
            await session.execute(outbox.delete())
        run_date = datetime(2026, 11, 19, tzinfo=SHANGHAI).date()
        day_start = cutoff_at(run_date, settings.daily_cutoff) - timedelta(days=1) + timedelta(seconds=1)
        rows = synthetic_clues(n, day_start.astimezone(UTC))
        conn = await asyncpg.connect(SERVER.rsplit("/", 1)[0] + f"/{database}")
        await conn.copy_records_to_table("clues", schema_name="triage", records=rows, columns=(
            "id", "tracking_number", "channel", "subject", "text", "unit_id", "enterprise_related", "received_at"))
        await conn.execute("ANALYZE triage.clues")

        # the in-memory part alone (classify, dedupe, route, decide)
        async with sessions() as session:
            directory = await load_directory(session)
        clues = [ClueInput(*r) for r in rows]
        t0, c0 = time.perf_counter(), time.process_time()
        outcomes, _ = triage_batch(clues, [], taxonomy=default_taxonomy(), directory=directory,
                                   calendar=default_calendar(), run_date=run_date)
        compute_s, compute_cpu = time.perf_counter() - t0, time.process_time() - c0

        phases: dict = {}

        class Capture(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                phases.update(getattr(record, "seconds", {}) or {})

        logging.getLogger("services.triage.daily_run").addHandler(Capture())
        logging.getLogger("services.triage.daily_run").setLevel(logging.INFO)
        load_before = os.getloadavg()[0]
        t0, c0 = time.perf_counter(), time.process_time()
        run, created = await run_daily(sessions, settings, run_date=run_date, triggered_by="bench",
                                       now=datetime.now(UTC))
        total_s, total_cpu = time.perf_counter() - t0, time.process_time() - c0
        assert created and run["total"] == n, run["total"]
        decisions = {e["key"]: e["count"] for e in run["sheet"]["by_decision"]}
        events = await conn.fetchval("SELECT count(*) FROM triage.outbox")
        t0 = time.perf_counter()
        again, created_again = await run_daily(sessions, settings, run_date=run_date, triggered_by="bench")
        rerun_s = time.perf_counter() - t0
        # a re-run issues version 2 of the same day's sheet; nothing is pending, so nothing is screened again
        assert created_again and again["version"] == 2 and again["total"] == n and again["ran"] == 0
        await conn.close()
        await engine.dispose()
        return {
            "clues": n, "run_daily_seconds": round(total_s, 2), "in_memory_one_process_seconds": round(compute_s, 2),
            "in_memory_one_process_cpu_seconds": round(compute_cpu, 2), "run_daily_main_process_cpu_seconds": round(total_cpu, 2),
            "load_average_at_start": round(load_before, 1),
            "run_daily_phases_seconds": phases, "clues_per_second": round(n / total_s),
            "rerun_same_date_seconds": round(rerun_s, 3), "decisions": decisions, "outbox_events": events,
            "target_seconds": 30, "passed": total_s < 30,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores shared with other sessions",
            "python": platform.python_version(), "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    result = asyncio.run(main(count))
    print(json.dumps(result, ensure_ascii=False, indent=2))
    if count == 100_000:
        (ROOT / "bench/results/triage.json").write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
