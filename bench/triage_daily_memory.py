"""Benchmark: peak resident memory of the 100,000-clue daily run (issue 14 item 9: ≤ 400 MiB; the
manifests give triage 512 Mi).

Same scratch database and synthetic day as ``bench.triage_daily_sort`` (loaded by a separate connection,
and the loader's copy freed), the classifier and directory loaded first — as in a running service. Then
the peak RSS is reset (``/proc/self/clear_refs`` ← 5) and ``run_daily`` runs once; ``VmHWM`` afterwards is
the run's peak, RSS before it the service's baseline. Run: ``.venv/bin/python -m bench.triage_daily_memory [N]``.

The same script measures the 1,000,000-clue run (issue 14 item 9: < 3 min): ``… triage_daily_memory 1000000``
writes ``bench/results/triage_million.json``. The load average before and after, the phases of the run
and the CPU seconds of this process are recorded, because the machine's 2 cores are shared.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import platform
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from services.common.db import create_engine, create_session_factory, session_scope
from services.common.migrate import upgrade
from services.common.outbox import Outbox
from services.triage.classifier import default_classifier
from services.triage.daily_run import SHANGHAI, cutoff_at, run_daily
from services.triage.models import outbox
from services.triage.settings import TriageSettings
from services.triage.units import DEMO_UNITS_FILE, read_directory_file, upsert_units

from .triage_daily_sort import SERVER, synthetic_clues

ROOT = Path(__file__).resolve().parents[1]
TARGET_MIB = 400
TARGET_SECONDS_1M = 180


def status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    raise KeyError(field)


async def main(n: int) -> dict:
    database = f"bench_triage_mem_{os.getpid()}"
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
        conn = await asyncpg.connect(SERVER.rsplit("/", 1)[0] + f"/{database}")
        rows = synthetic_clues(n, day_start.astimezone(UTC))
        await conn.copy_records_to_table("clues", schema_name="triage", records=rows, columns=(
            "id", "tracking_number", "channel", "subject", "text", "unit_id", "enterprise_related", "received_at"))
        await conn.execute("ANALYZE triage.clues")
        del rows
        default_classifier(settings.classifier_dir)
        gc.collect()
        baseline = status_mib("VmRSS")
        phases: dict = {}

        class Capture(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                for name, s in (getattr(record, "seconds", {}) or {}).items():
                    phases[name] = round(phases.get(name, 0) + s, 2)

        run_log = logging.getLogger("services.triage.daily_run")
        run_log.addHandler(Capture())
        run_log.setLevel(logging.INFO)
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM: the peak from here on is the run's
        load_before = os.getloadavg()
        t0, c0 = time.perf_counter(), time.process_time()
        run, created = await run_daily(sessions, settings, run_date=run_date, triggered_by="bench",
                                       now=datetime.now(UTC))
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        load_after = os.getloadavg()
        peak = status_mib("VmHWM")
        assert created and run["ran"] == n and run["total"] == n, (run["ran"], run["total"])
        await conn.close()
        await engine.dispose()
        return {
            "clues": n, "rss_before_run_mib": baseline, "peak_rss_during_run_mib": peak,
            "run_increment_mib": round(peak - baseline, 1), "target_peak_mib": TARGET_MIB,
            "passed": peak <= TARGET_MIB if n <= 100_000 else seconds < TARGET_SECONDS_1M,
            "run_daily_seconds": round(seconds, 2), "run_daily_main_process_cpu_seconds": round(cpu, 2),
            "clues_per_second": round(n / seconds), "run_daily_phases_seconds": phases,
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in load_after],
            "chunk_size": getattr(settings, "daily_run_chunk", None), "decisions": {e["key"]: e["count"] for e in run["sheet"]["by_decision"]},
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
    if count == 1_000_000:
        (ROOT / "bench/results/triage_million.json").write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    if count == 100_000:
        (ROOT / "bench/results/triage_memory.json").write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
