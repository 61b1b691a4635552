"""A city's day, scaled down, against the in-process suite: the generator and the counting of
``bench.city_day`` on a few hundred clues, so the pipeline's counts are guarded on every run.

The suite is shared with the other tests: everything here is counted by this day's own clue ids (and the
daily-sheet notices by their run date, a date of this test's own), never by totals of the database.
"""

from __future__ import annotations

import random
import secrets
import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from bench.city_day import (
    Sent,
    acknowledged,
    arrivals,
    Sinks,
    check_attachments,
    compare,
    count_stored,
    deliveries_of,
    demo_units,
    dlq_messages,
    expect,
    generate_day,
    hotline_keys,
    hotline_signer,
    observe,
    push_hotline,
    register_posters,
    sheet_subject,
    submit_qr,
    table,
    wait_for,
)
from gateway.settings import HotlineKey
from services.common.contracts.triage import ClueTriaged
from services.notification.channels import configured_channels

from ..factories import clue_received


@pytest.fixture
async def day_sinks(suite):
    """A real SMTP sink for this test, and the running notification service pointed at it meanwhile."""
    sinks = Sinks().start()
    settings = suite.apps["notification"].state.settings
    before = settings.smtp_host, settings.smtp_port
    settings.smtp_host, settings.smtp_port = "127.0.0.1", sinks.smtp_port
    try:
        yield sinks
    finally:
        settings.smtp_host, settings.smtp_port = before
        sinks.stop()


@pytest.fixture
def signed_lines(suite):
    """Hotline keys for the three lines, known to the running gateway for this test only."""
    keys = hotline_keys()
    verifier = suite.apps["gateway"].state.authenticator.hotline
    for key_id, key in keys.items():
        verifier.keys[key_id] = HotlineKey(secret=key["secret"], line=key["line"])
    try:
        yield keys
    finally:
        for key_id in keys:
            verifier.keys.pop(key_id, None)


