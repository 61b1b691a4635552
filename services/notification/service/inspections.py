"""Inspections (明察暗访, R-SU-1) in notification: the month's bulletin drafted for review (一月一通报), and
the result report's deadline watched (限期报送结果).

Both go to the supervising office only. A plan's deadline is the inspection team's, and a covert plan must
never reach the unit it targets, so its reminder and escalation never enter a unit's inbox
(:data:`OFFICE_KINDS`, read by the daily 督办 pass)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.inspections import (
    InspectionBulletinRequested,
    InspectionPlanned,
    InspectionResultReported,
)

from ..models import bulletins, deadlines
from ..rendering import redact_identity, render
from .bulletins import publish_bulletin
from .core import Notifier, notify_office, unit_name
from .oversight import watch_deadline

KIND = "inspection_result"
TEAM = "inspection-team"  # the watch's holder: the 明察暗访组, never the inspected unit
# Deadline kinds whose reminders and escalation go to the office alone.
OFFICE_KINDS = frozenset({KIND})
PLAN_KINDS = {"open": "明察", "covert": "暗访", "style_patrol": "作风巡查", "circuit": "巡察"}


async def planned(session: AsyncSession, *, event: InspectionPlanned) -> None:
    label = f"{event.month}“{event.theme}”{PLAN_KINDS[event.kind]}检查结果"
    await watch_deadline(session, kind=KIND, ref_id=event.plan_id, unit_id=TEAM, deadline=event.report_due,
                         label=label)


async def reported(session: AsyncSession, *, event: InspectionResultReported) -> None:
    await session.execute(update(deadlines).where(
        deadlines.c.kind == KIND, deadlines.c.ref_id == event.plan_id, deadlines.c.resolved_at.is_(None))
        .values(resolved_at=datetime.now(UTC)))


async def remind(session: AsyncSession, *, notifier: Notifier, watch, working_days_left: int) -> None:
    await notify_office(session, notifier=notifier, template="inspection_result_reminder",
                        source=f"reminder:{watch.id}:{watch.deadline.isoformat()}", label=watch.label,
                        deadline=watch.deadline, working_days_left=working_days_left)


async def escalate(session: AsyncSession, *, notifier: Notifier, watch, today: date) -> None:
    over = max(0, notifier.calendar.working_days_between(watch.deadline, today))
    await notify_office(session, notifier=notifier, template="inspection_result_overdue",
                        source=f"escalation:{watch.id}:{watch.deadline.isoformat()}", label=watch.label,
                        deadline=watch.deadline, today=today, working_days_over=over)
    await session.execute(update(deadlines).where(deadlines.c.id == watch.id)
                          .values(escalated_on=today, reminded_on=watch.reminded_on or today))


async def draft_bulletin(session: AsyncSession, *, notifier: Notifier, event: InspectionBulletinRequested) -> bool:
    """The month's inspection bulletin as a draft (待审核); a draft asked for again takes the new counts, a
    published one stays as published. Units are named from the directory, largest number of findings first."""
    year, month = (int(x) for x in event.month.split("-"))
    month_label = f"{year}年{month}月"
    units = []
    for row in sorted(event.by_unit, key=lambda r: (-r.findings, -r.visits, r.key)):
        name = "未确定单位" if row.key == "未确定单位" else await unit_name(session, row.key)
        units.append({"name": name, "visits": row.visits, "findings": row.findings})
    themes = [{"name": r.key, "visits": r.visits, "findings": r.findings} for r in event.by_theme]
    states = [{"label": s.label, "count": s.count} for s in event.by_state]
    rendered = render("bulletin/inspection_monthly", month_label=month_label, theme=event.theme, plans=event.plans,
                      visits=sum(r.visits for r in event.by_theme), findings=sum(r.findings for r in event.by_theme),
                      units=units, themes=themes, states=states)
    data = {"month": event.month, "theme": event.theme, "by_unit": [r.model_dump() for r in event.by_unit],
            "by_theme": [r.model_dump() for r in event.by_theme], "by_state": [s.model_dump() for s in event.by_state]}
    source = f"inspection-monthly:{event.month}"
    existing = (await session.execute(select(bulletins.c.id, bulletins.c.status)
                                      .where(bulletins.c.source == source).with_for_update())).first()
    if existing is not None:
        if existing.status != "draft":
            return False
        await session.execute(update(bulletins).where(bulletins.c.id == existing.id).values(
            title=redact_identity(rendered.subject), body=redact_identity(rendered.body), data=data,
            composed_at=event.requested_at))
        return True
    await publish_bulletin(session, source=source, kind="inspection_monthly", rendered=rendered,
                           published_at=event.requested_at, period=event.month, status="draft", data=data)
    await notify_office(session, notifier=notifier, template="inspection_monthly_draft",
                        source=f"inspection-monthly-draft:{event.month}", month_label=month_label,
                        title=rendered.subject)
    return True
