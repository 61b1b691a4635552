"""Benchmark: how fast one consumer settles triaged clues, in accountability (cases opened) and in
notification (deliveries queued), the two streams a city's daily run floods.

    .venv/bin/python -m bench.set_handlers [--events 5000] [--service accountability notification]

A fresh database with both services' migrations, a fresh topic prefix on the local Kafka. ``--events``
``ClueTriaged`` events with the city day's mix (57 % accepted, 35 % transferred, 5.5 % merged into an earlier
clue, 2.5 % set aside; 7 % 五必查; a sixth of the reporters named, with sealed contacts) are
written to the topic first; then one consumer of the service (the kernel's ``EventConsumer`` with the
service's own handlers, as ``build_service_app`` wires it) is started, and the rate is measured from its
first committed batch to its last event: ClueTriaged events per second and, for notification, delivery rows
queued per second. Every effect is then counted (cases, case clues, deliveries) against the mix.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import time
import uuid
from datetime import UTC, date, datetime

import asyncpg
from sqlalchemy.engine import make_url

from services.common.contracts.triage import ClueTriaged
from services.common.crypto import KeyRing
from services.common.ids import new_id

from .common import KAFKA, RESULTS, SERVER_URL, admin_dsn, plain_dsn, write
from .machine import describe as describe_machine

UNITS = [(f"bench-unit-{n:02d}", f"测试单位{n:02d}") for n in range(40)]


def day(n: int, seed: int = 20261201) -> tuple[list[ClueTriaged], list[dict]]:
    """The events, and the reporters (notification's ``reporters`` rows) intake would have announced."""
    rng = random.Random(seed)  # noqa: S311 — a reproducible day, not a secret
    events: list[ClueTriaged] = []
    reporters: list[dict] = []
    accepted: list[uuid.UUID] = []
    for i in range(n):
        clue_id = new_id()
        roll = rng.random()
        decision = ("accept" if roll < 0.57 else "transfer" if roll < 0.92 else "merge" if roll < 0.975
                    else "set_aside")
        if decision == "merge" and not accepted:
            decision = "accept"
        unit_id, name = rng.choice(UNITS)
        must = decision in ("accept", "transfer") and rng.random() < 0.07
        events.append(ClueTriaged(
            clue_id=clue_id, tracking_number=f"ZF-20261201-{i:06d}", run_date=date(2026, 12, 1),
            family="slow_action", type_code="slow_passing_the_buck", unit_id=unit_id, decision=decision,
            tags=["formalism"] if rng.random() < 0.1 else [], must_investigate=must,
            must_investigate_triggers=["investor_withdrawal"] if must else [],
            deadline=date(2026, 12, 15) if decision == "transfer" else None,
            merged_into=rng.choice(accepted) if decision == "merge" else None,
            channel=rng.choice(("hotline_12345", "hotline_12388", "hotline_12380"))))
        if decision == "accept":
            accepted.append(clue_id)
        reporters.append({"clue_id": clue_id, "tracking_number": f"ZF-20261201-{i:06d}",
                          "named": rng.random() < 1 / 6, "email": rng.random() < 0.3})
    return events, reporters


async def _fresh_database(name: str) -> str:
    from services.common.migrate import upgrade

    conn = await asyncpg.connect(admin_dsn())
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)
    for service in ("accountability", "notification"):
        await asyncio.to_thread(upgrade, service, url)
    return url


async def _seed(url: str, reporters: list[dict], keyring: KeyRing) -> None:
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        await conn.executemany(
            "INSERT INTO accountability.units (unit_id, name, level, region) VALUES ($1, $2, 'agency', '平城区')",
            UNITS)
        await conn.executemany(
            "INSERT INTO notification.units (unit_id, name, level, contacts) VALUES ($1, $2, 'agency', $3)",
            [(u, name, json.dumps({"email": f"{u}@gov.example.cn"} if n % 3 == 0 else {}))
             for n, (u, name) in enumerate(UNITS)])
        rows = []
        for r in reporters:
            sealed = None
            if r["named"]:
                contact = {"phone": "13800138000", **({"email": "r@mail.example.cn"} if r["email"] else {})}
                sealed = keyring.seal(json.dumps(contact).encode(), str(r["clue_id"]).encode()).as_text()
            rows.append((r["clue_id"], r["tracking_number"], sealed is None, sealed and sealed["kid"],
                         sealed and sealed["nonce"], sealed and sealed["ciphertext"], datetime.now(UTC)))
        await conn.executemany(
            "INSERT INTO notification.reporters (clue_id, tracking_number, anonymous, contact_kid, contact_nonce,"
            " contact_ciphertext, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7)", rows)
    finally:
        await conn.close()


