"""公开通报: typical cases, clarifications, rankings, and the monthly bulletin; and the daily sheet notices."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.accountability import TypicalCasePublished
from services.common.contracts.evaluation import ResultsPublished
from services.common.contracts.triage import DailySheetPublished
from services.common.ids import new_id

from ..models import bulletins, daily_sheets
from ..rendering import Rendered, redact_identity, render
from .core import Notifier, notify_unit, today_local


async def publish_bulletin(
    session: AsyncSession, *, source: str, kind: str, rendered: Rendered, published_at: datetime,
    period: str | None = None, unit_id: str | None = None, data: dict | None = None,
) -> bool:
    result = await session.execute(
        pg_insert(bulletins)
        .values(id=new_id(), source=source, kind=kind, title=redact_identity(rendered.subject),
                body=redact_identity(rendered.body), period=period, unit_id=unit_id, data=data or {},
                published_at=published_at)
        .on_conflict_do_nothing(index_elements=["source"])
        .returning(bulletins.c.id)
    )
    return result.first() is not None


async def publish_typical_case(session: AsyncSession, *, event: TypicalCasePublished, source: str) -> None:
    """典型案例通报 / 澄清正名."""
    rendered = render(f"bulletin/{event.kind}", title=event.title, body=event.body)
    await publish_bulletin(session, source=source, kind=event.kind, rendered=rendered,
                           published_at=event.published_at, period=today_local(event.published_at).strftime("%Y-%m"),
                           unit_id=event.unit_id, data={"scope": event.scope, "problem_type": event.problem_type})


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
                          campaign_name=event.name, period=event.period, reason=consequence.reason)


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


async def compose_monthly_bulletin(session: AsyncSession, *, month: date, published_at: datetime) -> bool:
    """月度通报 for the month starting at ``month``; nothing if it exists already or the month was empty."""
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
            .where(bulletins.c.kind != "monthly", bulletins.c.period == period)
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
        by_type=[{"key": k, "count": v} for k, v in sorted(by_type.items(), key=lambda kv: -kv[1])],
        typical=[b.title for b in month_bulletins if b.kind == "typical"],
        clarifications=[b.title for b in month_bulletins if b.kind == "clarification"],
        rankings=[b.title for b in month_bulletins if b.kind == "ranking"],
    )
    return await publish_bulletin(session, source=f"monthly:{period}", kind="monthly", rendered=rendered,
                                  published_at=published_at, period=period)
