"""The organization department's view of triage (R-AC-10): its own matters only.

12380 clues and 选人用人 problems are the organization department's (``services.common.competence``); an
``org_officer`` sees those clues in the queue and a daily sheet counted over them alone. The commission,
which leads accountability, keeps seeing every clue. Kept apart from the classifier and the daily run.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.competence import (
    ORGANIZATION_CHANNELS,
    ORGANIZATION_TAGS,
    bodies_of,
)

from .models import clues


def organization_only(principal: Principal) -> bool:
    """True for a caller who handles only the organization department's matters."""
    return bodies_of(principal) == frozenset({"organization"})


def organization_matter():
    """SQL predicate of ``competent_body(...) == "organization"`` on triage's clues."""
    return clues.c.channel.in_(sorted(ORGANIZATION_CHANNELS)) | clues.c.tags.overlap(sorted(ORGANIZATION_TAGS))


async def organization_sheet(session: AsyncSession, run: dict[str, Any], run_date: date) -> dict[str, Any]:
    """The day's sheet counted over the organization department's clues only (same shape as the run's)."""
    where = [clues.c.run_date == run_date, organization_matter()]

    async def counted(column) -> list[dict[str, Any]]:
        key = func.coalesce(column, "unclassified").label("key")
        rows = (await session.execute(select(key, func.count()).where(*where).group_by(key)
                                      .order_by(func.count().desc(), key))).all()
        return [{"key": k, "count": n} for k, n in rows]

    unit = func.coalesce(clues.c.routed_unit_id, "unrouted")
    sheet = {"run_date": run_date.isoformat(), "by_channel": await counted(clues.c.channel),
             "by_type": await counted(clues.c.type_code), "by_unit": await counted(unit),
             "by_decision": await counted(clues.c.decision)}
    total = await session.scalar(select(func.count()).where(*where))
    return {**run, "total": total or 0, "sheet": sheet}
