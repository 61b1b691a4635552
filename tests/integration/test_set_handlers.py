"""Set-based handlers (services/common/consumer.py ``SetHandler``): a poll's events in one call per round,
one inbox statement for the poll, each key's events in order and never two in one call, and the
one-at-a-time fallback: a poisoned event in a set is dead-lettered alone, the rest take effect once.
Then the two converted handlers, through the real services: accountability's cases, notification's
deliveries."""

from __future__ import annotations

import asyncio
import secrets
from datetime import date

from sqlalchemy import func, select

from services.accountability.models import audit_log, case_clues, cases
from services.common.audit import verify_chain
from services.common.consumer import EventConsumer, PermanentError, SetHandler
from services.common.contracts.intake import ClueReceived
from services.common.contracts.triage import ClueTriaged
from services.common.db import create_session_factory
from services.common.events import dlq_name
from services.common.kafka import ensure_topics
from services.notification.models import deliveries

from ..fault_worker import fault_tables
from ..support import eventually
from .test_accountability_cases import publish_as
from .test_accountability_events import triaged
from .test_faults_kernel import _at_least, clue_event, fault_schema, produce, read_all


async def test_a_poll_goes_to_the_set_handler_together_and_a_poisoned_event_is_dead_lettered_alone(settings_kwargs):
    schema, prefix, settings, engine = await fault_schema(settings_kwargs)
    _, inbox, effects = fault_tables(schema)
    calls: list[list[str]] = []

    async def on_clues(session, events) -> None:
        calls.append([event.key() for event, _ in events])
        # Deliberately not idempotent by itself: only the inbox stands between a replay and a duplicate.
        await session.execute(effects.insert(), [{"clue_id": f"{event.clue_id}:{event.text}"} for event, _ in events])
        if any(event.text == "bad" for event, _ in events):
            raise PermanentError("this clue contradicts our records")

    consumer = EventConsumer(service=f"fault-{schema}", settings=settings, sessions=create_session_factory(engine),
                             inbox=inbox, handlers={ClueReceived: SetHandler(on_clues)})
    await ensure_topics(settings, consumer.topics())
    events = [clue_event(f"第{n}件") for n in range(30)]
    # The same clue again (a re-screened clue: same key, another event): must come after the first, in a
    # later call; and one event delivered twice (a relay's retry): handled once.
    again = events[3].model_copy(update={"text": "再次"})
    bad = clue_event("bad")
    sent = [*events[:10], bad, *events[10:20], again, *events[20:]]
    values = [e.to_cloudevent().to_bytes() for e in sent]
    poison = values[10]
    values.insert(15, values[14])
    await produce(settings.kafka_bootstrap_servers, ClueReceived.topic(prefix), values)
    task = asyncio.create_task(consumer.run())
    try:
        async def effects_so_far():
            async with engine.connect() as conn:
                return (await conn.execute(select(func.count(), func.count(effects.c.clue_id.distinct())))).one()

        await eventually(lambda: _at_least(effects_so_far, 31), timeout=30)
        dead = await read_all(settings.kafka_bootstrap_servers, dlq_name(ClueReceived.topic(prefix)), expect=1)
        assert [dict(r.headers)["zuofeng-error"].decode() for r in dead] == [
            "rejected: this clue contradicts our records"]
        assert dead[0].value == poison
        # A marker published after everything: once it is handled, nothing before it is still in flight.
        marker = clue_event("marker")
        await produce(settings.kafka_bootstrap_servers, ClueReceived.topic(prefix), [marker.to_cloudevent().to_bytes()])
        await eventually(lambda: _at_least(effects_so_far, 32), timeout=30)
        async with engine.connect() as conn:
            rows = [r[0] for r in (await conn.execute(select(effects.c.clue_id).order_by(effects.c.n))).all()]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()
    expected = {f"{e.clue_id}:{e.text}" for e in [*events, again, marker]}
    assert len(rows) == len(set(rows)) == 32 and set(rows) == expected  # each once, the bad one not at all
    # Per-key order: the clue's first event took effect before its second.
    assert rows.index(f"{events[3].clue_id}:{events[3].text}") < rows.index(f"{again.clue_id}:再次")
    assert any(len(call) > 1 for call in calls), "the set form was never used"
    assert all(len(call) == len(set(call)) for call in calls), "two events of one key in one call"


