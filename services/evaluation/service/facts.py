"""Read models fed by other services' events: the unit directory and the facts behind 大数据评议."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, text, update
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


# A complaint whose case ended 不属实 or 了结 is kept under this kind: not counted, but restored if the case
# is later found to count after all (a reopened case), and not revived by a replayed triage event.
CLEARED_COMPLAINT = "complaint_cleared"


async def put_complaint(session: AsyncSession, *, key: str, unit_id: str | None, occurred_on) -> None:
    """A clue counted against its unit, unless its case already cleared it."""
    if unit_id is None:
        await put_fact(session, key=key, unit_id=None, kind="complaint", value=1, occurred_on=occurred_on)
        return
    stmt = pg_insert(indicator_facts).values(event_id=key, unit_id=unit_id, kind="complaint", value=1,
                                             occurred_on=occurred_on)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["event_id"],
        set_={"unit_id": unit_id, "value": 1, "occurred_on": occurred_on,
              "kind": case((indicator_facts.c.kind == CLEARED_COMPLAINT, CLEARED_COMPLAINT), else_="complaint")}))


async def count_complaints(session: AsyncSession, *, keys: list[str], unit_id: str | None, counted: bool,
                           occurred_on) -> None:
    """Whether the clues behind a concluded case count against the unit (unfounded complaints do not)."""
    if counted:
        await session.execute(update(indicator_facts).where(
            indicator_facts.c.event_id.in_(keys), indicator_facts.c.kind == CLEARED_COMPLAINT).values(kind="complaint"))
        return
    if unit_id is None:  # nothing to key a marker on; clear what exists
        await session.execute(update(indicator_facts).where(
            indicator_facts.c.event_id.in_(keys), indicator_facts.c.kind == "complaint").values(kind=CLEARED_COMPLAINT))
        return
    for key in keys:  # the conclusion may overtake the clue's own event: the marker waits for it
        stmt = pg_insert(indicator_facts).values(event_id=key, unit_id=unit_id, kind=CLEARED_COMPLAINT, value=1,
                                                 occurred_on=occurred_on)
        await session.execute(stmt.on_conflict_do_update(index_elements=["event_id"],
                                                         set_={"kind": CLEARED_COMPLAINT}))
