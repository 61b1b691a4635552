"""Start-up hooks: seed the 标杆案例 and, when a file is configured and the directory is empty, import it."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI

from services.common.db import session_scope

from . import service
from .classifier import default_classifier
from .units import count_units, read_directory_file, upsert_units

log = logging.getLogger(__name__)


async def seed_reference_data(app: FastAPI) -> None:
    settings = app.state.settings
    # load the classifier now (off the event loop), not on the first clue that arrives
    await asyncio.to_thread(default_classifier, settings.classifier_dir)
    async with session_scope(app.state.sessions) as session:
        await service.seed_benchmark_cases(session)
        if settings.units_file is not None and await count_units(session) == 0:
            records = read_directory_file(settings.units_file)
            await upsert_units(session, app.state.outbox, records)
            log.info("unit directory imported", extra={"units": len(records), "file": str(settings.units_file)})
