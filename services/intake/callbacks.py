"""热线回告: the worker that delivers hotline callbacks from ``hotline_updates`` (an outbox of its own).

A pass claims due rows (``FOR UPDATE SKIP LOCKED``, marked ``sending`` under a lease) and commits, then
POSTs them to their lines' URLs concurrently and records every outcome in one fresh transaction. Per ticket,
a stage is sent only once the earlier ones are settled, so a line hears 受理 before 办结 even across retries.
Failures are retried with exponential backoff (capped, jittered) up to ``callback_max_attempts``; a 4xx other than
408/425/429 is the receiver refusing the call, so it is not retried. A worker that dies mid-send leaves
the lease to expire and the row is sent again: delivery is at-least-once, and the ``Idempotency-Key``
header (the same on every attempt) lets the receiver drop a repeat.

Each call is signed like a hotline's own push (``X-Zuofeng-Key``, ``-Timestamp``, ``-Nonce``,
``-Signature: v1=HMAC-SHA256(secret, "v1\\nPOST\\n<path?query>\\n<ts>\\n<nonce>\\n<sha256(body)>")``),
with the secret configured for that line, so a line verifies it with the code it signs its pushes with.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import secrets
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import orjson
from fastapi import FastAPI
from prometheus_client import Counter
from sqlalchemy import text

from services.common.db import session_scope

from .settings import HotlineCallback, IntakeSettings

log = logging.getLogger(__name__)

CALLBACKS = Counter("zuofeng_intake_hotline_callbacks_total", "Hotline callback attempts by outcome",
                    ["line", "outcome"])
_NOT_RETRIED = {400, 401, 403, 404, 405, 410, 413, 415, 422}

# Rows of configured lines that are due; a row waits while an earlier stage of its ticket is unsettled.
_CLAIM = text("""
UPDATE intake.hotline_updates u
   SET status = 'sending', attempts = u.attempts + 1, locked_until = :lease
 WHERE u.id IN (
       SELECT h.id FROM intake.hotline_updates h
        WHERE h.line = ANY(:lines)
          AND ((h.status = 'pending' AND h.next_attempt_at <= :now)
               OR (h.status = 'sending' AND h.locked_until < :now))
          AND NOT EXISTS (SELECT 1 FROM intake.hotline_updates e
                           WHERE e.clue_id = h.clue_id AND e.id < h.id AND e.status IN ('pending', 'sending'))
        ORDER BY h.id
        LIMIT :batch
          FOR UPDATE SKIP LOCKED)
RETURNING u.id, u.line, u.stage, u.idempotency_key, u.payload, u.attempts
""")
# Guarded by the attempt: a row retaken after its lease expired is not overwritten by the older attempt.
_SETTLE = text("""
UPDATE intake.hotline_updates
   SET status = :status, locked_until = NULL, last_error = :last_error,
       delivered_at = COALESCE(CAST(:delivered_at AS timestamptz), delivered_at),
       next_attempt_at = COALESCE(CAST(:next_attempt_at AS timestamptz), next_attempt_at)
 WHERE id = :id AND status = 'sending' AND attempts = :attempts
""")
# Stages a line did not ask for are settled at once, so they never hold back the ones it wants.
_SKIP = text("""
UPDATE intake.hotline_updates SET status = 'skipped'
 WHERE status = 'pending' AND line = :line AND NOT (stage = ANY(:stages))
