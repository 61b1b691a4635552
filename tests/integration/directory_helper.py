"""Units imported into the shared suite's directory by an admin through the gateway, for one test module,
and removed from triage's table afterwards: ``test_triage_daily`` checks that the start-up import fills
only an empty directory, so the shared suite's directory must be empty again when this module is done."""

from __future__ import annotations

from contextlib import asynccontextmanager

from sqlalchemy import delete

from services.common.db import session_scope
from services.triage.models import units as triage_units


@asynccontextmanager
async def imported_units(suite, ids, directory_yaml: bytes, unit_ids: tuple[str, ...]):
    imported = await suite.gateway.post("/api/v1/triage/units:import", content=directory_yaml,
                                        headers={**ids.bearer("admin"), "content-type": "application/yaml"})
    assert imported.status_code == 200, imported.text
    try:
        yield
    finally:
        async with session_scope(suite.apps["triage"].state.sessions) as session:
            await session.execute(delete(triage_units).where(triage_units.c.id.in_(unit_ids)))
