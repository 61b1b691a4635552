"""Evaluation's domain logic over the database (no HTTP): campaigns, ballots, scores, rankings, publication."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Principal
from services.common.contracts.evaluation import (
    CategoryResult,
    Consequence,
    RankedUnit,
    ResultsPublished,
)
from services.common.errors import Problem
from services.common.ids import new_id
from services.common.outbox import Outbox

from . import domain
from .models import (
    audit_log,
    ballots,
    campaign_units,
    campaigns,
    indicator_facts,
    source_scores,
    units,
    vetoes,
)
from .schemas import BallotIn, CampaignCreate, ScoresIn, UnitIn

MAX_CLOCK_SKEW = timedelta(minutes=5)

BALLOTS = Counter("zuofeng_evaluation_ballots_total", "Ballots received, by outcome",
                  ["channel", "outcome"])
QUARANTINED = Counter("zuofeng_evaluation_ballots_quarantined_total", "Ballots quarantined as suspected stuffing")


# ---------------------------------------------------------------------------------------------------------
# Campaigns


async def create_campaign(session: AsyncSession, *, campaign_in: CampaignCreate, actor: Principal) -> dict:
    period, start, end = domain.period_of(campaign_in.year, campaign_in.quarter)
    campaign_id = new_id()
    values = {
        "id": campaign_id, "name": campaign_in.name, "series": campaign_in.series, "year": campaign_in.year,
        "quarter": campaign_in.quarter, "period": period, "period_start": start, "period_end": end,
        "categories": campaign_in.categories,
        "weights": {**{s: 0.0 for s in domain.SOURCES}, **campaign_in.weights},
        "thresholds": campaign_in.thresholds.model_dump(), "veto_rules": campaign_in.veto_rules,
        "stuffing_rules": campaign_in.stuffing_rules.model_dump(),
        "indicator_rules": campaign_in.indicator_rules.model_dump(),
        "top_n": campaign_in.top_n, "exemplars_per_category": campaign_in.exemplars_per_category,
    }
    row = (await session.execute(
        pg_insert(campaigns).values(**values).on_conflict_do_nothing(index_elements=["series", "period"])
        .returning(*campaigns.c)
    )).first()
    if row is None:
        raise Problem(409, f"The series {campaign_in.series!r} already has a campaign for {period}.",
                      slug="campaign-exists")
    await audit.record(session, audit_log, actor=actor, action="campaign.create", entity_type="campaign",
                       entity_id=str(campaign_id), details={"period": period, "series": campaign_in.series})
    return dict(row._mapping)


async def get_campaign(session: AsyncSession, campaign_id: uuid.UUID, *, lock: str | None = None) -> dict:
    query = select(campaigns).where(campaigns.c.id == campaign_id)
    if lock == "update":
        query = query.with_for_update()
    elif lock == "share":
        query = query.with_for_update(read=True)
    row = (await session.execute(query)).first()
    if row is None:
        raise Problem(404, "No such campaign.", slug="not-found")
    return dict(row._mapping)


def _encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except Exception as exc:  # noqa: BLE001 — any garbage is the client's
        raise Problem(400, "The cursor is not valid.", slug="bad-cursor") from exc


async def list_campaigns(
    session: AsyncSession, *, states: list[str] | None, cursor: str | None, limit: int
) -> tuple[list[dict], str | None]:
    """Newest first, cursor-paginated on the (time-ordered) id."""
    query = select(campaigns).order_by(campaigns.c.id.desc()).limit(limit + 1)
    if states is not None:
        query = query.where(campaigns.c.state.in_(states))
    if cursor:
        try:
            after = uuid.UUID(_decode_cursor(cursor))
        except ValueError as exc:
            raise Problem(400, "The cursor is not valid.", slug="bad-cursor") from exc
        query = query.where(campaigns.c.id < after)
    rows = [dict(r._mapping) for r in (await session.execute(query)).all()]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (_encode_cursor(str(rows[-1]["id"])) if more else None)


def _require_state(campaign: dict, *states: str, doing: str) -> None:
    if campaign["state"] not in states:
        raise Problem(409, f"The campaign is {campaign['state']}; {doing} needs it {' or '.join(states)}.",
                      slug="campaign-state", state=campaign["state"])


async def add_units(session: AsyncSession, *, campaign_id: uuid.UUID, units_in: list[UnitIn],
                    actor: Principal) -> int:
    """Units join a campaign while it is a draft; re-adding a unit updates its name, category and flag."""
    campaign = await get_campaign(session, campaign_id, lock="update")
    _require_state(campaign, "draft", doing="changing units")
    unknown = sorted({u.category for u in units_in} - set(campaign["categories"]))
    if unknown:
        raise Problem(422, f"Categories not in this campaign: {', '.join(unknown)}.", slug="unknown-category",
                      categories=unknown)
    if len({u.unit_id for u in units_in}) != len(units_in):
        raise Problem(422, "A unit appears twice in the request.", slug="duplicate-unit")
    next_ref = (await session.scalar(
        select(func.coalesce(func.max(campaign_units.c.ref), 0)).where(campaign_units.c.campaign_id == campaign_id)
    )) + 1
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
            raise Problem(409, "A campaign needs units before it opens.", slug="campaign-has-no-units")
        values["opened_at"] = now
    elif action == "close":
        details["quarantined"] = await scan_for_stuffing(session, campaign=campaign)
        await _compact_tallies(session, campaign_id)
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
        categories=[
            CategoryResult(
                category=c["category"],
                ranking=[RankedUnit(unit_id=u["unit_id"], unit_name=u["unit_name"], rank=u["rank"],
                                    score=u["score"], grade=u["grade"], vetoed=u["vetoed"]) for u in c["ranking"]],
                top_ten=c["top_ten"], bottom_ten=c["bottom_ten"],
            ) for c in results["categories"]
        ],
        consequences=[Consequence(**c) for c in results["consequences"]],
    )


# ---------------------------------------------------------------------------------------------------------
# Ballots

_STAGE_COLUMNS = ("idx", "voter_hash", "channel", "source", "pattern", "unit_refs", "scores", "submitted_at")
_CREATE_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS evaluation_ballot_stage (
    idx int, voter_hash bytea, channel text, source text, pattern bigint, unit_refs text, scores text,
    submitted_at timestamptz
) ON COMMIT DELETE ROWS
"""
# The arrays travel as text ('{3,17,42}'): asyncpg's binary array encoder checks every element against the
# collections ABCs, which made COPY three times dearer on both sides.
# One statement moves the staged ballots in (a voter's second ballot is skipped by the unique key) and adds
# this request's per-unit partial sums, so the tallies can never disagree with the ballots.
_INSERT_STAGED = """
WITH ins AS (
    INSERT INTO evaluation.ballots (campaign_id, voter_hash, channel, source, pattern, unit_refs, scores,
                                    submitted_at)
    SELECT $1, voter_hash, channel, source, pattern, unit_refs::int[], scores::smallint[], submitted_at
    FROM evaluation_ballot_stage
    ON CONFLICT (campaign_id, voter_hash) DO NOTHING
    RETURNING voter_hash, unit_refs, scores
), tally AS (
    INSERT INTO evaluation.ballot_tallies (campaign_id, unit_ref, marks, total)
    SELECT $1, x.u, count(*), sum(x.s) FROM ins, unnest(ins.unit_refs, ins.scores) AS x(u, s) GROUP BY x.u
)
SELECT voter_hash FROM ins
"""


