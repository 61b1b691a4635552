"""Ballots: ingest (one per voter per campaign), stuffing scan, quarantine review."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Principal
from services.common.errors import Problem
from services.common.ids import new_id

from .. import domain
from ..models import audit_log, ballot_imports, ballots, campaign_units, opinions
from ..schemas import BallotIn
from ._shared import decode_cursor, encode_cursor, get_campaign, raw_connection, require_state


MAX_CLOCK_SKEW = timedelta(minutes=5)

BALLOTS = Counter("zuofeng_evaluation_ballots_total", "Ballots received, by outcome",
                  ["channel", "outcome"])
QUARANTINED = Counter("zuofeng_evaluation_ballots_quarantined_total", "Ballots quarantined as suspected stuffing")


_STAGE_COLUMNS = ("idx", "voter_hash", "channel", "source", "pattern", "unit_refs", "scores", "submitted_at")
# Created once per connection and emptied at each commit. If the transaction that created it rolls back, the
# next one creates it again and PostgreSQL re-plans the cached insert by name (see the rollback test).
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


@dataclass(frozen=True)
class Origin:
    """Who delivers the ballots; the server, not the ballot, decides channel, source and time from it.

    - ``web``: one citizen, verified by a one-time code (``voter`` is then that phone's hash), channel web,
      source the client address the gateway saw (behind trusted proxies), time now;
    - ``gateway``: an SMS/WeChat platform's service key (``name``), channel sms or wechat, its own cell/app
      as source under its name, time as the platform received it but within the voting period;
    - ``import``: paper ballots the office imports (``import_id``), channel paper, quarantined until reviewed.
    """

    kind: str
    name: str | None = None
    client: str | None = None
    voter: bytes | None = None
    import_id: uuid.UUID | None = None


WEB_ONLY_FIELDS = ("channel", "source", "submitted_at")


async def ingest_ballots(
    session: AsyncSession, *, campaign_id: uuid.UUID, ballots_in: list[BallotIn], key: bytes, origin: Origin,
) -> dict:
    """Store ballots (one per voter per campaign, R-EV-3) while the campaign is open.

    Returns accepted, duplicate indexes and rejections with reasons. The campaign row is held FOR SHARE, so a
    close waits for this batch and nothing is accepted after close."""
    campaign = await get_campaign(session, campaign_id, lock="share")
    require_state(campaign, "open", doing="投票")
    if campaign["instrument"] != "poll":
        raise Problem(409, "作风建设综合考核由考评办录入分数, 不接受投票。", slug="not-a-poll")
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
        unknown = [u for u in b.ratings if u not in refs] + [u for u in (b.opinions or {}) if u not in refs]
        if unknown:
            rejected.append({"index": i, "reason": f"这些单位不在本次测评中: {', '.join(unknown[:5])}"})
            continue
        unit_refs = [refs[u] for u in b.ratings]
        if origin.kind == "gateway":
            channel = b.channel
            if channel not in ("sms", "wechat"):
                rejected.append({"index": i, "reason": "平台转发的选票渠道只能是短信或微信; 网页投票须经短信验证"})
                continue
            at = b.submitted_at or now
            if at.tzinfo is None:
                rejected.append({"index": i, "reason": "投票时间须带时区"})
                continue
            if at > latest:
                rejected.append({"index": i, "reason": "投票时间晚于当前时间"})
                continue
            if campaign["opened_at"] is not None and at < campaign["opened_at"]:
                rejected.append({"index": i, "reason": "投票时间早于测评开始时间"})
                continue
            source = f"{origin.name}/{b.source}" if b.source else None
        else:
            channel, at = ("web", now) if origin.kind == "web" else ("paper", now)
            source = origin.client if origin.kind == "web" else f"import:{origin.import_id}"
        if origin.kind == "web":
            h = origin.voter
        else:
            try:
                h = hasher(b.voter, "wechat" if channel == "wechat" else "sms")
            except domain.InvalidIdentity as exc:
                rejected.append({"index": i, "reason": f"{exc}: 无法识别投票人"})
                continue
        if h in by_hash:
            duplicates.append(i)
            continue
        by_hash[h] = i
        scores = list(b.ratings.values())
        records.append((i, h, channel, source, domain.ballot_pattern(unit_refs, scores),
                        "{" + ",".join(map(str, unit_refs)) + "}", "{" + ",".join(map(str, scores)) + "}", at))
    accepted = 0
    if records:
        driver = await raw_connection(session)
        await driver.execute(_CREATE_STAGE)
        await driver.copy_records_to_table("evaluation_ballot_stage", records=records, columns=_STAGE_COLUMNS)
        inserted = {r[0] for r in await driver.fetch(_INSERT_STAGED, campaign_id)}
        duplicates.extend(by_hash[h] for h in by_hash if h not in inserted)
        accepted = len(inserted)
        if origin.kind == "import":
            # Paper ballots count only once someone has reviewed them (the importer cannot vouch alone).
            await session.execute(
                update(ballots).where(ballots.c.campaign_id == campaign_id,
                                      ballots.c.source == f"import:{origin.import_id}")
                .values(status="quarantined", reasons=["考评办导入的纸质选票, 复核后计入"]))
        opinion_rows = [{"campaign_id": campaign_id, "unit_id": u, "channel": records_channel, "text": text.strip()}
                        for h, idx in by_hash.items() if h in inserted
                        for records_channel in [ballots_in[idx].channel or ("web" if origin.kind == "web" else "paper")]
                        for u, text in (ballots_in[idx].opinions or {}).items() if text.strip()]
        if opinion_rows:
            await session.execute(opinions.insert(), opinion_rows)
    channel = "web" if origin.kind == "web" else "paper" if origin.kind == "import" else (
        ballots_in[0].channel if len({b.channel for b in ballots_in}) == 1 else "mixed")
    BALLOTS.labels(str(channel), "accepted").inc(accepted)
    BALLOTS.labels(str(channel), "duplicate").inc(len(duplicates))
    BALLOTS.labels(str(channel), "rejected").inc(len(rejected))
    return {"accepted": accepted, "duplicates": sorted(duplicates), "rejected": rejected}


async def import_ballots(session: AsyncSession, *, campaign_id: uuid.UUID, raw: bytes, batch, key: bytes,
                         actor: Principal) -> dict:
    """The office's paper ballots: recorded with who, the file's SHA-256 and the count, audited, shown on
    the campaign; the ballots wait in quarantine for review."""
    import_id = new_id()
    receipt = await ingest_ballots(session, campaign_id=campaign_id, ballots_in=batch.ballots, key=key,
                                   origin=Origin("import", import_id=import_id))
    digest = hashlib.sha256(raw).hexdigest()
    await session.execute(ballot_imports.insert().values(
        id=import_id, campaign_id=campaign_id, imported_by=actor.subject, file_name=batch.file_name,
        file_sha256=digest, ballots=len(batch.ballots), accepted=receipt["accepted"]))
    await audit.record(session, audit_log, actor=actor, action="ballots.import", entity_type="campaign",
                       entity_id=str(campaign_id), details={"import": str(import_id), "sha256": digest,
                                                            "ballots": len(batch.ballots),
                                                            "accepted": receipt["accepted"]})
    return {**receipt, "import_id": str(import_id), "file_sha256": digest}


async def list_imports(session: AsyncSession, campaign_id: uuid.UUID) -> list[dict]:
    rows = await session.execute(select(ballot_imports).where(ballot_imports.c.campaign_id == campaign_id)
                                 .order_by(ballot_imports.c.imported_at))
    return [{"id": str(r.id), "imported_by": r.imported_by, "file_name": r.file_name,
             "file_sha256": r.file_sha256, "ballots": r.ballots, "accepted": r.accepted,
             "imported_at": r.imported_at.isoformat()} for r in rows]


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
            format('同一来源集中投票: 来源 %s 在 ±%s 秒内投出 %s 张', source, $2, burst) END,
        CASE WHEN n >= $6 AND same > $5 THEN
            format('相同评分集中出现: ±%s 秒内 %s 张选票对同样 %s 个单位打分完全相同', $4, same, n) END
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
    driver = await raw_connection(session)
    status = await driver.execute(
        _SCAN, campaign["id"], float(r["burst_window_seconds"]), int(r["burst_max"]),
        float(r["pattern_window_seconds"]), int(r["pattern_max"]), int(r["pattern_min_units"]))
    flagged = int(status.split()[-1])
    QUARANTINED.inc(flagged)
    return flagged


async def compact_tallies(session: AsyncSession, campaign_id: uuid.UUID) -> None:
    """After close the ballots are final: fold the per-request partial sums into one row per unit."""
    driver = await raw_connection(session)
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
            query = query.where(ballots.c.id > int(decode_cursor(cursor)))
        except ValueError as exc:
            raise Problem(400, "分页游标无效。", slug="bad-cursor") from exc
    rows = (await session.execute(query)).all()
    items = [{"id": r.id, "channel": r.channel, "source": r.source, "submitted_at": r.submitted_at,
              "status": r.status, "reasons": r.reasons,
              "ratings": {names[u]: s for u, s in zip(r.unit_refs, r.scores, strict=False)}} for r in rows[:limit]]
    return items, (encode_cursor(str(items[-1]["id"])) if len(rows) > limit else None)


async def review_ballot(session: AsyncSession, *, campaign_id: uuid.UUID, ballot_id: int, decision: str,
                        note: str | None, actor: Principal) -> dict:
    """The evaluation office decides a quarantined ballot: counted after all, or rejected. Until publication."""
    campaign = await get_campaign(session, campaign_id, lock="update")
    require_state(campaign, "open", "closed", doing="复核选票")
    status = "counted" if decision == "count" else "rejected"
    row = (await session.execute(
        update(ballots)
        .where(ballots.c.id == ballot_id, ballots.c.campaign_id == campaign_id, ballots.c.status == "quarantined")
        .values(status=status, reviewed_by=actor.subject, reviewed_at=func.now())
        .returning(ballots.c.id, ballots.c.status)
    )).first()
    if row is None:
        raise Problem(404, "本测评中没有这张待复核的选票。", slug="not-found")
    await audit.record(session, audit_log, actor=actor, action=f"ballot.{decision}", entity_type="ballot",
                       entity_id=str(ballot_id), details={"campaign": str(campaign_id), "note": note or ""})
    return {"id": row.id, "status": row.status}
