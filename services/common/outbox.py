"""Transactional outbox: an event is written in the same transaction as the state change, and a relay
publishes it to Kafka afterwards. Kafka being down never fails a request; events wait, nothing is lost.

The relay is woken by LISTEN/NOTIFY (and polls as a fallback), claims rows with ``FOR UPDATE SKIP LOCKED``,
publishes with an idempotent producer (acks=all) and deletes the rows it published. One relay per schema
is active at a time (a session advisory lock), which keeps each aggregate's events in order across
replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from collections.abc import Sequence

import asyncpg
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    LargeBinary,
    MetaData,
    Table,
    Text,
    delete,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from .contracts.base import EventContract
from .kafka import ensure_topics, new_producer
from .logs import traceparent_var
from .observability import EVENTS_PUBLISHED, OUTBOX_BACKLOG
from .settings import ServiceSettings
from .telemetry import enabled as telemetry_enabled, producer_span

log = logging.getLogger(__name__)


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("seq", BigInteger, Identity(), primary_key=True),
        Column("topic", Text, nullable=False),
        Column("key", Text, nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


# From this many events on, publish_many writes them with COPY instead of one multi-row INSERT.
COPY_FROM = 64
# session.info key: the transaction that has already queued the relay's wake-up.
_NOTIFIED = "zuofeng_outbox_notified"


def notify_channel(schema: str | None) -> str:
    return f"zuofeng_outbox_{schema}"


class Outbox:
    """What a service's code calls to publish: ``await outbox.publish(session, ClueReceived(...))``."""

    def __init__(self, table: Table, settings: ServiceSettings) -> None:
        self.table = table
        self.prefix = settings.topic_prefix
        self._notify_sql = f"SELECT pg_notify('{notify_channel(table.schema)}', '')"
        self._notify = text(self._notify_sql)
        # One round trip per publish: the rows go in as arrays (any number, in order, so ``seq`` follows the
        # caller's order), and the relay's wake-up rides on the same statement. Notifications are delivered
        # at commit only, so the relay never wakes for a transaction that rolled back.
        target = f"{table.schema}.{table.name}" if table.schema else table.name
        rows = ("INSERT INTO " + target + " (topic, key, payload) SELECT * FROM unnest("  # noqa: S608 — target is the service's own outbox table
                "CAST(:topic AS text[]), CAST(:key AS text[]), CAST(:payload AS bytea[]))")
        self._insert_and_notify = text(f"WITH published AS ({rows} RETURNING 1) {self._notify_sql}")
        self._insert = text(rows)

    def _row(self, contract: EventContract, traceparent: str | None) -> dict:
        topic, key = contract.topic(self.prefix), contract.key()
        current = traceparent_var.get()
        # With tracing on, the envelope carries the producer span's context, so the consumer's span joins
        # the same trace as a child of this publish; off, it carries the request's traceparent as before.
        with producer_span(
            topic, key=key, event_type=contract.event_type(), parent=traceparent, fallback=current
        ) as span_parent:
            payload = contract.envelope_bytes(traceparent=span_parent or traceparent or current)
        return {"topic": topic, "key": key, "payload": payload}

    def _columns(self, contracts: Sequence[EventContract], traceparent: str | None) -> dict[str, list]:
        """The rows as three columns. Without tracing there is no span per event to open, and the one
        traceparent of the work is looked up once: a 500-clue hotline batch builds 500 envelopes here."""
        if telemetry_enabled():
            rows = [self._row(c, traceparent) for c in contracts]
            return {name: [r[name] for r in rows] for name in ("topic", "key", "payload")}
        parent = traceparent or traceparent_var.get()
        topics: dict[type, str] = {}
        columns: dict[str, list] = {"topic": [], "key": [], "payload": []}
        for contract in contracts:
            kind = type(contract)
            topic = topics.get(kind) or topics.setdefault(kind, contract.topic(self.prefix))
            columns["topic"].append(topic)
            columns["key"].append(contract.key())
            columns["payload"].append(contract.envelope_bytes(traceparent=parent))
        return columns

    async def publish(self, session: AsyncSession, contract: EventContract, *, traceparent: str | None = None) -> None:
        await self.publish_many(session, [contract], traceparent=traceparent)

    async def publish_many(
        self, session: AsyncSession, contracts: Sequence[EventContract], *, traceparent: str | None = None
    ) -> None:
        if not contracts:
            return
        columns = self._columns(contracts, traceparent)
        # One NOTIFY per transaction is enough (a consumer's batch publishes once per event it handles); under
        # a savepoint, which may roll back with its NOTIFY, every publish sends its own.
        transaction = session.get_transaction()
        nested = session.in_nested_transaction()
        notified = transaction is not None and not nested and session.info.get(_NOTIFIED) is transaction
        if len(contracts) >= COPY_FROM:
            # A hotline batch: COPY on the transaction's own connection is ~25 % cheaper than the array insert
            # at 500 rows (bench/results/intake.md), and keeps the rows in the caller's order.
            raw = (await (await session.connection()).get_raw_connection()).driver_connection
            await self.copy_rows(raw, _records(columns), notify=not notified)
        elif notified:
            await session.execute(self._insert, columns)
            return
        else:
            await session.execute(self._insert_and_notify, columns)
        if not nested:
            session.info[_NOTIFIED] = session.get_transaction()

    async def copy_many(
        self, raw: asyncpg.Connection, contracts: Sequence[EventContract], *, traceparent: str | None = None
    ) -> None:
        """``publish_many`` through COPY on the transaction's own asyncpg connection, for runs that write
        tens of thousands of events at once (the triage daily run)."""
        await self.copy_rows(raw, _records(self._columns(contracts, traceparent)))

    async def copy_rows(self, raw: asyncpg.Connection, records: Sequence[tuple[str, str, bytes]], *,
                        notify: bool = True) -> None:
        """(topic, key, envelope) rows whose envelopes the caller built with ``envelope_bytes``; ``notify``
        false when the transaction has already queued the relay's wake-up."""
        if not records:
            return
        await raw.copy_records_to_table(
            self.table.name, schema_name=self.table.schema, records=records, columns=("topic", "key", "payload"))
        if notify:
            await raw.execute(self._notify_sql)


