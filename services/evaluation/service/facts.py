"""Read models fed by other services' events: the unit directory and the facts behind 大数据评议."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import indicator_facts, units


async def upsert_directory_unit(session: AsyncSession, **values: Any) -> None:
    stmt = pg_insert(units).values(**values, updated_at=func.now())
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["unit_id"], set_={k: stmt.excluded[k] for k in [*values, "updated_at"] if k != "unit_id"}))


async def put_fact(session: AsyncSession, *, key: str, unit_id: str | None, kind: str, value: float,
                   occurred_on) -> None:
    """One fact per key (a clue, a case, a rectification): a later event about the same thing replaces it,
    and ``unit_id=None`` removes it (e.g. a clue re-screened as a duplicate no longer counts)."""
    if unit_id is None:
        await session.execute(text("DELETE FROM evaluation.indicator_facts WHERE event_id = :k"), {"k": key})
        return
    stmt = pg_insert(indicator_facts).values(event_id=key, unit_id=unit_id, kind=kind, value=value,
                                             occurred_on=occurred_on)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["event_id"],
        set_={"unit_id": unit_id, "kind": kind, "value": value, "occurred_on": occurred_on}))
