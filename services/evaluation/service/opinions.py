"""Voters' written opinions (意见和建议, R-EV-9): what the unit and the office read to drive rectification."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import campaign_units, opinions
from ._shared import decode_cursor, encode_cursor, get_campaign


async def list_opinions(session: AsyncSession, *, campaign_id: uuid.UUID, unit_id: str | None,
                        cursor: str | None, limit: int) -> tuple[list[dict], str | None]:
    await get_campaign(session, campaign_id)
    query = (select(opinions.c.id, opinions.c.unit_id, campaign_units.c.name, opinions.c.channel,
                    opinions.c.text, opinions.c.created_at)
             .join(campaign_units, (campaign_units.c.campaign_id == opinions.c.campaign_id)
                   & (campaign_units.c.unit_id == opinions.c.unit_id))
             .where(opinions.c.campaign_id == campaign_id).order_by(opinions.c.id).limit(limit + 1))
    if unit_id is not None:
        query = query.where(opinions.c.unit_id == unit_id)
    if cursor:
        query = query.where(opinions.c.id > int(decode_cursor(cursor)))
    rows = (await session.execute(query)).all()
    items = [{"id": r.id, "unit_id": r.unit_id, "unit_name": r.name, "channel": r.channel, "text": r.text,
              "created_at": r.created_at} for r in rows[:limit]]
    return items, (encode_cursor(str(items[-1]["id"])) if len(rows) > limit else None)


async def opinion_counts(session: AsyncSession, campaign_id: uuid.UUID) -> dict[str, int]:
    rows = await session.execute(select(opinions.c.unit_id, func.count()).where(
        opinions.c.campaign_id == campaign_id).group_by(opinions.c.unit_id))
    return dict(rows.all())
