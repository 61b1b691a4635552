"""公开通报: typical cases, clarifications, rankings, and the monthly bulletin; and the daily sheet notices."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.accountability import TypicalCasePublished
from services.common.contracts.evaluation import ResultsPublished
from services.common.contracts.triage import DailySheetPublished
from services.common.ids import new_id

from ..catalog import BULLETIN_KINDS, PUBLICATION_SCOPES, problem_type_label
from ..models import bulletins, daily_sheets, units
from ..rendering import Rendered, redact_identity, render
from .core import Notifier, notify_office, notify_unit, now_utc, today_local

log = logging.getLogger(__name__)


async def publish_bulletin(
    session: AsyncSession, *, source: str, kind: str, rendered: Rendered, published_at: datetime,
    period: str | None = None, unit_id: str | None = None, data: dict | None = None, status: str = "published",
) -> bool:
    result = await session.execute(
        pg_insert(bulletins)
        .values(id=new_id(), source=source, kind=kind, title=redact_identity(rendered.subject),
                body=redact_identity(rendered.body), period=period, unit_id=unit_id, data=data or {},
                published_at=published_at, status=status, composed_at=published_at)
        .on_conflict_do_nothing(index_elements=["source"])
        .returning(bulletins.c.id)
    )
    return result.first() is not None


async def publish_typical_case(
    session: AsyncSession, *, notifier: Notifier, event: TypicalCasePublished, source: str
) -> None:
    """典型案例通报 / 澄清正名, to the audience its scope allows: only a citywide one is a public bulletin; a
    unit-scope one goes to that unit alone, a sector-scope one to the units of the unit's agency."""
    if event.scope == "citywide":
        rendered = render(f"bulletin/{event.kind}", title=event.title, body=event.body)
        await publish_bulletin(session, source=source, kind=event.kind, rendered=rendered,
                               published_at=event.published_at,
                               period=today_local(event.published_at).strftime("%Y-%m"), unit_id=event.unit_id,
                               data={"scope": event.scope, "problem_type": event.problem_type})
        return
    if not event.unit_id:
        log.warning("a scoped bulletin names no unit; it is not published", extra={"case_id": str(event.case_id)})
        return
    audience = [event.unit_id] if event.scope == "unit" else await sector_units(session, event.unit_id)
    for unit_id in audience:
        await notify_unit(session, notifier=notifier, unit_id=unit_id, template="scoped_bulletin", source=source,
                          scope_label=PUBLICATION_SCOPES[event.scope], kind_label=BULLETIN_KINDS[event.kind],
                          title=event.title, body=redact_identity(event.body))


async def sector_units(session: AsyncSession, unit_id: str) -> list[str]:
    """本系统: the agency a unit belongs to (itself if it is one) with every unit under it. A unit whose
    agency is not known (a region, or a directory without levels) is its own sector."""
    root, current = unit_id, unit_id
    for _ in range(8):  # region → agency → section → …: a few levels at most, and no loop can trap us
        row = (await session.execute(
            select(units.c.unit_id, units.c.parent_id, units.c.level).where(units.c.unit_id == current))).first()
        if row is None:
            break
        if row.level == "agency":
            root = row.unit_id
            break
        if row.level == "region" or row.parent_id is None:
            break
        current = row.parent_id
    members = (await session.execute(text(
        """WITH RECURSIVE tree AS (SELECT unit_id FROM notification.units WHERE unit_id = :root
               UNION SELECT u.unit_id FROM notification.units u JOIN tree t ON u.parent_id = t.unit_id)
           SELECT tree.unit_id FROM tree JOIN notification.units n USING (unit_id) WHERE n.active
           ORDER BY tree.unit_id"""), {"root": root})).scalars().all()
    return list(members) or [unit_id]


async def publish_results(session: AsyncSession, *, notifier: Notifier, event: ResultsPublished, source: str) -> None:
    """评议结果公布 (十优十差), and a notice to each unit a consequence falls on."""
    names = {row.unit_id: row.unit_name for c in event.categories for row in c.ranking}
    categories = [
        {
            "category": c.category,
            "top": [names.get(u, u) for u in c.top_ten],
            "bottom": [names.get(u, u) for u in c.bottom_ten],
            "ranking": [r.model_dump() for r in sorted(c.ranking, key=lambda r: r.rank)],
        }
        for c in event.categories
    ]
    rendered = render("bulletin/ranking", name=event.name, period=event.period, categories=categories)
    await publish_bulletin(session, source=source, kind="ranking", rendered=rendered,
                           published_at=event.published_at, period=event.period,
                           data={"campaign_id": str(event.campaign_id), "categories": categories})
    for consequence in event.consequences:
        await notify_unit(session, notifier=notifier, unit_id=consequence.unit_id, template="consequence",
                          source=f"{source}:{consequence.kind}", unit_name=consequence.unit_name,
                          campaign_name=event.name, period=event.period, reason=consequence.reason,
                          kind=consequence.kind)


