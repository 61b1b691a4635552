"""Intake's domain logic: accepting clues (no HTTP here)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.intake import ClueReceived
from services.common.ids import new_id
from services.common.outbox import Outbox

from .models import clues, tracking_seq
from .schemas import ClueRead, HotlineReportCreate

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOTLINE_CHANNELS = {"12388": "hotline_12388", "12345": "hotline_12345", "12380": "hotline_12380"}


def format_tracking_number(received_at: datetime, number: int) -> str:
    """``ZF-YYYYMMDD-NNNNNN``, the date as people in the city see it (Asia/Shanghai)."""
    return f"ZF-{received_at.astimezone(SHANGHAI):%Y%m%d}-{number:06d}"


async def accept_hotline_report(
    session: AsyncSession, outbox: Outbox, *, line: str, report: HotlineReportCreate
) -> tuple[ClueRead, bool]:
    """Store a hotline's clue and its ``clue-received`` event in one transaction.

    Returns (clue, created). A re-pushed ticket (same line and external id) returns the original clue."""
    channel = HOTLINE_CHANNELS[line]
    received_at = datetime.now(UTC)
    clue_id = new_id()
    number = await session.scalar(tracking_seq.next_value())
    tracking_number = format_tracking_number(received_at, number)
    row = (
        await session.execute(
            pg_insert(clues)
            .values(
                id=clue_id,
                tracking_number=tracking_number,
                channel=channel,
                external_id=report.external_id,
                subject=report.subject,
                text=report.text,
                unit_id=report.unit_id,
                place=report.place,
                enterprise_related=report.enterprise_related,
                anonymous=True,
                received_at=received_at,
            )
            .on_conflict_do_nothing(index_elements=["channel", "external_id"])
            .returning(clues.c.id, clues.c.tracking_number, clues.c.channel, clues.c.external_id,
                       clues.c.status, clues.c.received_at)
        )
    ).first()
    if row is None:
        existing = (
            await session.execute(
                select(clues.c.id, clues.c.tracking_number, clues.c.channel, clues.c.external_id,
                       clues.c.status, clues.c.received_at)
                .where(clues.c.channel == channel, clues.c.external_id == report.external_id)
            )
        ).one()
        return ClueRead.model_validate(existing._mapping), False
    await outbox.publish(
        session,
        ClueReceived(
            clue_id=clue_id,
            tracking_number=tracking_number,
            channel=channel,
            received_at=received_at,
            subject=report.subject,
            text=report.text,
            unit_id=report.unit_id,
            place=report.place,
            enterprise_related=report.enterprise_related,
            external_id=report.external_id,
        ),
    )
    return ClueRead.model_validate(row._mapping), True
