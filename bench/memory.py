"""Memory: resident set size (VmRSS) of each service and the gateway at rest and under an intake load.

    .venv/bin/python -m bench.memory [--rate 100] [--seconds 20]

The five services and the gateway run under uvicorn on loopback ports (``zuofeng serve``, one worker
each), on a fresh database and the local Kafka. Measured: RSS after start-up and a short settle (at
rest), the peak while hotline reports are posted through the gateway at a fixed rate (intake stores
them, triage and notification consume the events), and RSS after the load. Sampled from
``/proc/<pid>/status`` (the process and any children) every 0.25 s. Target: < 150 MiB each at rest.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from .common import running_stack, write
from .e2e_latency import post_at_rate
from .machine import describe

TARGET_MIB = 150


def rss_kib(pid: int) -> int:
    """VmRSS of a process and its descendants (a multi-worker uvicorn forks)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        pending.extend(int(c) for c in children)
    return total


def sample(pids: dict[str, int]) -> dict[str, float]:
    return {name: round(rss_kib(pid) / 1024, 1) for name, pid in pids.items()}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": describe(), "args": vars(args)}
    async with running_stack("memory") as stack:
        pids = {name: p.pid for name, p in stack.processes.items()}
        await asyncio.sleep(args.settle)
        at_rest = sample(pids)
        print("at rest", at_rest, flush=True)

        peak = dict(at_rest)
        done = asyncio.Event()

        async def watch() -> None:
            while not done.is_set():
                for name, mib in sample(pids).items():
                    peak[name] = max(peak[name], mib)
                await asyncio.sleep(0.25)

        watcher = asyncio.create_task(watch())
        load = await post_at_rate(stack.bases["gateway"] + "/api/v1/intake/feeds/12345/reports",
                                  stack.staff_bearer("triage_officer"), args.rate, args.seconds, "M", 256)
        await asyncio.sleep(args.settle)  # the consumers catch up
        done.set()
        await watcher
        after = sample(pids)
        print("peak", peak, "after", after, flush=True)
    results["load"] = load
    results["rss_mib"] = {name: {"at_rest": at_rest[name], "peak_under_load": peak[name], "after_load": after[name]}
                          for name in pids}
    results["target"] = f"< {TARGET_MIB} MiB each at rest"
    results["meets_target"] = all(v["at_rest"] < TARGET_MIB for v in results["rss_mib"].values())
    return results


def render(results: dict[str, Any]) -> str:
    args, machine, load = results["args"], results["machine"], results["load"]
    lines = [
        "# Memory (RSS) of each process",
        "",
        f"`.venv/bin/python -m bench.memory --rate {args['rate']} --seconds {args['seconds']}` — {machine['when']}, "
        f"{machine['cores']} CPUs, {machine['memory_gib']} GiB, Python {machine['python']}. Raw data: `memory.json`.",
        "",
        f"Each process is `zuofeng serve <name>` (uvicorn, one worker) on loopback, a fresh database, the local Kafka. "
        f"At rest: {args['settle']} s after all are ready. Under load: hotline reports through the gateway at "
        f"{args['rate']}/s offered for {args['seconds']} s ({load['sent']} of {load['offered']} sent — the generator and the stack "
        f"share two cores and fell behind; statuses {load['statuses']}), sampled every 0.25 s; intake "
        "stores them, triage and notification consume the events. VmRSS from `/proc/<pid>/status`.",
        "",
        f"| process | at rest MiB | peak under load MiB | after load MiB | at rest < {TARGET_MIB} MiB |",
        "|---|---|---|---|---|",
    ]
    for name, v in results["rss_mib"].items():
        lines.append(f"| {name} | {v['at_rest']} | {v['peak_under_load']} | {v['after_load']} | "
                     f"{'yes' if v['at_rest'] < TARGET_MIB else 'no'} |")
    total = {k: round(sum(v[k] for v in results["rss_mib"].values()), 1) for k in ("at_rest", "peak_under_load")}
    lines += ["", f"All six together: {total['at_rest']} MiB at rest, {total['peak_under_load']} MiB at peak "
              "(sum of per-process peaks).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="reports per second during the load")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--settle", type=float, default=10.0, help="seconds at rest before and after the load")
    results = asyncio.run(main(parser.parse_args()))
    write("memory", results, render(results))
    sys.exit(0)
