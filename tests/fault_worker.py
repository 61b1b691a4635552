"""A consumer process for the crash test: handles events into a test table and SIGKILLs itself mid-batch,
before its offsets are committed — what a crashed pod or an OOM kill does."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from sqlalchemy import Column, Integer, MetaData, Table, Text

from services.common.consumer import EventConsumer, inbox_table
from services.common.contracts.intake import ClueReceived
from services.common.db import create_engine, create_session_factory
from services.common.settings import ServiceSettings


def fault_tables(schema: str) -> tuple[MetaData, Table, Table]:
    metadata = MetaData(schema=schema)
    inbox = inbox_table(metadata)
    effects = Table("effects", metadata, Column("n", Integer, primary_key=True, autoincrement=True),
                    Column("clue_id", Text, nullable=False))
    return metadata, inbox, effects


def fault_consumer(settings: ServiceSettings, schema: str, kill_after: int | None) -> EventConsumer:
    _, inbox, effects = fault_tables(schema)
    sessions = create_session_factory(create_engine(settings, pool_size=2))
    handled = 0

    async def on_clue(session, event: ClueReceived, envelope) -> None:
        nonlocal handled
        # Deliberately not idempotent by itself: only the inbox stands between a replay and a duplicate.
        await session.execute(effects.insert().values(clue_id=str(event.clue_id)))
        handled += 1
        if kill_after is not None and handled > kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    return EventConsumer(service=f"fault-{schema}", settings=settings, sessions=sessions, inbox=inbox,
                         handlers={ClueReceived: on_clue})


if __name__ == "__main__":
    schema, kill_after = sys.argv[1], int(sys.argv[2])
    asyncio.run(fault_consumer(ServiceSettings(), schema, kill_after).run())
