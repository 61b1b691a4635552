"""What the API reads: the unit inbox, deliveries, bulletins (cursor-paginated, newest first)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import bulletins, deliveries, inbox_messages


async def list_inbox(session: AsyncSession, *, unit_id: str, after: uuid.UUID | None, limit: int,
                     unread_only: bool = False) -> Sequence[Row[Any]]:
    q = select(inbox_messages).where(inbox_messages.c.unit_id == unit_id)
    if after is not None:
        q = q.where(inbox_messages.c.id < after)
    if unread_only:
        q = q.where(inbox_messages.c.read_at.is_(None))
    return (await session.execute(q.order_by(inbox_messages.c.id.desc()).limit(limit))).all()


async def mark_read(session: AsyncSession, *, unit_id: str, message_id: uuid.UUID):
    """Marks one of the unit's messages read; None if the unit has no such message."""
    row = (
        await session.execute(
            update(inbox_messages)
            .where(inbox_messages.c.id == message_id, inbox_messages.c.unit_id == unit_id)
            .values(read_at=func.coalesce(inbox_messages.c.read_at, func.now()))
            .returning(inbox_messages)
        )
    ).first()
    return row


async def list_deliveries(
    session: AsyncSession, *, after: uuid.UUID | None, limit: int, status: str | None = None,
    channel: str | None = None, clue_id: uuid.UUID | None = None, unit_id: str | None = None,
) -> Sequence[Row[Any]]:
    q = select(deliveries)
    for column, value in ((deliveries.c.status, status), (deliveries.c.channel, channel),
                          (deliveries.c.clue_id, clue_id), (deliveries.c.unit_id, unit_id)):
        if value is not None:
            q = q.where(column == value)
    if after is not None:
        q = q.where(deliveries.c.id < after)
    return (await session.execute(q.order_by(deliveries.c.id.desc()).limit(limit))).all()


def _public():
    # Published only; and never a unit- or sector-scope notice, should one have been stored as a bulletin.
    return select(bulletins).where(bulletins.c.status == "published",
                                   bulletins.c.data["scope"].astext.is_distinct_from("unit"),
                                   bulletins.c.data["scope"].astext.is_distinct_from("sector"))


async def list_bulletins(session: AsyncSession, *, after: uuid.UUID | None, limit: int,
                         kind: str | None = None) -> Sequence[Row[Any]]:
    q = _public()
    if kind is not None:
        q = q.where(bulletins.c.kind == kind)
    if after is not None:
        q = q.where(bulletins.c.id < after)
    return (await session.execute(q.order_by(bulletins.c.id.desc()).limit(limit))).all()


async def get_bulletin(session: AsyncSession, *, bulletin_id: uuid.UUID, drafts: bool = False):
    q: Select[Any] = select(bulletins) if drafts else _public()
    return (await session.execute(q.where(bulletins.c.id == bulletin_id))).first()
