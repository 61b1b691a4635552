"""Intake throughput: single reports and 500-clue batches, the real service against a bare FastAPI
endpoint doing the same two inserts (clue row + outbox row), as ratios, plus the same through the gateway.

    .venv/bin/python -m bench.intake_throughput [--single N] [--batches N] [--concurrency C]

Each server runs under uvicorn on a loopback port in its own process, against a fresh database with
intake's migrations. Kafka is disabled in every server (``KAFKA_ENABLED=false``), so the outbox relay
does not compete for the CPU: rows stay in the outbox, as they would while the broker is slow. The load
generator is one httpx process; on a shared 2-core machine absolute figures are noisy and bounded by
the client, the ratios measured in one run are what to read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
import orjson
from fastapi import FastAPI, Request
from pydantic import BaseModel
from sqlalchemy.engine import make_url

from .common import RawHTTP, free_port

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
SERVER_URL = os.environ.get("DATABASE_URL", "postgresql+asyncpg://zuofeng:zuofeng@127.0.0.1:55432/zuofeng")


# ---- the baseline: a bare FastAPI endpoint doing the same two inserts ----------------------------------


class BareReport(BaseModel):
    external_id: str
    text: str
    subject: str | None = None


_CLUE_SQL = """INSERT INTO intake.clues (id, tracking_number, channel, external_id, subject, text)
               VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (channel, external_id) DO NOTHING"""
_OUTBOX_SQL = "INSERT INTO intake.outbox (topic, key, payload) VALUES ($1, $2, $3)"


def bare_app() -> FastAPI:
    app = FastAPI()
    dsn = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")

    @app.on_event("startup")
    async def start() -> None:
        app.state.pool = await asyncpg.create_pool(dsn, min_size=5, max_size=10)

    def rows(report: BareReport) -> tuple[tuple, tuple]:
        clue_id = uuid.uuid4()
        payload = orjson.dumps({"clue_id": str(clue_id), "text": report.text, "subject": report.subject})
        return ((clue_id, f"B-{clue_id.hex}", "hotline_12345", report.external_id, report.subject, report.text),
                ("bare.clue-received", str(clue_id), payload))

    @app.post("/bare/reports", status_code=201)
    async def single(report: BareReport) -> dict[str, str]:
        clue, event = rows(report)
        async with app.state.pool.acquire() as conn, conn.transaction():
            await conn.execute(_CLUE_SQL, *clue)
            await conn.execute(_OUTBOX_SQL, *event)
        return {"id": str(clue[0])}

    @app.post("/bare/reports:batch")
    async def batch(request: Request) -> dict[str, int]:
        body = orjson.loads(await request.body())
        prepared = [rows(BareReport.model_validate(item)) for item in body["reports"]]
        async with app.state.pool.acquire() as conn, conn.transaction():
            await conn.executemany(_CLUE_SQL, [c for c, _ in prepared])
            await conn.executemany(_OUTBOX_SQL, [e for _, e in prepared])
        return {"created": len(prepared)}

    return app


# ---- harness -------------------------------------------------------------------------------------------


def start_server(target: str, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", target, "--host", "127.0.0.1", "--port", str(port),
         "--no-access-log", "--log-level", "warning", "--timeout-keep-alive", "60"],
        env={**os.environ, **env}, cwd=REPO)
    return process, f"http://127.0.0.1:{port}"


async def wait_up(base: str, path: str) -> None:
    deadline = time.monotonic() + 180  # imports alone take seconds on a loaded machine
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                await client.get(base + path, timeout=5)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.2)
    raise RuntimeError(f"{base} did not start")


def report(n: int) -> dict[str, Any]:
    return {"external_id": f"B-{secrets.token_hex(8)}-{n}", "text": "窗口人员推诿扯皮，群众反复跑腿，材料齐全仍不予办理。",
            "subject": "某街道便民服务中心"}


async def run_load(url: str, headers: dict[str, str], bodies: list[Any], concurrency: int) -> dict[str, Any]:
    """Closed loop: ``concurrency`` keep-alive connections, each posting its next body when answered.

    The client is :class:`bench.common.RawHTTP` (bytes on asyncio streams): with httpx at 64 connections
    the generator itself took most of a core, and the earlier single-report figures (56–83 req/s even
    for the bare endpoint) measured the client, not the servers."""
    latencies: list[float] = []
    queue = list(reversed(bodies))
    failures = 0
    parsed = httpx.URL(url)
    base, path = f"{parsed.scheme}://{parsed.host}:{parsed.port}", parsed.raw_path.decode()
    client = RawHTTP(base, headers)

    async def worker() -> None:
        nonlocal failures
        while queue:
            body = queue.pop()
            started = time.perf_counter()
            try:
                status, payload = await client.post(path, orjson.dumps(body))
            except (OSError, asyncio.IncompleteReadError) as exc:  # counted, not fatal: one run covers all targets
                failures += 1
                print(f"  transport failure: {exc!r}", file=sys.stderr)
                continue
            latencies.append(time.perf_counter() - started)
            if status >= 300:
                failures += 1
                if failures == 1:
                    print(f"  failure {status}: {payload[:300]!r}", file=sys.stderr)

    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        client.close()
    elapsed = time.perf_counter() - started
    return {"latencies": latencies, "failures": failures, "seconds": elapsed}


def summarise(parts: list[dict[str, Any]], per_request: int = 1) -> dict[str, float]:
    latencies = sorted(x for p in parts for x in p["latencies"])
    seconds = sum(p["seconds"] for p in parts)
    summary = {
        "requests": len(latencies), "failures": sum(p["failures"] for p in parts), "seconds": round(seconds, 3),
        "requests_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2),
    }
    if per_request > 1:
        summary["clues_per_s"] = round(len(latencies) * per_request / seconds)
    return summary


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from services.common.auth import Principal, generate_keypair, mint_internal_token
    from services.common.crypto import KeyRing
    from services.common.migrate import upgrade

    database = f"bench_intake_{os.getpid()}"
    admin_dsn = make_url(SERVER_URL).set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False)
    conn = await asyncpg.connect(admin_dsn)
    await conn.execute(f'CREATE DATABASE "{database}"')
    await conn.close()
    url = make_url(SERVER_URL).set(database=database).render_as_string(hide_password=False)
    await asyncio.to_thread(upgrade, "intake", url)

    internal_private, internal_public = generate_keypair()
    staff_private, staff_public = generate_keypair()
    data_dir = Path(f"/tmp/bench-intake-{os.getpid()}")
    env = {
        "DATABASE_URL": url, "KAFKA_ENABLED": "false", "LOG_LEVEL": "WARNING", "ZUOFENG_ENV": "development",
        "INTERNAL_TOKEN_PUBLIC_KEY": internal_public, "INTERNAL_TOKEN_PRIVATE_KEY": internal_private,
        "IDENTITY_KEYRING": KeyRing.generate_spec("b1"), "CONTACT_KEYRING": KeyRing.generate_spec("b2"),
        "ZUOFENG_DATA_DIR": str(data_dir), "DB_POOL_SIZE": os.environ.get("BENCH_DB_POOL_SIZE", "10"),
    }
    intake, intake_base = start_server("services.intake.app:create_app", env)
    bare, bare_base = start_server("bench.intake_throughput:bare_app", env)
    gateway, gateway_base = None, None
    processes = [intake, bare]
    results: dict[str, Any] = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
                               "cpus": os.cpu_count(), "load_average": os.getloadavg(), "args": vars(args)}
    try:
        await wait_up(intake_base, "/healthz")
        await wait_up(bare_base, "/docs")
        hotline = {"x-zuofeng-identity": mint_internal_token(
            Principal(kind="hotline", subject="bench-12345", line="12345"), internal_private, ttl_seconds=3600)}
        targets = {
            "bare": (bare_base + "/bare/reports", bare_base + "/bare/reports:batch", {}),
            "intake": (intake_base + "/api/v1/intake/feeds/12345/reports",
                       intake_base + "/api/v1/intake/feeds/12345/reports:batch", hotline),
        }
        if args.gateway:
            gateway, gateway_base = start_server("gateway.app:create_app", {
                **env, "GATEWAY_UPSTREAMS": json.dumps({"intake": intake_base}), "STAFF_JWT_PUBLIC_KEY": staff_public})
            processes.append(gateway)
            await wait_up(gateway_base, "/healthz")
            now = int(time.time())
            token = jwt.encode({"sub": "bench", "roles": ["triage_officer"], "iss": "zuofeng-dev-idp",
                                "aud": "zuofeng", "iat": now, "exp": now + 3600}, staff_private, algorithm="EdDSA")
            targets["gateway"] = (gateway_base + "/api/v1/intake/feeds/12345/reports",
                                  gateway_base + "/api/v1/intake/feeds/12345/reports:batch",
                                  {"authorization": f"Bearer {token}"})
        # Warm up every path (connections, statement caches, the day's tracking sequence) at the measured
        # concurrency: warmed at 8, the pools opened the rest of their connections (connect, asyncpg's type
        # introspection for the array parameters) inside the measured run, and that was its p99.
        for single_url, batch_url, headers in targets.values():
            await run_load(single_url, headers, [report(i) for i in range(args.concurrency * 4)], args.concurrency)
            await run_load(batch_url, headers, [{"reports": [report(i) for i in range(500)]}], 1)
        # Interleaved rounds, so a change in the machine's load (it is shared) hits every target alike.
        parts: dict[str, dict[str, list]] = {name: {"single": [], "batch": []} for name in targets}
        for round_number in range(args.rounds):
            for name, (single_url, batch_url, headers) in targets.items():
                parts[name]["single"].append(await run_load(
                    single_url, headers, [report(i) for i in range(args.single // args.rounds)], args.concurrency))
                parts[name]["batch"].append(await run_load(
                    batch_url, headers, [{"reports": [report(i) for i in range(500)]}
                                         for _ in range(max(1, args.batches // args.rounds))],
                    args.batch_concurrency))
            print(f"round {round_number + 1}/{args.rounds} done", flush=True)
        for name in targets:
            results[name] = {"single": summarise(parts[name]["single"]),
                             "batch": summarise(parts[name]["batch"], per_request=500)}
            print(name, json.dumps(results[name]), flush=True)
        results["ratios"] = {
            f"{name}_vs_bare": {
                "single": round(results[name]["single"]["requests_per_s"] / results["bare"]["single"]["requests_per_s"], 2),
                "batch": round(results[name]["batch"]["clues_per_s"] / results["bare"]["batch"]["clues_per_s"], 2),
            }
            for name in targets if name != "bare"
        }
        print("ratios", json.dumps(results["ratios"]), flush=True)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)
        conn = await asyncpg.connect(admin_dsn)
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.close()
    return results


def render_table(results: dict[str, Any]) -> str:
    """The measured table for ``bench/results/intake.md`` (the prose around it is written by hand)."""
    lines = ["| target | single req/s | single p50 ms | single p99 ms | failures | batch clues/s | batch p99 ms |",
             "|---|---|---|---|---|---|---|"]
    for name in ("bare", "intake", "gateway"):
        if name in results:
            single, batch = results[name]["single"], results[name]["batch"]
            lines.append(f"| {name} | {single['requests_per_s']} | {single['p50_ms']} | {single['p99_ms']} | "
                         f"{single['failures'] + batch['failures']} | {batch['clues_per_s']} | {batch['p99_ms']} |")
    lines += ["", "| ratio | single | batch |", "|---|---|---|"]
    for name, ratio in results.get("ratios", {}).items():
        lines.append(f"| {name} | {ratio['single']} | {ratio['batch']} |")
    return "\n".join(lines) + "\n"


def write_results(results: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "intake.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(render_table(results))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=2000, help="single reports per target")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--batches", type=int, default=40, help="500-clue batches per target")
    parser.add_argument("--batch-concurrency", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-gateway", dest="gateway", action="store_false")
    write_results(asyncio.run(main(parser.parse_args())))
