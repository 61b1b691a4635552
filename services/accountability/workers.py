"""Background loops of the accountability service."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI

from services.common.db import session_scope
from services.common.observability import record_sla_breach

from .service.ledger import detect_overdue

log = logging.getLogger(__name__)


async def overdue_detector(app: FastAPI) -> None:
    """Scan the 整改台账 for items past deadline; each emits ``rectification-overdue`` once per deadline."""
    interval = app.state.settings.overdue_check_seconds
    while True:
        try:
            async with session_scope(app.state.sessions) as session:
                found = await detect_overdue(session, app.state.outbox)
            if found:  # once committed: each item is found late once per deadline
                record_sla_breach("accountability", "rectification-deadline", found)
                log.info("rectifications overdue", extra={"count": found})
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 — a database outage: try again next round
            log.warning("overdue scan failed", extra={"error": repr(exc)})
        await asyncio.sleep(interval)
