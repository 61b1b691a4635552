"""Triage's domain logic (no HTTP here)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.intake import ClueReceived

from .models import clues
from .schemas import ClueRead


async def record_received_clue(session: AsyncSession, event: ClueReceived) -> None:
    """Keep triage's copy of a clue; a replayed event changes nothing."""
    await session.execute(
        pg_insert(clues)
        .values(
            id=event.clue_id,
            tracking_number=event.tracking_number,
            channel=event.channel,
            subject=event.subject,
            text=event.text,
            unit_id=event.unit_id,
            place=event.place,
            poster_code=event.poster_code,
            enterprise_related=event.enterprise_related,
            received_at=event.received_at,
        )
        .on_conflict_do_nothing(index_elements=["id"])
    )


async def list_clues(
    session: AsyncSession, *, after: uuid.UUID | None, limit: int, unit_id: str | None = None
) -> list[ClueRead]:
    """Clues in arrival order (UUIDv7 ids sort by time), cursor-paginated on the id."""
    query = select(clues).order_by(clues.c.id).limit(limit)
    if after is not None:
        query = query.where(clues.c.id > after)
    if unit_id is not None:
        query = query.where(clues.c.unit_id == unit_id)
    rows = (await session.execute(query)).all()
    return [ClueRead.model_validate(row._mapping) for row in rows]
