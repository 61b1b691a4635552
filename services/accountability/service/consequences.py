"""The unit directory read model, from triage's log-compacted ``triage.units``."""

from __future__ import annotations

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.triage import UnitUpserted

from ..models import cases, units


async def upsert_unit(session: AsyncSession, event: UnitUpserted) -> None:
    values = event.model_dump(include={"name", "level", "parent_id", "region", "category", "principal_leader",
                                       "leader_in_charge", "key_section", "active"})
    await session.execute(
        pg_insert(units).values(unit_id=event.unit_id, **values)
        .on_conflict_do_update(index_elements=["unit_id"], set_={**values, "updated_at": func.now()}))
    # A clue may outrun the directory: cases opened before the unit was known get its name and region now.
    await session.execute(update(cases).where(cases.c.unit_id == event.unit_id, cases.c.unit_name.is_(None))
                          .values(unit_name=event.name, region=func.coalesce(cases.c.region, event.region)))
