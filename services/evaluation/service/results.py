"""Results: sums in SQL, then scores, ranks, grades and consequences; frozen at publication."""

from __future__ import annotations

import uuid
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.errors import Problem

from .. import domain
from ..models import campaigns
from ._shared import get_campaign, raw_connection


_CITIZEN = """
SELECT unit_ref, sum(marks)::bigint AS marks, sum(total)::bigint AS total FROM (
    SELECT unit_ref, marks, total FROM evaluation.ballot_tallies WHERE campaign_id = $1
    UNION ALL
    SELECT x.u, -count(*), -sum(x.s)
    FROM evaluation.ballots b, unnest(b.unit_refs, b.scores) AS x(u, s)
    WHERE b.campaign_id = $1 AND b.status <> 'counted'
    GROUP BY x.u
) t GROUP BY unit_ref
"""


async def compute_results(session: AsyncSession, *, campaign: dict) -> dict:
    """The campaign's results now: sums in SQL (tallies less uncounted ballots), then weights, ranks, grades
    and consequences over the few hundred units in Python."""
    cid = campaign["id"]
    driver = await raw_connection(session)
    unit_rows = await driver.fetch(
        "SELECT unit_id, ref, name, category, key_section FROM evaluation.campaign_units WHERE campaign_id = $1", cid)
    inputs = {r["unit_id"]: domain.UnitInputs(unit_id=r["unit_id"], name=r["name"], category=r["category"],
                                              key_section=r["key_section"]) for r in unit_rows}
    by_ref = {r["ref"]: inputs[r["unit_id"]] for r in unit_rows}
    for r in await driver.fetch(_CITIZEN, cid):
        unit = by_ref.get(r["unit_ref"])
        if unit is not None:
            unit.citizen_marks, unit.citizen_total = int(r["marks"]), int(r["total"])
    for r in await driver.fetch(
            # numeric, not float8: the mean of 89.99 and 90.00 is 89.995 exactly (R-EV-8).
            "SELECT unit_id, source, sum(score::numeric) AS total, count(*) AS n FROM evaluation.source_scores "
            "WHERE campaign_id = $1 GROUP BY unit_id, source", cid):
        inputs[r["unit_id"]].entered[r["source"]] = Fraction(r["total"]) / int(r["n"])
    facts = await driver.fetch("""
        SELECT f.unit_id, f.kind, count(*) AS n, sum(f.value) AS total
        FROM evaluation.indicator_facts f JOIN evaluation.campaign_units u
          ON u.unit_id = f.unit_id AND u.campaign_id = $1
        WHERE (f.kind <> 'award_ineligible' AND f.occurred_on >= $2 AND f.occurred_on < $3)
           OR (f.kind = 'award_ineligible' AND extract(year FROM f.occurred_on) = $4)
        GROUP BY f.unit_id, f.kind""", cid, campaign["period_start"], campaign["period_end"], campaign["year"])
    rules = {r["code"] for r in campaign["rule_set"]["rules"]}
    for r in facts:
        unit = inputs[r["unit_id"]]
        unit.facts[r["kind"]] = float(r["n"])
        if r["kind"] == "feedback":
            unit.feedback_sum = float(r["total"])
        if r["kind"] == "award_ineligible" and "award_ineligible_no_excellent" in rules:
            unit.no_excellent.append(f"{campaign['year']}年被取消年度综合类评先评优资格")
    for r in await driver.fetch("SELECT unit_id, reason FROM evaluation.vetoes WHERE campaign_id = $1", cid):
        inputs[r["unit_id"]].vetoes.append(r["reason"])
    if "unqualified_no_excellent_year" in rules:
        for unit_id, name in (await _unqualified_this_year(session, campaign)).items():
            if unit_id in inputs:
                inputs[unit_id].no_excellent.append(f"{campaign['year']}年{name}中为不合格, 当年不得评为优秀")

    categories = domain.rank_units(
        inputs.values(), categories=campaign["categories"], weights=campaign["weights"],
        thresholds=campaign["thresholds"], indicator_rules=campaign["indicator_rules"], top_n=campaign["top_n"],
        min_ballots=campaign["min_ballots"], instrument=campaign["instrument"])
    history = await _history(session, campaign)
    consequences = domain.merge_consequences(
        domain.consequences_of(categories, rules=rules, history=history,
                               exemplars_per_category=campaign["exemplars_per_category"]),
        domain.rectification_consequences(
            {u.unit_id: (u.name, int(u.facts.get("overdue_rectification", 0))) for u in inputs.values()},
            rules=rules, history=history))
    return {
        "campaign_id": str(cid), "name": campaign["name"], "series": campaign["series"],
        "period": campaign["period"], "state": campaign["state"], "published_at": None,
        "instrument": campaign["instrument"], "instrument_label": domain.INSTRUMENTS[campaign["instrument"]],
        "rule_set": campaign["rule_set"], "min_ballots": campaign["min_ballots"],
        "rounding": domain.ROUNDING_RULE, "tie_break": domain.TIE_BREAK_RULE, "thresholds": campaign["thresholds"],
        "categories": [{
            "category": c["category"],
            "ranking": [{
                "rank": r.rank, "unit_id": r.unit_id, "unit_name": r.name, "score": float(r.score),
                "score_text": str(r.score), "grade": r.grade, "grade_label": domain.GRADES[r.grade],
                "vetoed": r.vetoed, "veto_reasons": r.veto_reasons, "no_excellent_reasons": r.no_excellent,
                "key_section": r.key_section, "key_section_rank": r.key_section_rank, "ballots": r.ballots,
                "sources": {k: float(v) for k, v in r.sources.items()},
            } for r in c["ranking"]],
            "insufficient_data": [{
                "unit_id": r.unit_id, "unit_name": r.name, "ballots": r.ballots, "grade": r.grade,
                "grade_label": domain.GRADES[r.grade], "key_section": r.key_section,
            } for r in c["insufficient_data"]],
            "top_ten": c["top_ten"], "bottom_ten": c["bottom_ten"],
        } for c in categories],
        "consequences": consequences,
    }


