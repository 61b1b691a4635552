"""The delivery worker: sends queued deliveries outside any consumer transaction, with retries and limits.

One pass: claim due rows (``FOR UPDATE SKIP LOCKED``, marked ``sending`` with a lease) and commit; send
each through its channel, at most ``rate_limits[channel]`` per second; record the outcome in a fresh
transaction. A worker that dies mid-send leaves the lease to expire and the row is taken again, so a send
is at-least-once at the provider boundary and exactly-once everywhere before it (one row per event,
recipient and channel). Addresses are resolved, and reporters' contacts opened, only in memory here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from datetime import datetime, timedelta

import asyncpg
import httpx
from fastapi import FastAPI
from prometheus_client import Counter, Histogram
from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.db import session_scope

from .catalog import can_transition
from .channels import Channel, DeliveryError, Outgoing, TokenBucket, build_channels
from .models import deliveries
from .rendering import redact_identity
from .service import ContactUnavailable, Notifier, addresses_for, now_utc
from .service.core import DELIVERY_WAKEUP

log = logging.getLogger(__name__)

DELIVERIES = Counter("zuofeng_notification_deliveries_total", "Delivery attempts by outcome",
                     ["channel", "outcome"])
SEND_SECONDS = Histogram("zuofeng_notification_send_seconds", "Time a channel took to send one message",
                         ["channel"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


def backoff_seconds(attempts: int, base: float, cap: float, jitter: float = 0.2) -> float:
    """Exponential backoff after the ``attempts``-th failed attempt, capped, with up to 20% jitter."""
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return delay * (1 + random.uniform(0, jitter))  # noqa: S311 — retry jitter, not a secret


class DeliveryWorker:
    def __init__(
        self, *, sessions: async_sessionmaker[AsyncSession], notifier: Notifier, channels: dict[str, Channel]
    ) -> None:
        self.sessions = sessions
        self.notifier = notifier
        self.channels = channels
        s = notifier.settings
        self.limits = {name: TokenBucket(s.rate_limits.get(name, 10.0)) for name in channels}
        self.wake = asyncio.Event()
        self.sent = 0

    async def claim(self, now: datetime) -> list:
        s = self.notifier.settings
        d = deliveries
        due = (
            select(d.c.id)
            .where(
                or_(
                    and_(d.c.status.in_(("queued", "retrying")), d.c.next_attempt_at <= now),
                    and_(d.c.status == "sending", d.c.locked_until < now),
                )
            )
            .order_by(d.c.next_attempt_at, d.c.id)
            .limit(s.delivery_batch_size)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        async with session_scope(self.sessions) as session:
            rows = (
                await session.execute(
                    update(d)
                    .where(d.c.id.in_(due))
                    .values(status="sending", attempts=d.c.attempts + 1,
                            locked_until=now + timedelta(seconds=s.delivery_lease_seconds), updated_at=now)
                    .returning(d.c.id, d.c.channel, d.c.recipient, d.c.subject, d.c.body, d.c.template,
                               d.c.attempts)
                )
            ).all()
        # UPDATE … RETURNING has no order; ids are time-ordered, so this keeps a reporter's outcome ahead of
        # the rating request queued with it.
        return sorted(rows, key=lambda r: r.id)

    async def idle_seconds(self, poll: float) -> float:
        """How long to sleep: until the next retry or lease expiry, at most ``poll`` (new work wakes us by NOTIFY)."""
        async with self.sessions() as session:
            due_at = case((deliveries.c.status == "sending", deliveries.c.locked_until),
                          else_=deliveries.c.next_attempt_at)
            due = await session.scalar(
                select(func.min(due_at)).where(deliveries.c.status.in_(("queued", "retrying", "sending")))
            )
        if due is None:
            return poll
        return min(poll, max(0.01, (due - now_utc()).total_seconds()))

    async def run_once(self) -> int:
        """One pass; returns how many deliveries it attempted."""
        rows = await self.claim(now_utc())
        by_channel: dict[str, list] = defaultdict(list)
        for row in rows:
            by_channel[row.channel].append(row)
        await asyncio.gather(*(self._send_all(channel, batch) for channel, batch in by_channel.items()))
        return len(rows)

    async def _send_all(self, channel_name: str, rows: list) -> None:
        for row in rows:
            await self._send(channel_name, row)

    async def _send(self, channel_name: str, row) -> None:
        channel = self.channels.get(channel_name)
        try:
            if channel is None:
                raise DeliveryError(f"channel {channel_name} is not configured", permanent=True)
            async with session_scope(self.sessions) as session:
                try:
                    address = (await addresses_for(session, self.notifier, row.recipient, purpose="delivery",
                                                   delivery_id=row.id)).get(channel_name)
                except ContactUnavailable as exc:
                    raise DeliveryError(f"contact unavailable: {exc}", permanent=True) from None
            if not address:
                raise DeliveryError(f"no {channel_name} address for the recipient", permanent=True)
            await self.limits[channel_name].acquire()
            with SEND_SECONDS.labels(channel_name).time():
                provider_id = await channel.send(
                    Outgoing(delivery_id=row.id, channel=channel_name, address=address, subject=row.subject,
                             body=row.body, template=row.template)
                )
        except DeliveryError as exc:
            await self._record_failure(row, exc)
        except Exception as exc:  # noqa: BLE001 — an adapter bug must not kill the worker; retried
            await self._record_failure(row, DeliveryError(f"{channel_name}: {type(exc).__name__}"))
        else:
            await self._record(row, "sent", provider_id=provider_id)
            DELIVERIES.labels(channel_name, "sent").inc()
            self.sent += 1

    async def _record_failure(self, row, error: DeliveryError) -> None:
        s = self.notifier.settings
        give_up = error.permanent or row.attempts >= s.delivery_max_attempts
        # The reason may quote a provider's answer; keep anything that looks like an address out of the log.
        reason = redact_identity(error.reason)[:500]
        log.warning("delivery attempt failed", extra={"delivery_id": str(row.id), "channel": row.channel,
                                                      "attempts": row.attempts, "reason": reason,
                                                      "final": give_up})
        DELIVERIES.labels(row.channel, "failed" if give_up else "retrying").inc()
        if give_up:
            await self._record(row, "failed", error=reason)
        else:
            delay = backoff_seconds(row.attempts, s.delivery_backoff_seconds, s.delivery_backoff_max_seconds)
            await self._record(row, "retrying", error=reason, next_attempt_at=now_utc() + timedelta(seconds=delay))

    async def _record(self, row, status: str, *, provider_id: str | None = None, error: str | None = None,
                      next_attempt_at: datetime | None = None) -> None:
        if not can_transition("sending", status):
            raise ValueError(f"delivery cannot go from sending to {status}")
        now = now_utc()
        values: dict = {"status": status, "locked_until": None, "updated_at": now, "last_error": error}
        if status == "sent":
            values.update(sent_at=now, provider_id=provider_id)
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        async with session_scope(self.sessions) as session:
            # Guarded by status and attempts: a row retaken after its lease expired is not overwritten.
            await session.execute(
                update(deliveries)
                .where(deliveries.c.id == row.id, deliveries.c.status == "sending",
                       deliveries.c.attempts == row.attempts)
                .values(**values)
            )

    async def listen(self) -> None:
        """Wake on NOTIFY from the transactions that queue deliveries; reconnects after an outage."""
        while True:
            try:
                conn = await asyncpg.connect(self.notifier.settings.asyncpg_dsn)
                try:
                    await conn.add_listener(DELIVERY_WAKEUP, lambda *_: self.wake.set())
                    while not conn.is_closed():  # noqa: ASYNC110 — asyncpg has no closed event to await
                        await asyncio.sleep(5)
                finally:
                    await conn.close(timeout=2)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — polling carries on meanwhile
                log.warning("delivery listener interrupted", extra={"error": repr(exc)})
                await asyncio.sleep(2)

    async def run(self) -> None:
        listener = asyncio.create_task(self.listen(), name="notification-delivery-listener")
        try:
            await self._loop()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener

    async def _loop(self) -> None:
        poll = self.notifier.settings.delivery_poll_seconds
        backoff = 0.5
        while True:
            try:
                attempted = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — database outage: back off, keep going
                log.warning("delivery pass failed", extra={"error": repr(exc)})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = 0.5
            if attempted:
                continue
            self.wake.clear()
            idle = await self.idle_seconds(poll)  # before wait() exists: a failure here leaves no coroutine behind
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), idle)


async def delivery_worker(app: FastAPI) -> None:
    """Background worker (``ServiceSpec.workers``): runs the delivery loop for the app's lifetime."""
    settings = app.state.settings
    async with httpx.AsyncClient(timeout=settings.webhook_timeout_seconds) as client:
        worker = DeliveryWorker(
            sessions=app.state.sessions, notifier=app.state.notifier,
            channels=build_channels(settings, app.state.sessions, client),
        )
        app.state.delivery_worker = worker
        await worker.run()
