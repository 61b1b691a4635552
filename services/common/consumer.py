"""The consumer loop: poll → handle in one DB transaction with inbox dedupe → commit offsets.

Offsets are committed only after the transaction that recorded the event's effects (and its inbox row)
has committed, so a crash replays at most the uncommitted tail, and the inbox turns each replay into a
no-op. What a failure leads to is the error policy's call (services/common/failures.py): an event that
can never be handled goes to ``<topic>.dlq`` with the reason in its headers; an outage of the database or
the broker holds the stream (seek back, pause, back off, resume) and dead-letters nothing; other failures
are retried a few times, then dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from pydantic import ValidationError
from sqlalchemy import Column, DateTime, MetaData, Table, Text, func, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from . import telemetry
from .contracts import contract_for
from .contracts.base import EventContract
from .db import session_scope
from .errors import database_error_fields, describe_error, is_database_error
from .events import CloudEvent, dlq_name
from .failures import Backoff, ErrorPolicy, PermanentError, Verdict, classify
from .kafka import client_options, ensure_topics, new_producer, topics_for
from .logs import trace_id_var, traceparent_var
from .observability import CONSUMER_GROUP_LAG, CONSUMER_HELD, CONSUMER_LAG, DLQ_EVENTS, EVENTS_CONSUMED
from .settings import ServiceSettings
from .tracing import child_traceparent, trace_id_of

log = logging.getLogger(__name__)

# How often the group's committed lag is read from the broker (two requests per partition set).
GROUP_LAG_SECONDS = 15.0

# The event argument is the contract class the handler is registered under (the consumer checks it), which a
# dict of contract class → handler cannot express: each handler's own annotation names its contract.
Handler = Callable[[AsyncSession, Any, CloudEvent], Awaitable[None]]
# A set of events of one topic, in order, no two with the same key (Any for the same reason as Handler).
Events = Sequence[tuple[Any, CloudEvent]]
SetHandle = Callable[[AsyncSession, Events], Awaitable[None]]


@dataclass(frozen=True)
class SetHandler:
    """The set-based form of a handler: ``many(session, [(event, envelope), …])`` handles a poll's events of
    its topic with a constant number of statements, instead of a dozen round trips per event.

    What the consumer promises ``many``: the events are new (the inbox has already dropped those handled
    before, for the whole poll in one statement), in their partition's order, and no two share a key (a
    key's later events come in the next call, after the earlier ones took effect), so per-key order holds
    without the handler reasoning about it. The consumer's one-at-a-time fallback (a batch failed: each
    event alone, with retries, so a bad one is dead-lettered alone) calls it with a list of one.
    """

    many: SetHandle

    async def __call__(self, session: AsyncSession, event: EventContract, envelope: CloudEvent) -> None:
        await self.many(session, [(event, envelope)])


def rounds(items: Sequence, key: Callable) -> list[list]:
    """``items`` cut into consecutive rounds in which no key appears twice: an item goes into the round
    after the one holding its key's previous item, so each key's items stay in order across rounds."""
    out: list[list] = []
    next_round: dict = {}
    for item in items:
        k = key(item)
        n = next_round.get(k, 0)
        if n == len(out):
            out.append([])
        out[n].append(item)
        next_round[k] = n + 1
    return out


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("event_id", Text, primary_key=True),
        Column("topic", Text, nullable=False),
        Column("handled_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class _Hold(Exception):
    """A transient failure (or one held as such): the stream is paused and retried, nothing dead-lettered."""


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
        self.policy = ErrorPolicy(max_retries=settings.consumer_max_retries,
                                  max_consecutive_dead_letters=max_consecutive_dead_letters)
        self.backoff = Backoff(initial=settings.consumer_hold_initial_ms / 1000,
                               cap=settings.consumer_hold_max_ms / 1000)
        # Between restarts of the Kafka client (the broker away); reset by the first poll that succeeds.
        self._restart_backoff = Backoff(initial=0.5, cap=10.0)
        self.held: str | None = None  # why the stream is paused just now (an outage); None while flowing
        self.handled = 0
        target = f"{inbox.schema}.{inbox.name}" if inbox.schema else inbox.name
        # The service's own inbox table, no input.
        self._claim_sql = text(
            f"INSERT INTO {target} (event_id, topic) SELECT * FROM unnest(CAST(:ids AS text[]), "  # noqa: S608
            "CAST(:topics AS text[])) ON CONFLICT DO NOTHING RETURNING event_id")

    def topics(self) -> dict[str, bool]:
        return topics_for((c for c, _ in self.handlers.values()), self.settings.topic_prefix)

    async def run(self) -> None:
        """Runs until cancelled: a broker or database outage is waited out, never a reason to stop."""
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — broker outage: back off, start over from the committed offsets
                log.warning("consumer interrupted, retrying", extra={"error": repr(exc), "group": self.group_id})
                await asyncio.sleep(self._restart_backoff.next())

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
        try:
            await producer.start()
            try:
                await self._loop(consumer, producer, done)
            finally:
                await producer.stop()
        finally:
            # aiokafka does not commit on stop(); commit what was handled so a restart does not redo it.
            if done:
                try:
                    await _commit_assigned(consumer, done)
                except Exception:  # noqa: BLE001 — the inbox makes an uncommitted replay harmless
                    log.warning("final commit failed; handled events will be replayed and deduplicated")
            await consumer.stop()

    async def _loop(self, consumer: AIOKafkaConsumer, producer, done: dict[TopicPartition, int]) -> None:
        interval = self.settings.consumer_commit_interval_ms / 1000
        last_commit = last_lag = time.monotonic()
        while True:
            if time.monotonic() - last_lag >= GROUP_LAG_SECONDS:  # measured while held too
                last_lag = time.monotonic()
                await self._report_group_lag(consumer)
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            self._restart_backoff.reset()
            if batches:
                try:
                    # Every partition's records in one transaction (each partition's in its order, so per-key
                    # order holds): under load a poll spans the partitions, and a transaction per partition
                    # tripled the commits.
                    await self._process_batch([r for records in batches.values() for r in records], producer, done)
                except _Hold as hold:
                    await self._hold(consumer, batches, done, hold.__cause__ or hold)
                    continue
                self._flowing()
            for tp in batches:
                self._report_lag(consumer, tp, done.get(tp))
            # Offsets of handled (committed) events only, at most every ``interval`` and whenever the
            # topics go quiet: a commit per poll was one __consumer_offsets write per event at low rates.
            if done and (not batches or time.monotonic() - last_commit >= interval):
                await _commit_assigned(consumer, done)
                last_commit = time.monotonic()

    async def _hold(self, consumer: AIOKafkaConsumer, batches, done: dict[TopicPartition, int],
                    error: BaseException) -> None:
        """An outage: rewind each partition of the poll to its first event not yet handled, pause them all,
        wait (capped exponential backoff), resume. The next poll retries the same events in the same order;
        the polls made meanwhile keep the consumer in its group however long the outage lasts."""
        if self.held is None:
            log.warning("dependency unavailable, holding the stream",
                        extra={"group": self.group_id, "error": describe_error(error)[:200]})
        self.held = describe_error(error)[:200]
        CONSUMER_HELD.labels(self.service).set(1)
        owned = consumer.assignment()
        for tp, records in batches.items():
            if tp in owned:
                consumer.seek(tp, max(done.get(tp, 0), records[0].offset))
        paused = list(owned)
        consumer.pause(*paused)
        try:
            deadline = time.monotonic() + self.backoff.next()
            while (left := deadline - time.monotonic()) > 0:
                arrived = await consumer.getmany(timeout_ms=max(1, int(min(left, 0.5) * 1000)))
                # Only a partition assigned in a rebalance meanwhile (not paused) can deliver: put its
                # records back, unhandled, and pause it too.
                for tp, records in arrived.items():
                    consumer.seek(tp, records[0].offset)
                    consumer.pause(tp)
                    paused.append(tp)
        finally:
            consumer.resume(*[tp for tp in paused if tp in consumer.assignment()])

    def _flowing(self) -> None:
        if self.held is not None:
            log.info("stream flowing again", extra={"group": self.group_id})
            self.held = None
            CONSUMER_HELD.labels(self.service).set(0)
        self.backoff.reset()

    def _report_lag(self, consumer: AIOKafkaConsumer, tp: TopicPartition, next_offset: int | None) -> None:
        highwater = consumer.highwater(tp)
        if highwater is not None and next_offset is not None:
            CONSUMER_LAG.labels(self.service, tp.topic, str(tp.partition)).set(max(0, highwater - next_offset))

    async def _report_group_lag(self, consumer: AIOKafkaConsumer) -> None:
        """The broker's view of the lag: partition end minus the group's committed offset (what a restart
        would replay from), beside ``zuofeng_consumer_lag``, this process's own position."""
        owned = list(consumer.assignment())
        if not owned:
            return
        try:
            ends = await consumer.end_offsets(owned)
            for tp in owned:
                committed = await consumer.committed(tp)
                CONSUMER_GROUP_LAG.labels(self.service, tp.topic, str(tp.partition)).set(
                    max(0, ends[tp] - (committed or 0)))
        except Exception as exc:  # noqa: BLE001 — a metric must never break the loop
            log.debug("group lag not measured", extra={"error": type(exc).__name__})

    async def _process_batch(self, records: list[ConsumerRecord], producer, done: dict[TopicPartition, int]) -> None:
        """The polled records, each partition's in order. All in one transaction when every one succeeds
        (the common case, and what keeps up with a batch feed); if any fails, the transaction is rolled back
        and each record is handled alone with retries, in the same order, so one bad event costs only itself.
        An unparseable record is dead-lettered either way: it never reaches a handler.
        A transient failure raises ``_Hold``; ``done`` then says how far each partition got."""
        items = [(record, self._parse(record)) for record in records]
        parsed = [item for _, item in items if not isinstance(item, BaseException)]
        together = False
        if len(parsed) > 1:
            try:
                await self._handle_together(parsed)
            except Exception as exc:  # noqa: BLE001 — an outage holds the stream; anything else: isolate it
                if classify(exc) is Verdict.TRANSIENT:
                    raise _Hold() from exc
                log.info("batch failed, handling its events one by one", extra={"error": repr(exc)})
            else:
                self.policy.succeeded()
                together = True
        for record, item in items:
            if isinstance(item, BaseException):
                await self._dead_letter(record, producer, f"unparseable: {item!r}"[:1000])
            elif not together:
                await self._handle_with_retries(*item, producer)
            done[_tp(record)] = record.offset + 1

    def _parse(self, record: ConsumerRecord) -> tuple[ConsumerRecord, CloudEvent, EventContract, Handler] | Exception:
        contract_cls, handler = self.handlers[record.topic]
        try:
            event = CloudEvent.from_bytes(record.value)
            contract = contract_for(event.type).from_cloudevent(event)
            if not isinstance(contract, contract_cls):
                raise PermanentError(f"event type {event.type} does not belong on {record.topic}")
        except (ValidationError, KeyError, ValueError, PermanentError) as exc:
            return exc
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
        """The poll in one transaction: a set handler's topic gets one inbox statement for its events, then
        its new events a round at a time; a plain handler's events go one by one, each with its inbox row."""
        async with session_scope(self.sessions) as session:
            by_topic: dict[str, list] = {}
            for item in parsed:
                by_topic.setdefault(item[0].topic, []).append(item)
            for topic, items in by_topic.items():
                handler = items[0][3]
                if not isinstance(handler, SetHandler):  # one by one, each with its inbox row, as before
                    for record, event, contract, _ in items:
                        with self._trace(event, record.topic):
                            self._count(topic, await self._handle_in(session, event, contract, handler, topic))
                    continue
                fresh = await self._claim(session, items)
                new = [item for item in items if item[1].id in fresh and fresh.pop(item[1].id)]
                for part in rounds(new, key=lambda item: item[2].key()):
                    await handler.many(session, [(contract, event) for _, event, contract, _ in part])
                EVENTS_CONSUMED.labels(self.service, topic, "handled").inc(len(new))
                if len(items) > len(new):
                    EVENTS_CONSUMED.labels(self.service, topic, "duplicate").inc(len(items) - len(new))
                self.handled += len(new)

    async def _claim(self, session: AsyncSession, parsed) -> dict[str, bool]:
        """Record the poll's events in the inbox in one statement; the ids not handled before (an id twice
        in the poll counts once: the first occurrence is handled, the caller pops it)."""
        ids = [event.id for _, event, _, _ in parsed]
        topics = [record.topic for record, _, _, _ in parsed]
        rows = await session.execute(self._claim_sql, {"ids": ids, "topics": topics})
        return {event_id: True for (event_id,) in rows}

    async def _handle_with_retries(self, record: ConsumerRecord, event: CloudEvent, contract: EventContract,
                                   handler: Handler, producer) -> None:
        with self._trace(event, record.topic):
            attempt = 0
            while True:
                try:
                    async with session_scope(self.sessions) as session:
                        handled = await self._handle_in(session, event, contract, handler, record.topic)
                except Exception as exc:  # noqa: BLE001 — the policy decides: retry, hold or dead-letter
                    decision = self.policy.decide(exc, attempt)
                    if decision == "hold":
                        raise _Hold() from exc
                    if decision == "retry":
                        await asyncio.sleep(self.settings.consumer_retry_backoff_ms / 1000 * 2**attempt)
                        attempt += 1
                        continue
                    if isinstance(exc, PermanentError):
                        reason = f"rejected: {exc}"
                    else:
                        reason = f"failed: {describe_error(exc)}"
                        if is_database_error(exc):  # its message may quote the event's text
                            log.error("event failed after retries",
                                      extra={"event_id": event.id, **database_error_fields(exc)})
                        else:
                            log.exception("event failed after retries", extra={"event_id": event.id})
                        self.policy.dead_lettered()
                        if self.policy.holding:
                            log.critical("too many dead letters in a row; failing events now hold the stream",
                                         extra={"group": self.group_id})
                    telemetry.mark_current(**{"zuofeng.outcome": "dead_lettered",
                                              "zuofeng.error": reason[:200]})
                    await self._dead_letter(record, producer, reason[:1000])
                    return
                self._count(record.topic, handled)
                self.policy.succeeded()
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
        try:
            await producer.send_and_wait(dlq_name(record.topic), value=record.value, key=record.key, headers=headers)
        except Exception as exc:  # noqa: BLE001 — the broker is away: hold, and dead-letter it once it is back
            raise _Hold() from exc
        DLQ_EVENTS.labels(self.service, record.topic).inc()
        EVENTS_CONSUMED.labels(self.service, record.topic, "dead_lettered").inc()
        log.error("event dead-lettered", extra={"topic": record.topic, "offset": record.offset, "reason": reason})


def _tp(record: ConsumerRecord) -> TopicPartition:
    return TopicPartition(record.topic, record.partition)


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
            while not (partitions := consumer.assignment()):  # noqa: ASYNC110 — aiokafka signals no assignment event
                await asyncio.sleep(0.1)
        end = await consumer.end_offsets(list(partitions))
        while limit is None or replayed < limit:
            positions = {tp: await consumer.position(tp) for tp in partitions}
            if all(positions[tp] >= end[tp] for tp in partitions):
                break
            # Never more than the limit leaves: the poll asks for what is left, and the loop stops at it.
            want = 200 if limit is None else min(200, limit - replayed)
            batches = await consumer.getmany(timeout_ms=500, max_records=want)
            offsets: dict[TopicPartition, int] = {}
            for tp, records in batches.items():
                for record in records:
                    if limit is not None and replayed >= limit:
                        break
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

