"""Intake restarted under load: no request answered 201 is lost.

Intake runs as a real uvicorn process (the way it is deployed), on the test run's database and the shared
broker with a topic prefix of its own. A load loop posts hotline reports straight to it while it gets a
SIGTERM (what Kubernetes and supervisord send) and is started again. Afterwards every 201 is a row in
intake's table and a ClueReceived on the topic; every request that did not get a 201 got a connection
error or a 5xx, which a hotline system retries, never a success that was dropped."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys

import httpx
import pytest
from sqlalchemy import select

from services.common.contracts.intake import ClueReceived
from services.common.db import create_engine
from services.common.events import CloudEvent
from services.intake.models import clues as intake_clues
from services.intake.settings import IntakeSettings

from ..support import REPO, eventually
from .test_faults_kernel import read_all
from .test_slice import a_report

WORKERS = 12


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class IntakeProcess:
    """``zuofeng serve intake`` in a subprocess, started and stopped like a deployment does."""

    def __init__(self, env: dict[str, str], port: int, log) -> None:
        self.env, self.port, self.log = env, port, log
        self.process: subprocess.Popen | None = None

    async def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: ASYNC220 — Popen returns at once; the test kills it later
            [sys.executable, "-m", "services.common.cli", "serve", "intake", "--port", str(self.port)],
            env={**os.environ, **self.env}, cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT)

        async def up():
            assert self.process.poll() is None, "intake exited while starting"
            try:
                async with httpx.AsyncClient() as client:
                    return (await client.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2)).status_code == 200
            except httpx.TransportError:
                return None
        await eventually(up, timeout=90, interval=0.2)

    async def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.process.wait, 30)

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
async def intake_process(infra, keys, run_id, tmp_path):
    prefix = f"{run_id}r{secrets.token_hex(2)}."
    env = {
        "ZUOFENG_ENV": "test", "LOG_LEVEL": "WARNING",
        "DATABASE_URL": infra["DATABASE_URL"], "KAFKA_BOOTSTRAP_SERVERS": infra["KAFKA_BOOTSTRAP_SERVERS"],
        "KAFKA_TOPIC_PREFIX": prefix, "OUTBOX_POLL_SECONDS": "0.5", "DB_POOL_SIZE": "5",
        "INTERNAL_TOKEN_PUBLIC_KEY": keys["internal_public"], "INTERNAL_TOKEN_PRIVATE_KEY": keys["internal_private"],
        "IDENTITY_KEYRING": keys["identity_keyring"], "CONTACT_KEYRING": keys["contact_keyring"],
        "ZUOFENG_DATA_DIR": str(tmp_path / "data"),
    }
    with open(tmp_path / "intake.log", "wb") as log:  # noqa: ASYNC230 — a local log file opened once
        service = IntakeProcess(env, free_port(), log)
        try:
            yield service, prefix
        finally:
            service.kill()


async def load(base: str, headers: dict[str, str], stop: asyncio.Event, outcomes: list) -> None:
    """One client posting distinct reports back to back until told to stop; every outcome recorded."""
    run = secrets.token_hex(3)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        n = 0
        while not stop.is_set():
            report = a_report(external_id=f"R-{run}-{n}")
            n += 1
            try:
                response = await client.post("/api/v1/intake/feeds/12345/reports", json=report)
            except httpx.TransportError as exc:
                outcomes.append((report["external_id"], exc))
                await asyncio.sleep(0.05)  # the service is away; a real client backs off too
                continue
            outcomes.append((report["external_id"], response))


@pytest.mark.fault
async def test_no_accepted_report_is_lost_when_intake_restarts_under_load(intake_process, ids, settings_kwargs):
    service, prefix = intake_process
    await service.start()
    stop, outcomes = asyncio.Event(), []
    loaders = [asyncio.create_task(load(f"http://127.0.0.1:{service.port}", ids.as_hotline("12345"), stop, outcomes))
               for _ in range(WORKERS)]

    async def answered(n: int):
        return len(outcomes) >= n

    try:
        async with asyncio.timeout(120):
            await eventually(lambda: answered(100), timeout=30)
            # uvicorn finishes in-flight requests and the lifespan, then re-raises the signal it caught.
            assert await service.terminate() in (0, -signal.SIGTERM)
            await service.start()
            restarted_at = len(outcomes)
            await eventually(lambda: answered(restarted_at + 100), timeout=30)
    finally:
        stop.set()
        await asyncio.gather(*loaders)

    accepted = {r.json()["id"]: external for external, r in outcomes
                if isinstance(r, httpx.Response) and r.status_code == 201}
    refused = [r for _, r in outcomes if not (isinstance(r, httpx.Response) and r.status_code == 201)]
    print(f"accepted {len(accepted)}, refused {len(refused)}: {sorted({type(r).__name__ if isinstance(r, Exception) else r.status_code for r in refused}, key=str)}")
    assert len(accepted) >= 200
    # Requests during the restart failed visibly (the load ran on while intake was away), never with a 2xx/4xx.
    assert refused, "no request fell into the restart: the test did not exercise it"
    wrong = [r for r in refused if not (isinstance(r, httpx.TransportError) or r.status_code >= 500)]
    assert not wrong, [(r.status_code, r.text[:200]) for r in wrong[:3]]

    engine = create_engine(IntakeSettings(**settings_kwargs), pool_size=1)
    try:
        async with engine.connect() as conn:
            stored = dict((await conn.execute(
                select(intake_clues.c.id, intake_clues.c.external_id).where(
                    intake_clues.c.external_id.in_(list(accepted.values()))))).all())
    finally:
        await engine.dispose()
    assert {str(k): v for k, v in stored.items()} == accepted, "an accepted report is missing from intake's table"

    # The restarted relay publishes what the stopped one left in the outbox; read from the start each time
    # (a fresh consumer group), as a redelivered duplicate may arrive before the last missing one.
    async def missing_from_topic():
        records = await read_all(settings_kwargs["kafka_bootstrap_servers"], ClueReceived.topic(prefix),
                                 expect=len(accepted), timeout=20)
        missing = set(accepted) - {CloudEvent.from_bytes(r.value).data["clue_id"] for r in records}
        return missing or None

    missing = None
    try:
        await eventually(lambda: _negate(missing_from_topic), timeout=60, interval=0.5)
    except AssertionError:
        missing = await missing_from_topic()
    assert not missing, f"{len(missing)} accepted clue(s) never reached Kafka"


async def _negate(probe):
    return not await probe()