async def _history(session: AsyncSession, campaign: dict) -> domain.History:
    """The series' previous published campaign: who was 不合格 (连续两次不合格) and who got a yellow card
    for 整改不到位 (no improvement since → recall)."""
    results = await session.scalar(
        select(campaigns.c.results)
        .where(campaigns.c.series == campaign["series"], campaigns.c.state == "published",
               campaigns.c.period_start < campaign["period_start"])
        .order_by(campaigns.c.period_start.desc()).limit(1))
    if not results:
        return domain.History()
    return domain.History(
        previously_unqualified={u["unit_id"] for c in results["categories"] for u in c["ranking"]
                                if u["grade"] == "unqualified"},
        previous_rectification_card={c["unit_id"] for c in results["consequences"]
                                     if c["kind"] == "yellow_card"
                                     and "rectification_not_done" in c.get("grounds", [])})


async def _unqualified_this_year(session: AsyncSession, campaign: dict) -> dict[str, str]:
    """Units graded 不合格 in any other campaign of the same year already published: unit id → campaign name."""
    rows = (await session.execute(
        select(campaigns.c.name, campaigns.c.results)
        .where(campaigns.c.year == campaign["year"], campaigns.c.state == "published",
               campaigns.c.id != campaign["id"]))).all()
    return {u["unit_id"]: row.name for row in rows for c in row.results["categories"] for u in c["ranking"]
            if u["grade"] == "unqualified"}


async def rankings(session: AsyncSession, *, campaign_id: uuid.UUID, principal: Principal) -> dict:
    """Published results as frozen at publication (anyone); a live preview before that (office staff only)."""
    campaign = await get_campaign(session, campaign_id)
    if campaign["state"] == "published":
        return campaign["results"]
    if not (principal.kind == "staff" and principal.has_role("evaluation_admin", "auditor")):
        raise Problem(404, "本测评尚未公布排名。", slug="not-found")
    return await compute_results(session, campaign=campaign)
