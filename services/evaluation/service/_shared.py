"""What the parts of the evaluation service share: campaign lookup, state checks, cursors, the raw driver."""

from __future__ import annotations

import base64
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import Problem

from ..domain import STATE_LABELS
from ..models import campaigns


async def get_campaign(session: AsyncSession, campaign_id: uuid.UUID, *, lock: str | None = None) -> dict:
    query = select(campaigns).where(campaigns.c.id == campaign_id)
    if lock == "update":
        query = query.with_for_update()
    elif lock == "share":
        query = query.with_for_update(read=True)
    row = (await session.execute(query)).first()
    if row is None:
        raise Problem(404, "没有这项测评。", slug="not-found")
    return dict(row._mapping)


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except Exception as exc:  # noqa: BLE001 — any garbage is the client's
        raise Problem(400, "分页游标无效。", slug="bad-cursor") from exc


def require_state(campaign: dict, *states: str, doing: str) -> None:
    if campaign["state"] not in states:
        raise Problem(409, f"测评当前{STATE_LABELS[campaign['state']]}, {doing}须在"
                      f"{'或'.join(STATE_LABELS[s] for s in states)}时进行。",
                      slug="campaign-state", state=campaign["state"])


async def raw_connection(session: AsyncSession):
    """The asyncpg connection under the session's transaction (for COPY)."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    return raw.driver_connection
