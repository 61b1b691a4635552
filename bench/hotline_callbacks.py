"""Hotline callbacks (热线回告): how fast the worker drains stages to a line's endpoint.

A fresh database with intake's migrations, ``--tickets`` hotline tickets each moved through 转办 and 办结
(two stages per ticket, recorded by ``move_status`` as the consumer would), then the real
``CallbackWorker`` delivering them, signed, to a receiver on loopback (uvicorn, a real socket) that
verifies every signature; ``--fail`` of the first calls answer 503 and are retried. Reported: stages
delivered per second, and the time from a stage being recorded to its delivery (p50/p99).

    .venv/bin/python -m bench.hotline_callbacks --tickets 1000
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import os
import secrets
import socket
import time
from datetime import UTC, datetime
from types import SimpleNamespace

import asyncpg
import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from bench.common import admin_dsn, percentile, write
from gateway.hotline import signature
from services.common import migrate
from services.common.db import create_engine, create_session_factory, session_scope
from services.intake import service
from services.intake.callbacks import CallbackWorker
from services.intake.models import hotline_updates
from services.intake.settings import HotlineCallback, IntakeSettings

SECRET = "b" * 48


def receiver(fail: int) -> tuple[FastAPI, dict]:
    app, seen = FastAPI(), {"calls": 0, "valid": 0, "failed": 0}

    @app.post("/cb")
    async def receive(request: Request):
        body = await request.body()
        h = request.headers
        seen["calls"] += 1
        expected = signature(SECRET, "POST", "/cb", h["x-zuofeng-timestamp"], h["x-zuofeng-nonce"], body)
        seen["valid"] += hmac.compare_digest(expected, h["x-zuofeng-signature"])
        if seen["failed"] < fail:
            seen["failed"] += 1
            return JSONResponse({}, status_code=503)
        return JSONResponse({"ok": True})

    return app, seen


async def main(args: argparse.Namespace) -> dict:
    database = f"zuofeng_bench_callbacks_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(admin_dsn())
    await admin.execute(f'CREATE DATABASE "{database}"')
    base = os.environ.get("DATABASE_URL", "postgresql+asyncpg://zuofeng:zuofeng@127.0.0.1:55432/zuofeng")
    url = base.rsplit("/", 1)[0] + f"/{database}"
    try:
        await asyncio.to_thread(migrate.upgrade, "intake", url)
        app, seen = receiver(args.fail)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:  # noqa: ASYNC110 — uvicorn exposes only a flag
            await asyncio.sleep(0.01)
        settings = IntakeSettings(database_url=url, kafka_enabled=False, environment="test",
                                  callback_backoff_seconds=0.05, callback_backoff_max_seconds=0.2,
                                  hotline_callbacks={"12345": HotlineCallback(
                                      url=f"http://127.0.0.1:{sock.getsockname()[1]}/cb", secret=SECRET)})
        engine = create_engine(settings)
        sessions = create_session_factory(engine)
        async with session_scope(sessions) as session:
            rows = await session.execute(
                service.accepting.text(
                    "INSERT INTO intake.clues (id, tracking_number, channel, external_id, text) "
                    "SELECT gen_random_uuid(), 'ZF-B-' || n, 'hotline_12345', 'GD-' || n, '推诿扯皮' "
                    "FROM generate_series(1, :n) AS n RETURNING id"), {"n": args.tickets})
            ids = [r.id for r in rows]
        for stage in ("transferred", "concluded"):
            async with session_scope(sessions) as session:
                await service.move_status(session, clue_ids=ids, to=stage, at=datetime.now(UTC))
        total = 2 * args.tickets
        async with httpx.AsyncClient(timeout=10) as client:
            worker = CallbackWorker(SimpleNamespace(state=SimpleNamespace(settings=settings, sessions=sessions)),
                                    client)
            started = time.perf_counter()
            while True:
                attempted = await worker.run_once()
                async with sessions() as session:
                    left = await session.scalar(select(func.count()).select_from(hotline_updates)
                                                .where(hotline_updates.c.status.in_(("pending", "sending"))))
                if not left:
                    break
                if not attempted:
                    await asyncio.sleep(0.02)
            elapsed = time.perf_counter() - started
        async with sessions() as session:
            lags = sorted((await session.scalars(select(
                func.extract("epoch", hotline_updates.c.delivered_at - hotline_updates.c.occurred_at))
                .where(hotline_updates.c.status == "delivered"))).all())
            delivered = len(lags)
        await engine.dispose()
        server.should_exit = True
        await serving
        return {
            "tickets": args.tickets, "stages": total, "delivered": delivered, "retried_calls": args.fail,
            "calls": seen["calls"], "signatures_valid": seen["valid"], "seconds": round(elapsed, 2),
            "stages_per_second": round(delivered / elapsed, 1),
            "recorded_to_delivered_p50_s": round(float(percentile(lags, 0.5)), 2),
            "recorded_to_delivered_p99_s": round(float(percentile(lags, 0.99)), 2),
            "at": datetime.now(UTC).isoformat(timespec="seconds"), "load": os.getloadavg(),
        }
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


def render(r: dict) -> str:
    return (
        "# Hotline callbacks\n\n"
        f"`.venv/bin/python -m bench.hotline_callbacks --tickets {r['tickets']} --fail {r['retried_calls']}`, "
        f"{r['at']}, load {', '.join(f'{x:.1f}' for x in r['load'])} (2 CPUs shared with other sessions).\n\n"
        "The real `CallbackWorker` against a fresh database, delivering signed stages to a uvicorn receiver on\n"
        "loopback in the same process (the receiver verifies every signature). Two stages per ticket, recorded\n"
        "before the clock starts; per ticket the second waits for the first to settle.\n\n"
        "| stages | delivered | calls (incl. retries) | valid signatures | seconds | stages/s | recorded→delivered p50 / p99 |\n"
        "|---|---|---|---|---|---|---|\n"
        f"| {r['stages']} | {r['delivered']} | {r['calls']} | {r['signatures_valid']} | {r['seconds']} | "
        f"{r['stages_per_second']} | {r['recorded_to_delivered_p50_s']} s / {r['recorded_to_delivered_p99_s']} s |\n\n"
        "The p50/p99 include the queueing of a backlog delivered all at once (every stage is recorded before\n"
        "the worker starts), so they measure the drain, not one stage's latency on an idle line.\n"
        "\nBefore the outcomes of a pass were settled in one statement (one transaction per delivered stage), the\n"
        "same run gave 83.4 stages/s (23.97 s, load 7.6), p50/p99 13.47 s / 24.06 s.\n"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--fail", type=int, default=50)
    result = asyncio.run(main(parser.parse_args()))
    write("hotline_callbacks", result, render(result))