async def test_a_days_clues_are_all_screened_cased_and_notified_exactly_once(
        suite, ids, infra, day_sinks, signed_lines):
    from services.triage.daily_run import run_daily

    dsn = make_url(infra["DATABASE_URL"]).set(drivername="postgresql").render_as_string(hide_password=False)
    db = await asyncpg.create_pool(dsn, min_size=1, max_size=3)
    imported_directory = False
    try:
        # the directory the day is routed in (a transfer goes to the supervising unit of the one complained
        # about, so triage must know who supervises whom)
        from services.common.db import session_scope
        from services.triage.units import DEMO_UNITS_FILE, count_units, read_directory_file, upsert_units

        triage_state = suite.apps["triage"].state
        async with session_scope(triage_state.sessions) as session:
            if await count_units(session) == 0:  # left as found: later modules import their own
                imported_directory = True
                await upsert_units(session, triage_state.outbox, read_directory_file(DEMO_UNITS_FILE))
        day = generate_day(20261122, 300, 10, units=demo_units())
        sent = Sent()
        await register_posters(suite.gateway, day, ids.bearer("triage_officer"))
        await push_hotline(suite.gateway, day, hotline_signer(signed_lines), sent)
        await submit_qr(suite.gateway, day, sent)
        clue_ids = list(sent.clue_ids.values())
        _, _, stored = await wait_for(lambda: count_stored(db, "triage.clues", clue_ids),
                                      lambda n: n == len(clue_ids), timeout=20, interval=0.2)
        assert stored, "triage did not store every clue"
        _, _, acked = await wait_for(lambda: acknowledged(db, clue_ids), lambda n: n == len(clue_ids), timeout=20,
                                     interval=0.2)
        assert acked, "notification did not acknowledge every clue"

        # A run date of this test's own (the HTTP route refuses future dates; today's belongs to the
        # daily-run tests): the same function the route and the scheduler call.
        run_date = date(2990, 1, 1) + timedelta(days=random.SystemRandom().randrange(3000))
        triage = suite.apps["triage"].state
        _, ran = await run_daily(triage.sessions, triage.settings, run_date=run_date, triggered_by="city-day-test")
        assert ran
        sheet = (await suite.gateway.get(f"/api/v1/triage/daily-sheets/{run_date}",
                                         headers=ids.bearer("auditor"))).json()
        units = [dict(r) for r in await db.fetch("SELECT id, name, level, parent_id, aliases, active FROM triage.units")]
        notification = suite.apps["notification"].state.settings
        expected = expect(day, sent, channels=configured_channels(notification),
                          unit_contacts=notification.unit_contacts, units=units,
                          sheet_units={e["key"] for e in sheet["transferred_by_unit"]
                                           if e["key"] != "unrouted" and e["count"] > 0},
                          arrival=await arrivals(db, clue_ids))

        async def settled():
            cased = await db.fetchval("SELECT count(*) FROM accountability.case_clues "
                                      "WHERE clue_id = ANY($1::uuid[])", clue_ids)
            rows = await deliveries_of(db, clue_ids, sheet_subject(run_date))
            pending = sum(1 for d in rows if d["status"] not in ("sent", "failed"))
            # Intake hears of the triage and of the receipts last (it consumes what notification publishes):
            # with notification routing a poll at a time, it may still be catching up when the rest settled.
            fed = await db.fetchval("SELECT count(*) FROM intake.feedback_messages WHERE clue_id = ANY($1::uuid[])",
                                    clue_ids)
            return cased, len(rows), pending, fed

        await wait_for(settled, lambda v: v[0] >= expected["cases.clues"]
                       and v[1] >= expected["deliveries.total"] and v[2] == 0
                       and v[3] >= expected["intake.feedback (receipt page)"], timeout=40, interval=0.3)
        sampled = [q for q in day.qr if q.images][:12]  # the reports check_attachments looks at
        expected["attachments checked: EXIF/GPS/text stripped"] = sum(len(q.images) for q in sampled)
        expected["sheet.csv total = json total"] = 1
        dlq = await dlq_messages(infra["KAFKA_BOOTSTRAP_SERVERS"], infra["KAFKA_TOPIC_PREFIX"], needles=clue_ids)
        found = await observe(db, suite.gateway, day, sent, run_date=run_date, staff=ids.bearer, sinks=day_sinks,
                              dlq=dlq, whole_sheet=False)
        found["attachments checked: EXIF/GPS/text stripped"] = await check_attachments(
            suite.gateway, db, day, sent, ids.bearer("investigator"))
        rows, mismatches = compare(expected, found)
        print("\n" + table(rows))
        assert mismatches == 0, table([r for r in rows if not r[3]])
        # the day is a real mix, not a degenerate one
        assert min(expected[f"decision.{d}"] for d in ("accept", "transfer", "merge", "review")) > 0
        assert expected["intake.hotline.duplicate (re-push)"] > 0 and expected["intake.hotline.rejected"] > 0
        assert expected["delivery.reporter/received.email"] > 0 and expected["intake.attachments"] > 0
    finally:
        if imported_directory:
            await db.execute("DELETE FROM triage.units")
        await db.close()


def _triaged(clue_id: uuid.UUID, decision: str, *, merged_into: uuid.UUID | None = None,
             must: bool = False) -> ClueTriaged:
    return ClueTriaged(clue_id=clue_id, tracking_number=f"ZF-29900101-{secrets.randbelow(10**6):06d}",
                       run_date=date(2990, 1, 1), family="misconduct", type_code="lawless", decision=decision,
                       merged_into=merged_into, must_investigate=must,
                       must_investigate_triggers=["investor_withdrawal"] if must else [],
                       channel="hotline_12345", received_at=datetime.now(UTC))


async def _case_of(suite, clue_id: uuid.UUID):
    from sqlalchemy import select

    from services.accountability.models import case_clues

    async with suite.apps["accountability"].state.sessions() as session:
        return await session.scalar(select(case_clues.c.case_id).where(case_clues.c.clue_id == clue_id))