async def _driver(session: AsyncSession):
    """The asyncpg connection under the session's transaction (for COPY)."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    return raw.driver_connection


async def ingest_ballots(
    session: AsyncSession, *, campaign_id: uuid.UUID, ballots_in: list[BallotIn], key: bytes,
    default_source: str | None = None,
) -> dict:
    """Store ballots (one per voter per campaign, R-EV-3) while the campaign is open.

    Returns accepted, duplicate indexes and rejections with reasons. The campaign row is held FOR SHARE, so a
    close waits for this batch and nothing is accepted after close."""
    campaign = await get_campaign(session, campaign_id, lock="share")
    _require_state(campaign, "open", doing="voting")
    refs = dict((await session.execute(
        select(campaign_units.c.unit_id, campaign_units.c.ref).where(campaign_units.c.campaign_id == campaign_id)
    )).all())
    hasher = domain.VoterHasher(key, str(campaign_id))
    now = datetime.now(UTC)
    latest = now + MAX_CLOCK_SKEW
    records: list[tuple] = []
    by_hash: dict[bytes, int] = {}
    duplicates: list[int] = []
    rejected: list[dict] = []
    for i, b in enumerate(ballots_in):
        try:
            unit_refs = [refs[u] for u in b.ratings]
        except KeyError:
            unknown = [u for u in b.ratings if u not in refs]
            rejected.append({"index": i, "reason": f"units not in this campaign: {', '.join(unknown[:5])}"})
            continue
        at = b.submitted_at or now
        if at.tzinfo is None:
            rejected.append({"index": i, "reason": "submitted_at needs a time zone"})
            continue
        if at > latest:
            rejected.append({"index": i, "reason": "submitted_at is in the future"})
            continue
        h = hasher(b.voter)
        if h in by_hash:
            duplicates.append(i)
            continue
        by_hash[h] = i
        scores = list(b.ratings.values())
        records.append((i, h, b.channel, b.source or default_source, domain.ballot_pattern(unit_refs, scores),
                        "{" + ",".join(map(str, unit_refs)) + "}", "{" + ",".join(map(str, scores)) + "}", at))
    if records:
        driver = await _driver(session)
        await driver.execute(_CREATE_STAGE)
        await driver.copy_records_to_table("evaluation_ballot_stage", records=records, columns=_STAGE_COLUMNS)
        inserted = {r[0] for r in await driver.fetch(_INSERT_STAGED, campaign_id)}
        duplicates.extend(by_hash[h] for h in by_hash if h not in inserted)
        accepted = len(inserted)
    else:
        accepted = 0
    channel = ballots_in[0].channel if len({b.channel for b in ballots_in}) == 1 else "mixed"
    BALLOTS.labels(channel, "accepted").inc(accepted)
    BALLOTS.labels(channel, "duplicate").inc(len(duplicates))
    BALLOTS.labels(channel, "rejected").inc(len(rejected))
    return {"accepted": accepted, "duplicates": sorted(duplicates), "rejected": rejected}


_SCAN = """
WITH w AS (
    SELECT id, status, reviewed_at, source, cardinality(unit_refs) AS n,
        CASE WHEN source IS NULL THEN 0 ELSE count(*) OVER (
            PARTITION BY source ORDER BY submitted_at
            RANGE BETWEEN $2 * interval '1 second' PRECEDING AND $2 * interval '1 second' FOLLOWING) END AS burst,
        count(*) OVER (
            PARTITION BY pattern ORDER BY submitted_at
            RANGE BETWEEN $4 * interval '1 second' PRECEDING AND $4 * interval '1 second' FOLLOWING) AS same
    FROM evaluation.ballots WHERE campaign_id = $1 AND status <> 'rejected'
), flagged AS (
    SELECT id, array_remove(ARRAY[
        CASE WHEN burst > $3 THEN
            format('burst: %s ballots from source %s within ±%s s', burst, source, $2) END,
        CASE WHEN n >= $6 AND same > $5 THEN
            format('identical pattern: %s ballots rating the same %s units alike within ±%s s', same, n, $4) END
    ], NULL) AS reasons
    FROM w
    WHERE status = 'counted' AND reviewed_at IS NULL AND (burst > $3 OR (n >= $6 AND same > $5))
)
UPDATE evaluation.ballots b SET status = 'quarantined', reasons = flagged.reasons
FROM flagged WHERE b.id = flagged.id
"""


async def scan_for_stuffing(session: AsyncSession, *, campaign: dict) -> int:
    """刷票 detection: quarantine unreviewed ballots in a burst from one source or in a wave of identical
    multi-unit ballots; each carries its reasons for review. Reviewed ballots are never re-flagged."""
    r = campaign["stuffing_rules"]
    driver = await _driver(session)
    status = await driver.execute(
        _SCAN, campaign["id"], float(r["burst_window_seconds"]), int(r["burst_max"]),
        float(r["pattern_window_seconds"]), int(r["pattern_max"]), int(r["pattern_min_units"]))
    flagged = int(status.split()[-1])
    QUARANTINED.inc(flagged)
    return flagged


async def _compact_tallies(session: AsyncSession, campaign_id: uuid.UUID) -> None:
    """After close the ballots are final: fold the per-request partial sums into one row per unit."""
    driver = await _driver(session)
    await driver.execute("""
        WITH gone AS (DELETE FROM evaluation.ballot_tallies WHERE campaign_id = $1 RETURNING unit_ref, marks, total)
        INSERT INTO evaluation.ballot_tallies (campaign_id, unit_ref, marks, total)
        SELECT $1, unit_ref, sum(marks), sum(total) FROM gone GROUP BY unit_ref""", campaign_id)


async def list_quarantine(session: AsyncSession, *, campaign_id: uuid.UUID, status: str, cursor: str | None,
                          limit: int) -> tuple[list[dict], str | None]:
    await get_campaign(session, campaign_id)
    names = dict((await session.execute(
        select(campaign_units.c.ref, campaign_units.c.unit_id).where(campaign_units.c.campaign_id == campaign_id)
    )).all())
    query = (select(ballots.c.id, ballots.c.channel, ballots.c.source, ballots.c.submitted_at, ballots.c.status,
                    ballots.c.reasons, ballots.c.unit_refs, ballots.c.scores)
             .where(ballots.c.campaign_id == campaign_id, ballots.c.status == status)
             .order_by(ballots.c.id).limit(limit + 1))
    if cursor:
        try:
            query = query.where(ballots.c.id > int(_decode_cursor(cursor)))
        except ValueError as exc:
            raise Problem(400, "The cursor is not valid.", slug="bad-cursor") from exc
    rows = (await session.execute(query)).all()
    items = [{"id": r.id, "channel": r.channel, "source": r.source, "submitted_at": r.submitted_at,
              "status": r.status, "reasons": r.reasons,
              "ratings": {names[u]: s for u, s in zip(r.unit_refs, r.scores)}} for r in rows[:limit]]
    return items, (_encode_cursor(str(items[-1]["id"])) if len(rows) > limit else None)


async def review_ballot(session: AsyncSession, *, campaign_id: uuid.UUID, ballot_id: int, decision: str,
                        note: str | None, actor: Principal) -> dict:
    """The evaluation office decides a quarantined ballot: counted after all, or rejected. Until publication."""
    campaign = await get_campaign(session, campaign_id, lock="update")
    _require_state(campaign, "open", "closed", doing="reviewing ballots")
    status = "counted" if decision == "count" else "rejected"
    row = (await session.execute(
        update(ballots)
        .where(ballots.c.id == ballot_id, ballots.c.campaign_id == campaign_id, ballots.c.status == "quarantined")
        .values(status=status, reviewed_by=actor.subject, reviewed_at=func.now())
        .returning(ballots.c.id, ballots.c.status)
    )).first()
    if row is None:
        raise Problem(404, "No quarantined ballot with that id in this campaign.", slug="not-found")
    await audit.record(session, audit_log, actor=actor, action=f"ballot.{decision}", entity_type="ballot",
                       entity_id=str(ballot_id), details={"campaign": str(campaign_id), "note": note or ""})
    return {"id": row.id, "status": row.status}


# ---------------------------------------------------------------------------------------------------------
# Scores entered by the office, and vetoes


async def record_scores(session: AsyncSession, *, campaign_id: uuid.UUID, scores_in: ScoresIn,
                        actor: Principal) -> int:
    campaign = await get_campaign(session, campaign_id, lock="share")
    _require_state(campaign, "open", "closed", doing="recording scores")
    known = set((await session.execute(
        select(campaign_units.c.unit_id).where(campaign_units.c.campaign_id == campaign_id))).scalars())
    unknown = sorted(set(scores_in.scores) - known)
    if unknown:
        raise Problem(422, f"Units not in this campaign: {', '.join(unknown[:10])}.", slug="unknown-unit",
                      units=unknown)
    rows = [{"campaign_id": campaign_id, "unit_id": u, "source": scores_in.source, "scorer": scores_in.scorer,
             "score": s, "recorded_by": actor.subject} for u, s in scores_in.scores.items()]
    stmt = pg_insert(source_scores)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["campaign_id", "unit_id", "source", "scorer"],
        set_={"score": stmt.excluded.score, "recorded_by": stmt.excluded.recorded_by, "recorded_at": func.now()},
    ), rows)
    await audit.record(session, audit_log, actor=actor, action="scores.record", entity_type="campaign",
                       entity_id=str(campaign_id),
                       details={"source": scores_in.source, "scorer": scores_in.scorer, "units": len(rows)})
    return len(rows)


async def record_veto(session: AsyncSession, *, campaign_id: uuid.UUID, unit_id: str, reason: str,
                      actor: Principal) -> None:
    campaign = await get_campaign(session, campaign_id, lock="share")
    _require_state(campaign, "draft", "open", "closed", doing="recording a veto")
    exists = await session.scalar(select(campaign_units.c.ref).where(
        campaign_units.c.campaign_id == campaign_id, campaign_units.c.unit_id == unit_id))
    if exists is None:
        raise Problem(404, "That unit is not in this campaign.", slug="not-found")
    stmt = pg_insert(vetoes).values(campaign_id=campaign_id, unit_id=unit_id, reason=reason,
                                    recorded_by=actor.subject)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["campaign_id", "unit_id"], set_={"reason": reason, "recorded_by": actor.subject}))
    await audit.record(session, audit_log, actor=actor, action="veto.record", entity_type="campaign",
                       entity_id=str(campaign_id), details={"unit": unit_id, "reason": reason})


# ---------------------------------------------------------------------------------------------------------
# Rankings

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
    driver = await _driver(session)
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
            "SELECT unit_id, source, avg(score) AS score FROM evaluation.source_scores WHERE campaign_id = $1 "
            "GROUP BY unit_id, source", cid):
        inputs[r["unit_id"]].entered[r["source"]] = float(r["score"])
    facts = await driver.fetch("""
        SELECT f.unit_id, f.kind, count(*) AS n, sum(f.value) AS total
        FROM evaluation.indicator_facts f JOIN evaluation.campaign_units u
          ON u.unit_id = f.unit_id AND u.campaign_id = $1
        WHERE (f.kind <> 'award_ineligible' AND f.occurred_on >= $2 AND f.occurred_on < $3)
           OR (f.kind = 'award_ineligible' AND extract(year FROM f.occurred_on) = $4)
        GROUP BY f.unit_id, f.kind""", cid, campaign["period_start"], campaign["period_end"], campaign["year"])
    for r in facts:
        unit = inputs[r["unit_id"]]
        unit.facts[r["kind"]] = float(r["n"])
        if r["kind"] == "feedback":
            unit.feedback_sum = float(r["total"])
        if r["kind"] == "award_ineligible" and "award_ineligible" in campaign["veto_rules"]:
            unit.vetoes.append(f"{domain.VETO_RULES['award_ineligible']} ({campaign['year']})")
    for r in await driver.fetch("SELECT unit_id, reason FROM evaluation.vetoes WHERE campaign_id = $1", cid):
        inputs[r["unit_id"]].vetoes.append(r["reason"])

    categories = domain.rank_units(
        inputs.values(), categories=campaign["categories"], weights=campaign["weights"],
        thresholds=campaign["thresholds"], indicator_rules=campaign["indicator_rules"], top_n=campaign["top_n"])
    previous = await _previously_unqualified(session, campaign)
    consequences = domain.consequences_of(categories, previously_unqualified=previous,
                                          exemplars_per_category=campaign["exemplars_per_category"])
    return {
        "campaign_id": str(cid), "name": campaign["name"], "series": campaign["series"],
        "period": campaign["period"], "state": campaign["state"], "published_at": None,
        "tie_break": domain.TIE_BREAK_RULE, "thresholds": campaign["thresholds"],
        "categories": [{
            "category": c["category"],
            "ranking": [{
                "rank": r.rank, "unit_id": r.unit_id, "unit_name": r.name, "score": r.score, "grade": r.grade,
                "grade_label": domain.GRADES[r.grade], "vetoed": r.vetoed, "veto_reasons": r.veto_reasons,
                "key_section": r.key_section, "ballots": r.ballots, "sources": r.sources,
            } for r in c["ranking"]],
            "top_ten": c["top_ten"], "bottom_ten": c["bottom_ten"],
        } for c in categories],
        "consequences": consequences,
    }


async def _previously_unqualified(session: AsyncSession, campaign: dict) -> set[str]:
    """Units graded 不合格 in the series' previous published campaign (连续两次不合格)."""
    results = await session.scalar(
        select(campaigns.c.results)
        .where(campaigns.c.series == campaign["series"], campaigns.c.state == "published",
               campaigns.c.period_start < campaign["period_start"])
        .order_by(campaigns.c.period_start.desc()).limit(1))
    if not results:
        return set()
    return {u["unit_id"] for c in results["categories"] for u in c["ranking"] if u["grade"] == "unqualified"}


