"""One replica of a service as the kernel runs it, for the replica test: its outbox relay and (but for the
source) its consumer, in a process of its own, on tables of the test's own.

    python -m tests.replica_worker source|alpha|beta SCHEMA_PREFIX

``source`` relays the test's outbox (``<prefix>_src``); ``alpha`` consumes those events (set-based
handler), records each as an effect and publishes the next stage's event in the same transaction
(``<prefix>_alpha``, relayed by alpha's replicas); ``beta`` consumes alpha's events one at a time and
records them. Effects are deliberately not idempotent by themselves: only the inbox stands between a
replay and a duplicate. Settings come from the environment, as in a pod.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import date

from sqlalchemy import Column, Integer, MetaData, Table, Text

from services.common.consumer import EventConsumer, SetHandler, inbox_table
from services.common.contracts.intake import ClueReceived
from services.common.contracts.triage import ClueTriaged
from services.common.db import create_engine, create_session_factory
from services.common.kafka import topics_for
from services.common.outbox import Outbox, OutboxRelay, outbox_table
from services.common.settings import ServiceSettings


def replica_tables(schema: str) -> tuple[MetaData, Table, Table, Table]:
    metadata = MetaData(schema=schema)
    effects = Table("effects", metadata, Column("n", Integer, primary_key=True, autoincrement=True),
                    Column("key", Text, nullable=False), Column("seq", Integer, nullable=False),
                    Column("by", Integer, nullable=False))  # the replica's process id
    return metadata, inbox_table(metadata), outbox_table(metadata), effects


async def main(role: str, prefix: str) -> None:
    settings = ServiceSettings()
    engine = create_engine(settings, pool_size=3)
    sessions = create_session_factory(engine)
    schema = f"{prefix}_{'src' if role == 'source' else role}"
    _, inbox, outbox, effects = replica_tables(schema)
    produces = {"source": [ClueReceived], "alpha": [ClueTriaged], "beta": []}[role]
    tasks = []
    if produces:
        relay = OutboxRelay(service=f"replica-{role}", table=outbox, engine=engine, settings=settings,
                            topics=topics_for(produces, settings.topic_prefix))
        tasks.append(relay.run())
    if role == "alpha":
        publisher = Outbox(outbox, settings)

        async def on_received(session, events) -> None:
            await session.execute(effects.insert(), [{"key": str(e.clue_id), "seq": int(e.text), "by": os.getpid()} for e, _ in events])
            await publisher.publish_many(session, [ClueTriaged(
                clue_id=e.clue_id, tracking_number=e.text, run_date=date(2026, 12, 1), decision="accept")
                for e, _ in events])

        handlers = {ClueReceived: SetHandler(on_received)}
    elif role == "beta":
        async def on_triaged(session, event: ClueTriaged, envelope) -> None:
            await session.execute(effects.insert().values(key=str(event.clue_id), seq=int(event.tracking_number),
                                                          by=os.getpid()))

        handlers = {ClueTriaged: on_triaged}
    else:
        handlers = {}
    if handlers:
        consumer = EventConsumer(service=f"replica-{role}", settings=settings, sessions=sessions, inbox=inbox,
                                 handlers=handlers)
        tasks.append(consumer.run())
    await asyncio.gather(*tasks)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