async def _handle(suite, event: ClueTriaged) -> None:
    from services.accountability.service import cases
    from services.common.db import session_scope

    state = suite.apps["accountability"].state
    async with session_scope(state.sessions) as session:
        await cases.open_case_from_clue(session, state.outbox, event)


async def test_a_repeat_handled_before_its_original_still_joins_the_originals_case(suite):
    original, repeat, urgent_repeat = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await _handle(suite, _triaged(repeat, "merge", merged_into=original))
    await _handle(suite, _triaged(urgent_repeat, "merge", merged_into=original, must=True))
    assert await _case_of(suite, repeat) is None  # waiting for its original
    await _handle(suite, _triaged(original, "accept"))
    case = await _case_of(suite, original)
    assert case is not None
    assert await _case_of(suite, repeat) == case and await _case_of(suite, urgent_repeat) == case


async def test_a_must_investigate_repeat_of_an_uncased_original_gets_its_own_case_in_either_order(suite):
    for repeat_first in (True, False):
        original, repeat = uuid.uuid4(), uuid.uuid4()
        events = [_triaged(repeat, "merge", merged_into=original, must=True), _triaged(original, "transfer")]
        for event in events if repeat_first else events[::-1]:
            await _handle(suite, event)
        assert await _case_of(suite, original) is None
        assert await _case_of(suite, repeat) is not None


async def test_the_daily_sheet_notifies_units_but_not_the_unrouted_count(suite):
    from sqlalchemy import select

    from services.common.contracts.triage import DailySheetCount, DailySheetPublished
    from services.common.db import session_scope
    from services.notification.models import deliveries
    from services.notification.service import record_daily_sheet

    state = suite.apps["notification"].state
    run_date = date(2990, 1, 1) + timedelta(days=3000 + secrets.randbelow(3000))
    event = DailySheetPublished(run_date=run_date, total=5, published_at=datetime.now(UTC),
                                by_unit=[DailySheetCount(key="dt-rsj-sb", count=3),
                                         DailySheetCount(key="unrouted", count=2)],
                                transferred_by_unit=[DailySheetCount(key="dt-rsj-sb", count=3),
                                                     DailySheetCount(key="unrouted", count=2)])
    source = f"sheet-{secrets.token_hex(4)}"
    async with session_scope(state.sessions) as session:
        await record_daily_sheet(session, notifier=state.notifier, event=event, source=source)
    async with state.sessions() as session:
        recipients = (await session.scalars(select(deliveries.c.recipient).where(deliveries.c.source == source))).all()
    assert set(recipients) == {"unit:dt-rsj-sb"}


async def test_a_named_reporter_hears_of_the_triage_even_when_it_overtook_the_receipt(suite):
    """clue-triaged and clue-received are different topics: notification may handle the triage first."""
    import orjson
    from sqlalchemy import select

    from services.common.contracts.intake import SealedContact
    from services.common.db import session_scope
    from services.notification.models import deliveries
    from services.notification.service import acknowledge_clue, route_clue

    state = suite.apps["notification"].state
    clue_id = uuid.uuid4()
    triaged = _triaged(clue_id, "accept")
    box = state.notifier.keyring.seal(orjson.dumps({"phone": None, "email": "late@mail.example.cn"}),
                                      str(clue_id).encode())
    received = clue_received(clue_id=clue_id, tracking_number=triaged.tracking_number, text="窗口人员推诿扯皮。",
                             anonymous=False, reporter_contact=SealedContact(**box.as_text()))
    async with session_scope(state.sessions) as session:
        await route_clue(session, notifier=state.notifier, event=triaged, source=f"t-{clue_id}")
    async with session_scope(state.sessions) as session:
        await acknowledge_clue(session, notifier=state.notifier, event=received, source=f"r-{clue_id}")
    async with state.sessions() as session:
        sent = (await session.execute(select(deliveries.c.template, deliveries.c.channel)
                                      .where(deliveries.c.clue_id == clue_id))).all()
    assert sorted(sent) == [("reporter/received", "email"), ("reporter/received", "receipt"),
                            ("reporter/triaged", "email"), ("reporter/triaged", "receipt")]