async def rankings(session: AsyncSession, *, campaign_id: uuid.UUID, principal: Principal) -> dict:
    """Published results as frozen at publication (anyone); a live preview before that (office staff only)."""
    campaign = await get_campaign(session, campaign_id)
    if campaign["state"] == "published":
        return campaign["results"]
    if not (principal.kind == "staff" and principal.has_role("evaluation_admin", "auditor")):
        raise Problem(404, "No published rankings for this campaign.", slug="not-found")
    return await compute_results(session, campaign=campaign)


# ---------------------------------------------------------------------------------------------------------
# Read models fed by events

async def upsert_directory_unit(session: AsyncSession, **values: Any) -> None:
    stmt = pg_insert(units).values(**values, updated_at=func.now())
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["unit_id"], set_={k: stmt.excluded[k] for k in [*values, "updated_at"] if k != "unit_id"}))


async def put_fact(session: AsyncSession, *, key: str, unit_id: str | None, kind: str, value: float,
                   occurred_on) -> None:
    """One fact per key (a clue, a case, a rectification): a later event about the same thing replaces it,
    and ``unit_id=None`` removes it (e.g. a clue re-screened as a duplicate no longer counts)."""
    if unit_id is None:
        await session.execute(text("DELETE FROM evaluation.indicator_facts WHERE event_id = :k"), {"k": key})
        return
    stmt = pg_insert(indicator_facts).values(event_id=key, unit_id=unit_id, kind=kind, value=value,
                                             occurred_on=occurred_on)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["event_id"],
        set_={"unit_id": unit_id, "kind": kind, "value": value, "occurred_on": occurred_on}))
