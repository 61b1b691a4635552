"""The consumer loop: poll → handle in one DB transaction with inbox dedupe → commit offsets; on poison, DLQ.

Offsets are committed only after the transaction that recorded the event's effects (and its inbox row)
has committed, so a crash replays at most the uncommitted tail, and the inbox turns each replay into a
no-op. Transient failures are retried with backoff; a message that still fails, or can never parse, goes
to ``<topic>.dlq`` with the reason in its headers. Too many dead letters in a row stop the consumer (the
service reports not ready) instead of draining a whole topic into the DLQ.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import contextmanager
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from pydantic import ValidationError
from sqlalchemy import Column, DateTime, MetaData, Table, Text, func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from . import telemetry
from .contracts import contract_for
from .contracts.base import EventContract
from .db import session_scope
from .events import CloudEvent, dlq_name
from .kafka import client_options, ensure_topics, new_producer, topics_for
from .logs import trace_id_var, traceparent_var
from .observability import CONSUMER_LAG, DLQ_EVENTS, EVENTS_CONSUMED
from .settings import ServiceSettings
from .tracing import child_traceparent, trace_id_of

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, EventContract, CloudEvent], Awaitable[None]]


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("event_id", Text, primary_key=True),
        Column("topic", Text, nullable=False),
        Column("handled_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class PermanentError(Exception):
    """Raise from a handler when retrying cannot help (the event contradicts this service's data)."""


class EventConsumer:
    def __init__(
        self,
        *,
        service: str,
        settings: ServiceSettings,
        sessions: async_sessionmaker[AsyncSession],
        inbox: Table,
        handlers: dict[type[EventContract], Handler],
        max_consecutive_dead_letters: int = 50,
    ) -> None:
        self.service = service
        self.settings = settings
        self.sessions = sessions
        self.inbox = inbox
        self.handlers = {c.topic(settings.topic_prefix): (c, h) for c, h in handlers.items()}
        self.group_id = f"{settings.topic_prefix}zuofeng-{service}"
        self.max_consecutive_dead_letters = max_consecutive_dead_letters
        self._consecutive_dead = 0
        self.failed: str | None = None  # set when the consumer gave up; /readyz reports it
        self.handled = 0

    def topics(self) -> dict[str, bool]:
        return topics_for((c for c, _ in self.handlers.values()), self.settings.topic_prefix)

    async def run(self) -> None:
        backoff = 0.5
        while self.failed is None:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — broker or database outage: back off, start over
                log.warning("consumer interrupted, retrying", extra={"error": repr(exc), "group": self.group_id})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _consume(self) -> None:
        await ensure_topics(self.settings, self.topics())
        consumer = AIOKafkaConsumer(
            **client_options(self.settings),
            group_id=self.group_id,
            client_id=f"{self.service}-consumer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=500,
        )
        done: dict[TopicPartition, int] = {}
        consumer.subscribe(list(self.handlers), listener=_CommitOnRevoke(consumer, done))
        producer = new_producer(self.settings, f"{self.service}-dlq")
        await consumer.start()
        await producer.start()
        interval = self.settings.consumer_commit_interval_ms / 1000
        last_commit = time.monotonic()
        try:
            while self.failed is None:
                batches = await consumer.getmany(timeout_ms=500, max_records=500)
                if batches:
                    # Every partition's records in one transaction (each partition's in its order, so per-key
                    # order holds): under load a poll spans the partitions, and a transaction per partition
                    # tripled the commits.
                    await self._process_batch([r for records in batches.values() for r in records], producer)
                for tp, records in batches.items():
                    done[tp] = records[-1].offset + 1
                    self._report_lag(consumer, tp, done[tp])
                # Offsets of handled (committed) events only, at most every ``interval`` and whenever the
                # topics go quiet: a commit per poll was one __consumer_offsets write per event at low rates.
                if done and (not batches or time.monotonic() - last_commit >= interval):
                    await _commit_assigned(consumer, done)
                    last_commit = time.monotonic()
        finally:
            # aiokafka does not commit on stop(); commit what was handled so a restart does not redo it.
            if done:
                try:
                    await _commit_assigned(consumer, done)
                except Exception:  # noqa: BLE001 — the inbox makes an uncommitted replay harmless
                    log.warning("final commit failed; handled events will be replayed and deduplicated")
            await consumer.stop()
            await producer.stop()

    def _report_lag(self, consumer: AIOKafkaConsumer, tp: TopicPartition, next_offset: int) -> None:
        highwater = consumer.highwater(tp)
        if highwater is not None:
            CONSUMER_LAG.labels(self.service, tp.topic, str(tp.partition)).set(max(0, highwater - next_offset))

    async def _process_batch(self, records: list[ConsumerRecord], producer) -> None:
        """The polled records, each partition's in order. All in one transaction when every one succeeds
        (the common case, and what keeps up with a batch feed); if any fails, the transaction is rolled back
        and each record is handled alone with retries, in the same order, so one bad event costs only itself."""
        parsed = [item for record in records if (item := await self._parse(record, producer)) is not None]
        if len(parsed) > 1:
            try:
                await self._handle_together(parsed)
                self._consecutive_dead = 0
                return
            except Exception as exc:  # noqa: BLE001 — isolate the culprit below
                log.info("batch failed, handling its events one by one", extra={"error": repr(exc)})
        for record, event, contract, handler in parsed:
            await self._handle_with_retries(record, event, contract, handler, producer)

    async def _parse(self, record: ConsumerRecord, producer):
        contract_cls, handler = self.handlers[record.topic]
        try:
            event = CloudEvent.from_bytes(record.value)
            contract = contract_for(event.type).from_cloudevent(event)
            if not isinstance(contract, contract_cls):
                raise PermanentError(f"event type {event.type} does not belong on {record.topic}")
        except (ValidationError, KeyError, ValueError, PermanentError) as exc:
            await self._dead_letter(record, producer, f"unparseable: {exc!r}"[:1000])
            return None
        return record, event, contract, handler

    @contextmanager
    def _trace(self, event: CloudEvent, topic: str):
        """A consumer span (when tracing is on) whose traceparent the handler's own events continue."""
        with telemetry.consumer_span(
            topic, traceparent=event.traceparent, event_id=event.id, event_type=event.type, group=self.group_id
        ) as span_parent:
            traceparent = span_parent or child_traceparent(event.traceparent)
            tp_token = traceparent_var.set(traceparent)
            tid_token = trace_id_var.set(trace_id_of(traceparent))
            try:
                yield
            finally:
                traceparent_var.reset(tp_token)
                trace_id_var.reset(tid_token)

    async def _handle_together(self, parsed) -> None:
        outcomes = []
        async with session_scope(self.sessions) as session:
            for record, event, contract, handler in parsed:
                with self._trace(event, record.topic):
                    outcomes.append((record.topic, await self._handle_in(session, event, contract, handler, record.topic)))
        for topic, handled in outcomes:
            self._count(topic, handled)

    async def _handle_with_retries(self, record: ConsumerRecord, event: CloudEvent, contract: EventContract,
                                   handler: Handler, producer) -> None:
        with self._trace(event, record.topic):
            for attempt in range(self.settings.consumer_max_retries + 1):
                try:
                    async with session_scope(self.sessions) as session:
                        handled = await self._handle_in(session, event, contract, handler, record.topic)
                except PermanentError as exc:
                    telemetry.mark_current(**{"zuofeng.outcome": "dead_lettered"})
                    await self._dead_letter(record, producer, f"rejected: {exc}"[:1000])
                    return
                except Exception as exc:  # noqa: BLE001 — retried, then dead-lettered with the reason
                    if attempt == self.settings.consumer_max_retries:
                        log.exception("event failed after retries", extra={"event_id": event.id})
                        telemetry.mark_current(**{"zuofeng.outcome": "dead_lettered", "zuofeng.error": repr(exc)[:200]})
                        await self._dead_letter(record, producer, f"failed: {exc!r}"[:1000])
                        return
                    await asyncio.sleep(self.settings.consumer_retry_backoff_ms / 1000 * 2**attempt)
                else:
                    self._count(record.topic, handled)
                    self._consecutive_dead = 0
                    return

    async def _handle_in(self, session: AsyncSession, event: CloudEvent, contract: EventContract,
                         handler: Handler, topic: str) -> bool:
        """Record the event in the inbox and handle it; False when it was handled before (a no-op)."""
        inserted = await session.execute(
            pg_insert(self.inbox)
            .values(event_id=event.id, topic=topic)
            .on_conflict_do_nothing()
            .returning(self.inbox.c.event_id)
        )
        if inserted.first() is None:
            return False
        await handler(session, contract, event)
        return True

    def _count(self, topic: str, handled: bool) -> None:
        if handled:
            self.handled += 1
        EVENTS_CONSUMED.labels(self.service, topic, "handled" if handled else "duplicate").inc()

    async def _dead_letter(self, record: ConsumerRecord, producer, reason: str) -> None:
        headers = [
            ("zuofeng-original-topic", record.topic.encode()),
            ("zuofeng-original-partition", str(record.partition).encode()),
            ("zuofeng-original-offset", str(record.offset).encode()),
            ("zuofeng-error", reason.encode("utf-8", "replace")),
            ("zuofeng-failed-at", datetime.now(UTC).isoformat().encode()),
            ("zuofeng-consumer-group", self.group_id.encode()),
        ]
        await producer.send_and_wait(dlq_name(record.topic), value=record.value, key=record.key, headers=headers)
        DLQ_EVENTS.labels(self.service, record.topic).inc()
        EVENTS_CONSUMED.labels(self.service, record.topic, "dead_lettered").inc()
        log.error("event dead-lettered", extra={"topic": record.topic, "offset": record.offset, "reason": reason})
        self._consecutive_dead += 1
        if self._consecutive_dead >= self.max_consecutive_dead_letters:
            self.failed = f"{self._consecutive_dead} dead letters in a row on {record.topic}; consumer stopped"
            log.critical(self.failed)


async def _commit_assigned(consumer: AIOKafkaConsumer, done: dict[TopicPartition, int]) -> None:
    """Commit (and forget) the handled offsets of partitions this consumer still owns; a partition lost in
    a rebalance meanwhile is its new owner's to replay, and the inbox absorbs the replay."""
    owned = consumer.assignment()
    offsets = {tp: offset for tp, offset in done.items() if tp in owned}
    done.clear()
    if offsets:
        await consumer.commit(offsets)


class _CommitOnRevoke(ConsumerRebalanceListener):
    """Commits what was handled on partitions about to be taken away, so their next owner starts after it."""

    def __init__(self, consumer: AIOKafkaConsumer, done: dict[TopicPartition, int]) -> None:
        self.consumer = consumer
        self.done = done

    async def on_partitions_revoked(self, revoked) -> None:
        offsets = {tp: self.done.pop(tp) for tp in list(self.done) if tp in revoked}
        if offsets:
            try:
                await self.consumer.commit(offsets)
            except Exception:  # noqa: BLE001 — the new owner replays them; the inbox makes that harmless
                log.warning("commit on revocation failed; handled events will be replayed and deduplicated")

    async def on_partitions_assigned(self, assigned) -> None:
        return None


async def replay_dead_letters(settings: ServiceSettings, topic: str, *, limit: int | None = None) -> int:
    """Publish the messages of ``<topic>.dlq`` back onto ``topic`` (after the cause is fixed).

    Uses its own consumer group, so the DLQ keeps its history and a second replay resumes where the
    first stopped. Returns how many messages were replayed."""
    dlq = dlq_name(topic)
    await ensure_topics(settings, {topic: False, dlq: False})
    consumer = AIOKafkaConsumer(
        dlq,
        **client_options(settings),
        group_id=f"{settings.topic_prefix}zuofeng-dlq-replay",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = new_producer(settings, "dlq-replay")
    await consumer.start()
    await producer.start()
    replayed = 0
    try:
        async with asyncio.timeout(30):
            while not (partitions := consumer.assignment()):
                await asyncio.sleep(0.1)
        end = await consumer.end_offsets(list(partitions))
        while limit is None or replayed < limit:
            positions = {tp: await consumer.position(tp) for tp in partitions}
            if all(positions[tp] >= end[tp] for tp in partitions):
                break
            batches = await consumer.getmany(timeout_ms=500, max_records=200)
            offsets: dict[TopicPartition, int] = {}
            for tp, records in batches.items():
                for record in records:
                    headers = [(k, v) for k, v in record.headers if k == "traceparent"]
                    await producer.send_and_wait(topic, value=record.value, key=record.key, headers=headers or None)
                    offsets[tp] = record.offset + 1
                    replayed += 1
            if offsets:
                await consumer.commit(offsets)
    finally:
        await consumer.stop()
        await producer.stop()
    return replayed

