"""The real stack for benchmarks that need more than one service: a fresh database with every service's
migrations, fresh keys, the five services and the gateway each under uvicorn (``zuofeng serve``) on a
loopback port, the local Kafka with a topic prefix of the run's own. Not a benchmark itself (bench.run
skips it)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import jwt
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
SERVER_URL = os.environ.get("DATABASE_URL", "postgresql+asyncpg://zuofeng:zuofeng@127.0.0.1:55432/zuofeng")
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
SERVICES = ("intake", "triage", "accountability", "evaluation", "notification")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def admin_dsn() -> str:
    return make_url(SERVER_URL).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)


def plain_dsn(url: str) -> str:
    """The asyncpg form of a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class Stack:
    database_url: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    bases: dict[str, str] = field(default_factory=dict)
    internal_private: str = ""
    staff_private: str = ""

    def staff_bearer(self, *roles: str) -> dict[str, str]:
        now = int(time.time())
        token = jwt.encode({"sub": "bench", "roles": list(roles), "iss": "zuofeng-dev-idp", "aud": "zuofeng",
                            "iat": now, "exp": now + 3600}, self.staff_private, algorithm="EdDSA")
        return {"authorization": f"Bearer {token}"}

    def hotline(self, line: str = "12345") -> dict[str, str]:
        from services.common.auth import Principal, mint_internal_token

        return {"x-zuofeng-identity": mint_internal_token(
            Principal(kind="hotline", subject=f"bench-{line}", line=line), self.internal_private, ttl_seconds=3600)}


async def wait_ready(base: str, process: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout  # imports alone take seconds on a loaded machine
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{base} exited with {process.returncode} while starting")
            try:
                if (await client.get(base + "/readyz", timeout=5)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.3)
    raise RuntimeError(f"{base} did not become ready")


@asynccontextmanager
async def running_stack(name: str, *, services=SERVICES, gateway: bool = True, extra_env: dict | None = None):
    """Yield a :class:`Stack`; stop every process and drop the database afterwards."""
    from services.common.auth import generate_keypair
    from services.common.crypto import KeyRing
    from services.common.kafka import delete_topics
    from services.common.migrate import upgrade

    database = f"bench_{name}_{os.getpid()}"
    conn = await asyncpg.connect(admin_dsn())
    await conn.execute(f'CREATE DATABASE "{database}"')
    await conn.close()
    url = make_url(SERVER_URL).set(database=database).render_as_string(hide_password=False)
    for service in SERVICES:
        await asyncio.to_thread(upgrade, service, url)

    internal_private, internal_public = generate_keypair()
    staff_private, staff_public = generate_keypair()
    stack = Stack(url, internal_private=internal_private, staff_private=staff_private)
    log_dir = Path(f"/tmp/bench-{name}-{os.getpid()}")
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {
        "ZUOFENG_ENV": "development", "LOG_LEVEL": "WARNING", "DATABASE_URL": url, "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
        "KAFKA_TOPIC_PREFIX": f"bench{secrets.token_hex(3)}.", "DB_POOL_SIZE": "10",
        "INTERNAL_TOKEN_PUBLIC_KEY": internal_public, "INTERNAL_TOKEN_PRIVATE_KEY": internal_private,
        "IDENTITY_KEYRING": KeyRing.generate_spec("b1"), "CONTACT_KEYRING": KeyRing.generate_spec("b2"),
        "ZUOFENG_DATA_DIR": str(log_dir / "data"), "TRIAGE_SCHEDULER_ENABLED": "false",
        "STAFF_JWT_PUBLIC_KEY": staff_public, "GATEWAY_RATE_LIMITS": "{}",
        **(extra_env or {}),
    }
    names = list(services) + (["gateway"] if gateway else [])
    ports = {n: free_port() for n in names}
    env["GATEWAY_UPSTREAMS"] = json.dumps({n: f"http://127.0.0.1:{ports[n]}" for n in services})
    logs = []
    try:
        for n in names:
            log = open(log_dir / f"{n}.log", "wb")  # noqa: SIM115 — kept open for the process's life, closed in finally
            logs.append(log)
            stack.processes[n] = subprocess.Popen(
                [sys.executable, "-m", "services.common.cli", "serve", n, "--port", str(ports[n])],
                env={**os.environ, **env}, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
            stack.bases[n] = f"http://127.0.0.1:{ports[n]}"
        for n in names:
            await wait_ready(stack.bases[n], stack.processes[n])
        yield stack
    finally:
        for process in stack.processes.values():
            process.terminate()
        for process in stack.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()
        conn = await asyncpg.connect(admin_dsn())
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.close()
        await delete_topics(KAFKA, env["KAFKA_TOPIC_PREFIX"])


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p))]


def write(area: str, results: dict, markdown: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{area}.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    (RESULTS / f"{area}.md").write_text(markdown)
    print(markdown)


class RawHTTP:
    """A minimal HTTP/1.1 keep-alive client for load generation on loopback.

    httpx with 64+ pooled connections costs the load generator milliseconds of CPU per request (its pool
    scans every connection per request), and on two shared cores that CPU is taken from the servers being
    measured: the generator, not the stack, was what limited the single-report figures. This writes the
    request bytes straight to asyncio streams, as ``bench.gateway_overhead`` does. Idle connections are
    dropped after 4 s, before uvicorn's own 5 s keep-alive timeout closes them under a request."""

    def __init__(self, base: str, headers: dict[str, str] | None = None, keepalive: float = 4.0) -> None:
        url = httpx.URL(base)
        self.host, self.port = url.host, url.port or 80
        self.prefix = url.raw_path.rstrip(b"/").decode()
        self.keepalive = keepalive
        self._head = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        now = time.monotonic()
        while self._idle:
            reader, writer, since = self._idle.pop()
            if now - since < self.keepalive:
                return reader, writer
            writer.close()
        return await asyncio.open_connection(self.host, self.port)

    async def post(self, path: str, body: bytes, content_type: str = "application/json") -> tuple[int, bytes]:
        reader, writer = await self._connection()
        try:
            writer.write((f"POST {self.prefix}{path} HTTP/1.1\r\nhost: {self.host}\r\n{self._head}"
                          f"content-type: {content_type}\r\ncontent-length: {len(body)}\r\n\r\n").encode() + body)
            status, payload, keep = await read_response(reader)
        except BaseException:
            writer.close()
            raise
        if keep:
            self._idle.append((reader, writer, time.monotonic()))
        else:
            writer.close()
        return status, payload

    def close(self) -> None:
        for _, writer, _ in self._idle:
            writer.close()
        self._idle.clear()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, keep-alive) of one HTTP/1.1 response."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    marker = lower.find(b"content-length:")
    body = b""
    if marker >= 0:
        length = int(lower[marker + 15:lower.index(b"\r\n", marker)])
        body = await reader.readexactly(length)
    elif b"transfer-encoding: chunked" in lower:
        chunks = []
        while True:
            size = int((await reader.readline()).strip(), 16)
            chunks.append((await reader.readexactly(size + 2))[:-2])
            if size == 0:
                break
        body = b"".join(chunks)
    return status, body, b"connection: close" not in lower