""")


def sign_callback(callback: HotlineCallback, body: bytes, *, timestamp: int | None = None,
                  nonce: str | None = None) -> dict[str, str]:
    parts = urlsplit(callback.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_urlsafe(18)
    canonical = "\n".join(("v1", "POST", target, ts, nonce, hashlib.sha256(body).hexdigest())).encode()
    mac = hmac.new(callback.secret.encode(), canonical, hashlib.sha256).hexdigest()
    return {"x-zuofeng-key": callback.key_id, "x-zuofeng-timestamp": ts, "x-zuofeng-nonce": nonce,
            "x-zuofeng-signature": f"v1={mac}"}


def now_utc() -> datetime:
    return datetime.now(UTC)


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    return min(cap, base * 2 ** max(0, attempts - 1)) * (1 + random.uniform(0, 0.2))  # noqa: S311 — retry jitter, not a secret


class CallbackWorker:
    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client
        self.settings: IntakeSettings = app.state.settings

    async def run_once(self) -> int:
        """One pass; returns how many callbacks it attempted."""
        s = self.settings
        if not s.hotline_callbacks:
            return 0
        now = now_utc()
        async with session_scope(self.app.state.sessions) as session:
            for line, callback in s.hotline_callbacks.items():
                if callback.stages is not None:
                    await session.execute(_SKIP, {"line": line, "stages": list(callback.stages)})
            rows = (await session.execute(_CLAIM, {
                "lines": list(s.hotline_callbacks), "now": now, "batch": 100,
                "lease": now + timedelta(seconds=s.callback_lease_seconds)})).all()
        outcomes = await asyncio.gather(*(self._deliver(row) for row in rows))
        if outcomes:
            async with session_scope(self.app.state.sessions) as session:
                await session.execute(_SETTLE, list(outcomes))
        return len(rows)

    async def _deliver(self, row) -> dict:
        """Send one stage; the values to settle its row with (all of a pass are settled in one statement)."""
        callback = self.settings.hotline_callbacks[row.line]
        # Raw SQL hands JSONB back as its text: sent as stored.
        body = row.payload.encode() if isinstance(row.payload, str) else orjson.dumps(row.payload)
        headers = {"content-type": "application/json", "idempotency-key": row.idempotency_key,
                   "x-zuofeng-event": row.stage, **sign_callback(callback, body)}
        try:
            response = await self.client.post(callback.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return self._failed(row, f"{type(exc).__name__}", retry=True)
        if 200 <= response.status_code < 300 or response.status_code == 409:  # 409: the line has it already
            CALLBACKS.labels(row.line, "delivered").inc()
            return _settled(row, "delivered", delivered_at=now_utc())
        return self._failed(row, f"HTTP {response.status_code}", retry=response.status_code not in _NOT_RETRIED)

    def _failed(self, row, reason: str, *, retry: bool) -> dict:
        s = self.settings
        give_up = not retry or row.attempts >= s.callback_max_attempts
        log.warning("hotline callback failed", extra={"line": row.line, "update_id": row.id, "reason": reason,
                                                      "attempts": row.attempts, "final": give_up})
        CALLBACKS.labels(row.line, "failed" if give_up else "retrying").inc()
        if give_up:
            return _settled(row, "failed", last_error=reason)
        delay = backoff_seconds(row.attempts, s.callback_backoff_seconds, s.callback_backoff_max_seconds)
        return _settled(row, "pending", last_error=reason, next_attempt_at=now_utc() + timedelta(seconds=delay))


def _settled(row, status: str, *, last_error: str | None = None, delivered_at: datetime | None = None,
             next_attempt_at: datetime | None = None) -> dict:
    return {"id": row.id, "attempts": row.attempts, "status": status, "last_error": last_error,
            "delivered_at": delivered_at, "next_attempt_at": next_attempt_at}


async def callback_worker(app: FastAPI) -> None:
    """Background worker (``ServiceSpec.workers``) for the app's lifetime."""
    settings: IntakeSettings = app.state.settings
    async with httpx.AsyncClient(timeout=settings.callback_timeout_seconds, follow_redirects=False,
                                 trust_env=False) as client:
        worker = CallbackWorker(app, client)
        app.state.callback_worker = worker
        backoff = 0.5
        while True:
            try:
                attempted = await worker.run_once()
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — database outage: back off, keep going
                log.warning("hotline callback pass failed", extra={"error": repr(exc)})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            if not attempted:
                await asyncio.sleep(settings.callback_poll_seconds)
