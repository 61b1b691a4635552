"""Clues the commission keeps (R-SU-1): an inspection's findings and walk-ins handed to the inspection team.

They never wait for the daily run and never go to the unit concerned: the run's routing would transfer a
finding about a unit to that very unit (转办), telling it what a covert visit found. So on arrival such a
clue is screened at once as accepted (直接受理) by the office, and published like any screened clue; the
daily run only picks up clues still ``pending``, so it never sees these again."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.calendar import SHANGHAI
from services.common.contracts.intake import ClueReceived
from services.common.contracts.triage import ClueTriaged
from services.common.outbox import Outbox

from .models import clues

REASON = {
    "inspection": "明察暗访发现的问题，由作风办直接受理，不转被检查单位",
    "walk_in": "现场举报投诉台移交明察暗访组，以现查直报，由作风办直接受理",
    "project_check": "重点项目电话询问发现的问题，由作风办直接受理，不转被反映单位",
}


def kept_by_commission(event: ClueReceived) -> bool:
    return event.kept_by_commission or event.channel == "inspection"


async def keep(session: AsyncSession, outbox: Outbox, event: ClueReceived) -> bool:
    """Screen a kept clue as accepted once (a replayed event finds it no longer pending and does nothing)."""
    if not kept_by_commission(event):
        return False
    now = datetime.now(UTC)
    run_date = now.astimezone(SHANGHAI).date()
    reason = REASON.get(event.channel, REASON["inspection"])
    done = await session.execute(
        update(clues).where(clues.c.id == event.clue_id, clues.c.state == "pending")
        .values(state="triaged", decision="accept", reason=reason, run_date=run_date, triaged_at=now,
                route_reason="kept_by_commission")
        .returning(clues.c.id))
    if done.first() is None:
        return False
    row = (await session.execute(select(clues).where(clues.c.id == event.clue_id))).one()
    # No unit on the event: accountability opens the case for the office, and nothing reaches the unit.
    await outbox.publish(session, ClueTriaged(
        clue_id=row.id, tracking_number=row.tracking_number, run_date=run_date, family=row.family,
        type_code=row.type_code, tags=list(row.tags), confidence=row.confidence, unit_id=None, decision="accept",
        enterprise_related=row.enterprise_related, reason=reason, channel=row.channel,
        received_at=row.received_at))
    return True
