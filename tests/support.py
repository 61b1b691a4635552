"""Helpers the tests share: real infrastructure discovery, identities, polling."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import jwt

from services.common.auth import Principal, mint_internal_token

REPO = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def infra_env() -> dict[str, str]:
    """Start (or reuse) the local Kafka and PostgreSQL; return their addresses.

    ``DATABASE_URL`` and ``KAFKA_BOOTSTRAP_SERVERS`` in the environment point at existing servers instead."""
    if os.environ.get("DATABASE_URL") and os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return {k: os.environ[k] for k in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")}
    subprocess.run(["bash", str(REPO / "deploy/local/infra.sh"), "up"], check=True, stdout=subprocess.DEVNULL)
    out = subprocess.run(
        ["bash", str(REPO / "deploy/local/infra.sh"), "env"], check=True, capture_output=True, text=True
    ).stdout
    env = {}
    for line in out.splitlines():
        line = line.removeprefix("export ").strip()
        if "=" in line:
            key, value = line.split("=", 1)
            env[key] = value.strip("'\"")
    return env


class PrivateBroker:
    """A broker of a test's own (``KAFKA_INSTANCE``, own ports), which it may stop and start without
    disturbing the broker the rest of the run shares."""

    def __init__(self, instance: str, port: int) -> None:
        self.env = {"KAFKA_INSTANCE": instance, "KAFKA_PORT": str(port), "KAFKA_CONTROLLER_PORT": str(port + 1)}
        self.bootstrap = f"127.0.0.1:{port}"

    async def __call__(self, action: str) -> None:
        # In a thread: the services under test share this event loop and must keep running meanwhile.
        await asyncio.to_thread(
            subprocess.run, ["bash", str(REPO / "deploy/local/kafka.sh"), action], check=True,
            env={**os.environ, **self.env}, stdout=subprocess.DEVNULL)


class Identities:
    """Mints what the gateway would forward (internal tokens) and what staff would send (bearer JWTs)."""

    def __init__(self, internal_private: str, staff_private: str) -> None:
        self.internal_private = internal_private
        self.staff_private = staff_private

    def internal(self, principal: Principal) -> dict[str, str]:
        return {"x-zuofeng-identity": mint_internal_token(principal, self.internal_private)}

    def staff(self, *roles: str, unit: str | None = None, subject: str = "tester") -> Principal:
        return Principal(kind="staff", subject=subject, roles=frozenset(roles), unit_id=unit)

    def as_staff(self, *roles: str, unit: str | None = None, subject: str = "tester") -> dict[str, str]:
        return self.internal(self.staff(*roles, unit=unit, subject=subject))

    def as_hotline(self, line: str) -> dict[str, str]:
        return self.internal(Principal(kind="hotline", subject=f"hotline-{line}", line=line))

    def as_public(self) -> dict[str, str]:
        return self.internal(Principal(kind="public", subject="anonymous", client="127.0.0.1"))

    def bearer(self, *roles: str, unit: str | None = None, subject: str = "tester", ttl: int = 600,
               issuer: str = "zuofeng-dev-idp", audience: str = "zuofeng") -> dict[str, str]:
        now = int(time.time())
        claims = {"sub": subject, "roles": list(roles), "iss": issuer, "aud": audience, "iat": now, "exp": now + ttl}
        if unit:
            claims["unit"] = unit
        return {"authorization": "Bearer " + jwt.encode(claims, self.staff_private, algorithm="EdDSA")}


async def eventually(probe: Callable[[], Awaitable[T | None]], *, timeout: float = 20.0, interval: float = 0.1) -> T:
    """Poll until ``probe`` returns something truthy; fail with the last value after ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    last = None
    while asyncio.get_running_loop().time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


class LoopbackServer:
    """An ASGI app served by uvicorn on a free loopback port (a real socket: browsers, raw HTTP, callbacks).

    ``await server.start()`` / ``await server.stop()``, or ``async with``."""

    def __init__(self, app, *, lifespan: str = "off") -> None:
        import uvicorn

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan=lifespan))
        self.task: asyncio.Task | None = None

    async def start(self):
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        while not self.server.started:  # noqa: ASYNC110 — uvicorn exposes only a flag
            await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task:
            await self.task

    async def __aenter__(self):
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()