async def test_a_daily_runs_triaged_clues_open_cases_and_queue_deliveries_once_and_a_poisoned_one_alone(
        suite, settings_kwargs):
    prefix = settings_kwargs["topic_prefix"]
    good = [triaged(decision="accept") for _ in range(12)]
    unit_id = f"U-{secrets.token_hex(4)}"
    good += [triaged(decision="transfer", unit_id=unit_id, deadline=date(2026, 12, 20)) for _ in range(6)]
    repeat = triaged(decision="merge", merged_into=good[0].clue_id, tags=["formalism"])
    # Not storable (PostgreSQL text cannot hold NUL): every attempt fails, so the set falls back to one event
    # at a time and this one alone is dead-lettered, in both services.
    poisoned = triaged(decision="accept", tracking_number=f"ZF-\x00-{secrets.token_hex(3)}")
    sent = [*good[:7], poisoned, *good[7:], repeat]
    await publish_as(suite, "triage", *sent)
    await publish_as(suite, "triage", *good[:3])  # re-screened: a second event for the same clues changes nothing
    ids = [e.clue_id for e in good + [repeat]]
    in_cases = [e.clue_id for e in good[:12] + [repeat]]  # transfers open no case

    async def settled():
        async with suite.apps["accountability"].state.sessions() as session:
            attached = await session.scalar(select(func.count()).select_from(case_clues).where(
                case_clues.c.clue_id.in_(ids)))
        async with suite.apps["notification"].state.sessions() as session:
            receipts = await session.scalar(select(func.count()).select_from(deliveries).where(
                deliveries.c.clue_id.in_(ids), deliveries.c.channel == "receipt"))
        return attached == len(in_cases) and receipts == len(ids) + 3 or None

    await eventually(settled, timeout=60)
    topic = ClueTriaged.topic(prefix)
    marker = poisoned.tracking_number.replace("\x00", "\\u0000").encode()

    async def dead_letters():
        records = await read_all(settings_kwargs["kafka_bootstrap_servers"], dlq_name(topic), expect=10**6, timeout=3)
        groups = {dict(r.headers)["zuofeng-consumer-group"].decode() for r in records if marker in r.value}
        return groups if {f"{prefix}zuofeng-accountability", f"{prefix}zuofeng-notification"} <= groups else None

    await eventually(dead_letters, timeout=60)
    async with suite.apps["accountability"].state.sessions() as session:
        per_clue = dict((await session.execute(select(case_clues.c.clue_id, func.count()).where(
            case_clues.c.clue_id.in_(ids)).group_by(case_clues.c.clue_id))).all())
        assert set(per_clue) == set(in_cases) and set(per_clue.values()) == {1}
        opened = await session.scalar(select(func.count(func.distinct(case_clues.c.case_id))).where(
            case_clues.c.clue_id.in_(ids)))
        assert opened == 12  # the accepted ones; the repeat joined the first's case, transfers open none
        first_case = await session.scalar(select(case_clues.c.case_id).where(case_clues.c.clue_id == good[0].clue_id))
        assert await session.scalar(select(case_clues.c.case_id).where(
            case_clues.c.clue_id == repeat.clue_id)) == first_case
        assert "formalism" in await session.scalar(select(cases.c.tags).where(cases.c.id == first_case))
        assert (await verify_chain(session, audit_log)).intact
    async with suite.apps["notification"].state.sessions() as session:
        unit_notices = await session.scalar(select(func.count()).select_from(deliveries).where(
            deliveries.c.clue_id.in_(ids), deliveries.c.template == "unit/transfer_assigned",
            deliveries.c.channel == "inbox"))
        assert unit_notices == 6