class OutboxRelay:
    def __init__(
        self,
        *,
        service: str,
        table: Table,
        engine: AsyncEngine,
        settings: ServiceSettings,
        topics: dict[str, bool],
    ) -> None:
        self.service = service
        self.table = table
        self.engine = engine
        self.settings = settings
        self.topics = topics
        self._wake = asyncio.Event()
        self._lock_key = zlib.crc32(f"zuofeng-outbox-{table.schema}".encode())
        self.published = 0
        self._backlog_at = 0.0

    async def run(self) -> None:
        """Runs until cancelled; survives database and broker outages by backing off and retrying."""
        backoff = 0.5
        while True:
            try:
                await self._run_as_leader()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — any outage: wait, then start over
                log.warning("outbox relay interrupted, retrying", extra={"error": repr(exc)})
                # A broker that cannot be reached is exactly when the backlog grows: keep reporting it.
                await self.report_backlog(force=True)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            else:
                backoff = 0.5

    async def _run_as_leader(self) -> None:
        listener = await asyncpg.connect(self.settings.asyncpg_dsn)
        try:
            while not await listener.fetchval("SELECT pg_try_advisory_lock($1)", self._lock_key):
                await self.report_backlog()  # a standby reports the same figure as the leader
                await asyncio.sleep(self.settings.outbox_poll_seconds)
            await listener.add_listener(notify_channel(self.table.schema), lambda *_: self._wake.set())
            await ensure_topics(self.settings, self.topics)
            producer = new_producer(self.settings, f"{self.service}-relay")
            await producer.start()
            try:
                await self._drain_forever(producer, listener)
            finally:
                await producer.stop()
        finally:
            await listener.close(timeout=2)

    async def _drain_forever(self, producer, listener: asyncpg.Connection) -> None:
        while True:
            # Cleared before the claim, so a NOTIFY that arrives while a batch is out wakes the next round at
            # once; a short batch means the table was drained, so no second (empty) claim is made for it.
            self._wake.clear()
            while await self.publish_batch(producer) >= self.settings.outbox_batch_size:
                await self.report_backlog()
            await self.report_backlog()
            if listener.is_closed():
                raise ConnectionError("listener connection lost")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.outbox_poll_seconds)

    async def report_backlog(self, *, force: bool = False) -> None:
        """Set ``zuofeng_outbox_backlog`` from a count of the rows waiting, at most once a second (a drain
        round can take milliseconds); ``force`` after a failure. A database that cannot be reached leaves
        the last figure in place (its own alerts cover it)."""
        now = time.monotonic()
        if not force and now - self._backlog_at < 1.0:
            return
        self._backlog_at = now
        try:
            async with self.engine.connect() as conn:
                waiting = await conn.scalar(select(func.count()).select_from(self.table))
        except Exception as exc:  # noqa: BLE001 — a metric must never break the relay
            log.debug("outbox backlog not counted", extra={"error": type(exc).__name__})
            return
        OUTBOX_BACKLOG.labels(self.service).set(waiting or 0)

    async def publish_batch(self, producer) -> int:
        t = self.table
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(t.c.seq, t.c.topic, t.c.key, t.c.payload)
                    .order_by(t.c.seq)
                    .limit(self.settings.outbox_batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            # Enqueue all, then await all: the producer batches them per partition.
            futures = [
                await producer.send(row.topic, value=row.payload, key=row.key.encode()) for row in rows
            ]
            outcomes = await asyncio.gather(*futures, return_exceptions=True)
            published, failure = settled(rows, outcomes)
            if published:
                await conn.execute(delete(t).where(t.c.seq.in_([row.seq for row in published])))
        for row in published:
            EVENTS_PUBLISHED.labels(self.service, row.topic).inc()
        self.published += len(published)
        if failure is not None:
            raise failure
        return len(rows)


def _records(columns: dict[str, list]) -> list[tuple[str, str, bytes]]:
    return list(zip(columns["topic"], columns["key"], columns["payload"], strict=True))


def settled(rows: Sequence, outcomes: Sequence) -> tuple[list, BaseException | None]:
    """Which claimed rows may be deleted after a partly failed send, and the first failure.

    A failure (a partition's leader moving, say) keeps its row, and every later row of the same
    aggregate key, so the next attempt republishes that key's events in their original order. Rows of
    other keys that the broker acknowledged are done: republishing them would only hand consumers
    duplicates for their inbox to absorb.
    """
    failed_keys: set[tuple[str, str]] = set()
    published, failure = [], None
    for row, outcome in zip(rows, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            failure = failure or outcome
            failed_keys.add((row.topic, row.key))
        elif (row.topic, row.key) not in failed_keys:
            published.append(row)
    return published, failure
