"""Tracking numbers stay unique across an upgrade: a day that already has numbers continues after them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import insert, text

from services.intake.models import clues
from services.intake.service import next_tracking_numbers, tracking_sequence_name


async def test_a_day_with_numbers_from_before_continues_after_them(suite):
    day = datetime(2031, 1, 1, 4, 0, tzinfo=UTC)  # a day no other test touches
    sessions = suite.apps["intake"].state.sessions
    async with sessions() as session, session.begin():
        await session.execute(text(f"DROP SEQUENCE IF EXISTS {tracking_sequence_name(day)}"))
        # What an older version (one global sequence) left for that day.
        await session.execute(insert(clues).values(
            id=uuid.uuid4(), tracking_number="ZF-20310101-000007", channel="hotline_12345",
            external_id=f"old-{uuid.uuid4().hex[:8]}", text="升级前受理的线索", received_at=day))
    async with sessions() as session, session.begin():
        numbers = await next_tracking_numbers(session, day, 2)
    assert numbers == ["ZF-20310101-000008", "ZF-20310101-000009"]
