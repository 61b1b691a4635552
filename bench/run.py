"""`make bench`: every benchmark module in bench/, one after another, against the real local stack.

Each module writes its own ``bench/results/<area>.json`` and ``.md``; this collects them into
``bench/results/summary.json`` and ``summary.md`` with the machine's description. Run one alone with
``python -m bench.<module>``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from .machine import describe

HERE = Path(__file__).parent
RESULTS = HERE / "results"
SKIP = {"__init__", "run", "machine", "common"}


def main(argv: list[str]) -> int:
    wanted = set(argv)
    modules = sorted(p.stem for p in HERE.glob("*.py") if p.stem not in SKIP and (not wanted or p.stem in wanted))
    RESULTS.mkdir(exist_ok=True)
    runs = {}
    for module in modules:
        print(f"== bench.{module}", flush=True)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", f"bench.{module}"], cwd=HERE.parent)
        runs[module] = {"exit_code": done.returncode, "seconds": round(time.perf_counter() - started, 1)}
    results = {p.stem: json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json")) if p.stem != "summary"}
    summary = {"machine": describe(), "runs": runs, "results": results}
    (RESULTS / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
    lines = ["# Benchmark summary", "", f"Machine: {summary['machine']}", "", "| module | exit | seconds |", "|---|---|---|"]
    lines += [f"| {m} | {r['exit_code']} | {r['seconds']} |" for m, r in runs.items()]
    lines += ["", "Each module's figures: `bench/results/<area>.md`."]
    (RESULTS / "summary.md").write_text("\n".join(lines) + "\n")
    return 0 if all(r["exit_code"] == 0 for r in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