async def _produce(prefix: str, events: list[ClueTriaged]) -> None:
    from services.common.kafka import ensure_topics
    from services.common.settings import ServiceSettings

    from aiokafka import AIOKafkaProducer

    settings = ServiceSettings(kafka_bootstrap_servers=KAFKA, topic_prefix=prefix)
    topic = ClueTriaged.topic(prefix)
    await ensure_topics(settings, {topic: False})
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, linger_ms=20, max_batch_size=1 << 20)
    await producer.start()
    try:
        futures = [await producer.send(topic, e.envelope_bytes(), key=e.key().encode()) for e in events]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def _consumer(service: str, url: str, prefix: str, keyring_spec: str):
    from services.common.consumer import EventConsumer
    from services.common.db import create_engine, create_session_factory
    from services.common.outbox import Outbox

    if service == "accountability":
        from services.accountability.handlers import build_handlers
        from services.accountability.models import inbox, outbox
        from services.accountability.settings import AccountabilitySettings as Settings

        settings = Settings(database_url=url, kafka_bootstrap_servers=KAFKA, topic_prefix=prefix)
        handlers = build_handlers(Outbox(outbox, settings))
    else:
        from services.notification.handlers import build_handlers
        from services.notification.models import inbox, outbox
        from services.notification.service import Notifier
        from services.notification.settings import NotificationSettings as Settings

        settings = Settings(database_url=url, kafka_bootstrap_servers=KAFKA, topic_prefix=prefix,
                            contact_keyring=keyring_spec, sms_webhook_url="http://127.0.0.1:9/sms")
        handlers = build_handlers(Notifier.from_settings(settings, Outbox(outbox, settings)))
    engine = create_engine(settings)
    # Only the ClueTriaged handler: the bench measures that stream alone.
    handlers = {ClueTriaged: handlers[ClueTriaged]}
    consumer = EventConsumer(service=service, settings=settings, sessions=create_session_factory(engine),
                             inbox=inbox, handlers=handlers)
    return consumer, engine


async def measure(service: str, n: int) -> dict:
    from services.common.kafka import delete_topics

    events, reporters = day(n)
    database = f"bench_sets_{service}_{os.getpid()}"
    prefix = f"benchsets{secrets.token_hex(3)}."
    keyring_spec = KeyRing.generate_spec("bs")
    url = await _fresh_database(database)
    try:
        await _seed(url, reporters, KeyRing.parse(keyring_spec))
        await _produce(prefix, events)
        consumer, engine = _consumer(service, url, prefix, keyring_spec)
        task = asyncio.create_task(consumer.run())
        first = first_count = None
        try:
            deadline = time.monotonic() + 900
            while consumer.handled < n:
                if task.done():
                    task.result()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {consumer.handled} of {n} handled")
                if first is None and consumer.handled:
                    first, first_count = time.monotonic(), consumer.handled
                await asyncio.sleep(0.02)
            last = time.monotonic()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await engine.dispose()
        counts = await _count(url, service)
    finally:
        conn = await asyncpg.connect(admin_dsn())
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.close()
        await delete_topics(KAFKA, prefix)
    measured = n - first_count
    seconds = max(last - first, 1e-6)
    expected = _expected(service, events, reporters)
    result = {"events": n, "seconds": round(seconds, 3), "events_per_s": round(measured / seconds, 1),
              "counts": counts, "expected": expected}
    if service == "notification":
        result["deliveries_per_s"] = round(counts["deliveries"] * measured / n / seconds, 1)
    return result


def _expected(service: str, events: list[ClueTriaged], reporters: list[dict]) -> dict:
    if service == "accountability":
        opened = sum(1 for e in events if e.decision == "accept" or (e.must_investigate and e.decision != "merge"))
        merged = sum(1 for e in events if e.decision == "merge")
        return {"cases": opened, "case_clues": opened + merged}
    named = {r["clue_id"]: r for r in reporters if r["named"]}
    unit_email = {u for n, (u, _) in enumerate(UNITS) if n % 3 == 0}
    total = 0
    for e in events:
        total += 1  # the receipt page
        if e.clue_id in named:
            total += 1 + named[e.clue_id]["email"]  # SMS, and e-mail where given
        if e.decision == "transfer":
            total += 1 + (e.unit_id in unit_email)  # the unit's inbox, and its e-mail where it has one
    return {"deliveries": total, "deadlines": sum(1 for e in events if e.decision == "transfer")}


async def _count(url: str, service: str) -> dict:
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        if service == "accountability":
            return {"cases": await conn.fetchval("SELECT count(*) FROM accountability.cases"),
                    "case_clues": await conn.fetchval("SELECT count(*) FROM accountability.case_clues")}
        return {"deliveries": await conn.fetchval("SELECT count(*) FROM notification.deliveries"),
                "deadlines": await conn.fetchval("SELECT count(*) FROM notification.deadlines")}
    finally:
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--service", nargs="+", default=["accountability", "notification"])
    parser.add_argument("--label", default="after", help="which column of the results this run fills")
    args = parser.parse_args()
    results = _previous()
    for service in args.service:
        figures = await measure(service, args.events)
        print(service, figures, flush=True)
        results.setdefault(service, {})[args.label] = {**figures, "at": datetime.now(UTC).isoformat(timespec="seconds"),
                                                       "machine": describe_machine()}
    write("set_handlers", results, _markdown(results))


def _previous() -> dict:
    """The earlier runs (before / after), which this run's label adds to or replaces."""
    path = RESULTS / "set_handlers.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _markdown(results: dict) -> str:
    lines = ["# Set-based handlers: one consumer settling triaged clues", "",
             "`.venv/bin/python -m bench.set_handlers --events N --label before|after` (bench/set_handlers.py). "
             "One consumer, its first committed batch to its last event; the rest of the machine was shared "
             "with other work, so rates are noisy; counts are exact. Raw data: `set_handlers.json`.", "",
             "| service | run | events | events/s | deliveries/s | counts ok |", "|---|---|---:|---:|---:|---|"]
    for service, runs in results.items():
        for label, r in runs.items():
            ok = "ok" if r["counts"] == r["expected"] else f"{r['counts']} ≠ {r['expected']}"
            lines.append(f"| {service} | {label} | {r['events']} | {r['events_per_s']} | "
                         f"{r.get('deliveries_per_s', '')} | {ok} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    asyncio.run(main())