async def record_daily_sheet(
    session: AsyncSession, *, notifier: Notifier, event: DailySheetPublished, source: str
) -> None:
    """当日线索梳理表: kept for the monthly bulletin; each unit with clues transferred to it gets a notice.

    The notice counts only the clues transferred (转办) to the unit: counting all clues routed to it would
    tell the unit how many the commission keeps about it (受理, 五必查)."""
    values = {"total": event.total, "by_type": [r.model_dump() for r in event.by_type],
              "by_decision": [r.model_dump() for r in event.by_decision]}
    await session.execute(
        pg_insert(daily_sheets).values(run_date=event.run_date, **values)
        .on_conflict_do_update(index_elements=["run_date"], set_=values)
    )
    for row in event.transferred_by_unit:
        if row.count > 0 and row.key != DailySheetPublished.UNROUTED:
            await notify_unit(session, notifier=notifier, unit_id=row.key, template="daily_sheet", source=source,
                              run_date=event.run_date, count=row.count)


def previous_month(today: date) -> date:
    first = today.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


async def compose_monthly_bulletin(session: AsyncSession, *, month: date, published_at: datetime,
                                   notifier: Notifier | None = None) -> bool:
    """月度通报 for the month starting at ``month``, composed as a draft for an officer to review and publish
    (一月一通报 is the commission's word, not a machine's); nothing if it exists already or the month was empty."""
    period = month.strftime("%Y-%m")
    if await session.scalar(select(bulletins.c.id).where(bulletins.c.source == f"monthly:{period}")):
        return False
    end = (month + timedelta(days=32)).replace(day=1)
    sheets = (
        await session.execute(select(daily_sheets).where(daily_sheets.c.run_date >= month,
                                                         daily_sheets.c.run_date < end))
    ).all()
    month_bulletins = (
        await session.execute(
            select(bulletins.c.kind, bulletins.c.title)
            .where(bulletins.c.kind != "monthly", bulletins.c.period == period, bulletins.c.status == "published")
            .order_by(bulletins.c.published_at)
        )
    ).all()
    if not sheets and not month_bulletins:
        return False
    by_type: dict[str, int] = {}
    for sheet in sheets:
        for row in sheet.by_type:
            by_type[row["key"]] = by_type.get(row["key"], 0) + int(row["count"])
    rendered = render(
        "bulletin/monthly",
        month_label=f"{month.year}年{month.month}月",
        clues_total=sum(s.total for s in sheets),
        by_type=_labelled(by_type),
        typical=[b.title for b in month_bulletins if b.kind == "typical"],
        clarifications=[b.title for b in month_bulletins if b.kind == "clarification"],
        rankings=[b.title for b in month_bulletins if b.kind == "ranking"],
    )
    composed = await publish_bulletin(session, source=f"monthly:{period}", kind="monthly", rendered=rendered,
                                      published_at=published_at, period=period, status="draft",
                                      data={"by_type": [{"key": k, "count": v} for k, v in by_type.items()]})
    if composed and notifier is not None:  # the office reviews and publishes it
        await notify_office(session, notifier=notifier, template="monthly_draft", source=f"monthly-draft:{period}",
                            month_label=f"{month.year}年{month.month}月", title=rendered.subject)
    return composed


def _labelled(by_type: dict[str, int]) -> list[dict]:
    """Counts by Chinese label, largest first; codes that share a label (or are unlabelled) add up."""
    totals: dict[str, int] = {}
    for code, count in by_type.items():
        label = problem_type_label(code)
        totals[label] = totals.get(label, 0) + count
    return [{"label": k, "count": v} for k, v in sorted(totals.items(), key=lambda kv: -kv[1])]


async def list_drafts(session: AsyncSession) -> Sequence[Row[Any]]:
    return (await session.execute(
        select(bulletins).where(bulletins.c.status == "draft").order_by(bulletins.c.published_at.desc()))).all()


async def publish_draft(session: AsyncSession, *, bulletin_id, published_by: str, title: str | None = None,
                        body: str | None = None):
    """An officer publishes a reviewed draft, with the wording as reviewed; None if no such draft."""
    values: dict = {"status": "published", "published_at": now_utc(), "published_by": published_by}
    if title is not None:
        values["title"] = redact_identity(title)
    if body is not None:
        values["body"] = redact_identity(body)
    return (await session.execute(
        update(bulletins).where(bulletins.c.id == bulletin_id, bulletins.c.status == "draft")
        .values(**values).returning(bulletins))).first()
