"""Campaigns: creation, units, and the state machine (draft → open → closed → published)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Principal
from services.common.contracts.evaluation import CategoryResult, Consequence, RankedUnit, ResultsPublished
from services.common.errors import Problem
from services.common.ids import new_id
from services.common.outbox import Outbox

from .. import domain
from ..models import audit_log, campaign_units, campaigns, units
from ..schemas import CampaignCreate, UnitIn
from ._shared import decode_cursor, encode_cursor, get_campaign, require_state
from .ballots import compact_tallies, scan_for_stuffing
from .results import compute_results


async def create_campaign(session: AsyncSession, *, campaign_in: CampaignCreate, actor: Principal) -> dict:
    period, start, end = domain.period_of(campaign_in.year, campaign_in.quarter)
    campaign_id = new_id()
    weights: dict[str, float] = {s: 0.0 for s in domain.SOURCES} | {str(s): w for s, w in campaign_in.weights.items()}
    values = {
        "id": campaign_id, "name": campaign_in.name, "series": campaign_in.series, "year": campaign_in.year,
        "quarter": campaign_in.quarter, "period": period, "period_start": start, "period_end": end,
        "categories": campaign_in.categories,
        "weights": weights,
        "thresholds": campaign_in.thresholds.model_dump(), "veto_rules": campaign_in.veto_rules,
        "instrument": campaign_in.instrument, "rule_set": campaign_in.rule_set(),
        "min_ballots": campaign_in.min_ballots,
        "stuffing_rules": campaign_in.stuffing_rules.model_dump(),
        "indicator_rules": campaign_in.indicator_rules.model_dump(),
        "top_n": campaign_in.top_n, "exemplars_per_category": campaign_in.exemplars_per_category,
    }
    row = (await session.execute(
        pg_insert(campaigns).values(**values).on_conflict_do_nothing(index_elements=["series", "period"])
        .returning(*campaigns.c)
    )).first()
    if row is None:
        raise Problem(409, f"系列“{campaign_in.series}”已有{period}的测评。",
                      slug="campaign-exists")
    await audit.record(session, audit_log, actor=actor, action="campaign.create", entity_type="campaign",
                       entity_id=str(campaign_id), details={"period": period, "series": campaign_in.series,
                                                            "instrument": campaign_in.instrument,
                                                            "rule_preset": campaign_in.rule_preset})
    return dict(row._mapping)


async def list_campaigns(
    session: AsyncSession, *, states: list[str] | None, cursor: str | None, limit: int
) -> tuple[list[dict], str | None]:
    """Newest first, cursor-paginated on the (time-ordered) id."""
    query = select(campaigns).order_by(campaigns.c.id.desc()).limit(limit + 1)
    if states is not None:
        query = query.where(campaigns.c.state.in_(states))
    if cursor:
        try:
            after = uuid.UUID(decode_cursor(cursor))
        except ValueError as exc:
            raise Problem(400, "分页游标无效。", slug="bad-cursor") from exc
        query = query.where(campaigns.c.id < after)
    rows = [dict(r._mapping) for r in (await session.execute(query)).all()]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(str(rows[-1]["id"])) if more else None)


async def add_units(session: AsyncSession, *, campaign_id: uuid.UUID, units_in: list[UnitIn],
                    actor: Principal) -> int:
    """Units join a campaign while it is a draft; re-adding a unit updates its name, category and flag."""
    campaign = await get_campaign(session, campaign_id, lock="update")
    require_state(campaign, "draft", doing="调整参评单位")
    unknown = sorted({u.category for u in units_in} - set(campaign["categories"]))
    if unknown:
        raise Problem(422, f"这些类别不属于本次测评: {', '.join(unknown)}。", slug="unknown-category",
                      categories=unknown)
    if len({u.unit_id for u in units_in}) != len(units_in):
        raise Problem(422, "同一单位在请求中出现了两次。", slug="duplicate-unit")
    highest = await session.scalar(
        select(func.coalesce(func.max(campaign_units.c.ref), 0)).where(campaign_units.c.campaign_id == campaign_id)
    ) or 0
    next_ref = highest + 1
    rows = [{"campaign_id": campaign_id, "unit_id": u.unit_id, "ref": next_ref + i, "name": u.name,
             "category": u.category, "key_section": u.key_section} for i, u in enumerate(units_in)]
    stmt = pg_insert(campaign_units)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["campaign_id", "unit_id"],
        set_={"name": stmt.excluded.name, "category": stmt.excluded.category,
              "key_section": stmt.excluded.key_section},
    ), rows)
    await audit.record(session, audit_log, actor=actor, action="campaign.units", entity_type="campaign",
                       entity_id=str(campaign_id), details={"units": len(rows)})
    return len(rows)


async def import_directory_units(session: AsyncSession, *, campaign_id: uuid.UUID, actor: Principal) -> int:
    """Every active unit of the directory (triage's) whose category is one of the campaign's."""
    campaign = await get_campaign(session, campaign_id)
    rows = (await session.execute(
        select(units).where(units.c.active, units.c.category.in_(campaign["categories"])).order_by(units.c.unit_id)
    )).all()
    if not rows:
        return 0
    return await add_units(session, campaign_id=campaign_id, actor=actor, units_in=[
        UnitIn(unit_id=r.unit_id, name=r.name, category=r.category, key_section=r.key_section) for r in rows])


async def list_units(session: AsyncSession, *, campaign_id: uuid.UUID) -> list[dict]:
    rows = await session.execute(
        select(campaign_units.c.unit_id, campaign_units.c.name, campaign_units.c.category,
               campaign_units.c.key_section)
        .where(campaign_units.c.campaign_id == campaign_id).order_by(campaign_units.c.ref))
    return [dict(r._mapping) for r in rows]


async def transition(session: AsyncSession, outbox: Outbox, *, campaign_id: uuid.UUID, action: str,
                     actor: Principal) -> dict:
    """Move a campaign along ``domain.TRANSITIONS``. Closing waits for in-flight ballot batches (they hold the
    campaign row FOR SHARE), so no ballot lands after close; publishing freezes and emits the results."""
    campaign = await get_campaign(session, campaign_id, lock="update")
    try:
        target = domain.next_state(campaign["state"], action)
    except domain.TransitionError as exc:
        raise Problem(409, str(exc), slug="campaign-transition", state=campaign["state"]) from exc
    now = datetime.now(UTC)
    values: dict[str, Any] = {"state": target}
    details: dict[str, Any] = {"from": campaign["state"], "to": target}
    if action == "open":
        count = await session.scalar(select(func.count()).select_from(campaign_units)
                                     .where(campaign_units.c.campaign_id == campaign_id))
        if not count:
            raise Problem(409, "测评须先添加参评单位才能开始投票。", slug="campaign-has-no-units")
        values["opened_at"] = now
    elif action == "close":
        details["quarantined"] = await scan_for_stuffing(session, campaign=campaign)
        await compact_tallies(session, campaign_id)
        values["closed_at"] = now
    elif action == "publish":
        results = await compute_results(session, campaign=campaign)
        results["published_at"] = now.isoformat()
        results["state"] = "published"
        values.update(published_at=now, results=results)
        await outbox.publish(session, _results_event(campaign, results, now))
        details["consequences"] = len(results["consequences"])
    await session.execute(update(campaigns).where(campaigns.c.id == campaign_id).values(**values))
    await audit.record(session, audit_log, actor=actor, action=f"campaign.{action}", entity_type="campaign",
                       entity_id=str(campaign_id), details=details)
    return {**campaign, **values}


def _results_event(campaign: dict, results: dict, now: datetime) -> ResultsPublished:
    return ResultsPublished(
        campaign_id=campaign["id"], name=campaign["name"], period=campaign["period"], published_at=now,
        instrument=campaign["instrument"], rule_set=campaign["rule_set"],
        categories=[
            CategoryResult(
                category=c["category"],
                ranking=[RankedUnit(unit_id=u["unit_id"], unit_name=u["unit_name"], rank=u["rank"],
                                    score=u["score"], grade=u["grade"], vetoed=u["vetoed"]) for u in c["ranking"]],
                top_ten=c["top_ten"], bottom_ten=c["bottom_ten"],
                insufficient_data=[u["unit_id"] for u in c["insufficient_data"]],
            ) for c in results["categories"]
        ],
        consequences=[Consequence(**c) for c in results["consequences"]],
    )
