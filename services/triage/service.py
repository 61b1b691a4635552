"""Triage's domain logic (no HTTP here): clues, the officer queue and overrides, sheets, benchmark cases."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import yaml
from sqlalchemy import and_, cast, func, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit, csvsafe
from services.common.auth import Principal
from services.common.calendar import default_calendar
from services.common.competence import competent_body
from services.common.contracts.accountability import BenchmarkCasePublished
from services.common.contracts.intake import ClueReceived
from services.common.contracts.triage import ClueTriaged, DailySheetPublished
from services.common.errors import Problem
from services.common.scope import scope_of

from .competence import organization_matter, organization_only
from .daily_run import SHANGHAI, deadlines_of
from .classifier import Verdict, default_classifier
from .models import audit_log, benchmark_cases, clues, daily_runs, training_examples, units
from .schemas import BenchmarkCaseRead, ClueOverride, ClueRead
from .screen import can_move, deadline_for
from .settings import TriageSettings
from .taxonomy import DATA_DIR, default_taxonomy

BENCHMARK_SEED_FILE = DATA_DIR / "benchmark-cases.yaml"


async def record_received_clue(session: AsyncSession, event: ClueReceived, *,
                               model_dir: Path | None = None) -> Verdict | None:
    """Keep triage's copy of a clue, classified on arrival (so an officer sees family, type, 五必查 and
    涉企 before the daily run, which sorts, dedupes, routes and decides); a replayed event changes nothing."""
    verdict = default_classifier(model_dir).classify(event.text, enterprise_flag=event.enterprise_related)
    stored = await session.execute(
        pg_insert(clues)
        .values(
            id=event.clue_id,
            tracking_number=event.tracking_number,
            channel=event.channel,
            subject=event.subject,
            text=event.text,
            unit_id=event.unit_id,
            place=event.place,
            poster_code=event.poster_code,
            enterprise_related=event.enterprise_related or verdict.enterprise,
            received_at=event.received_at,
            **classification_values(verdict),
        )
        .on_conflict_do_nothing(index_elements=["id"])
    )
    return verdict if stored.rowcount else None  # None: a replay, already kept


def screened_on_arrival(verdict: Verdict, enterprise_flag: bool, settings: TriageSettings) -> bool:
    """即查即办 (R-TR-9): 涉企 complaints and those harming the public's interests are not left to the cut-off."""
    return enterprise_flag or verdict.enterprise or verdict.type_code in settings.immediate_type_codes


def classification_values(verdict: Verdict) -> dict[str, Any]:
    return {"family": verdict.family, "type_code": verdict.type_code, "tags": list(verdict.tags),
            "confidence": verdict.confidence, "evidence": verdict.evidence_json(),
            "must_investigate": bool(verdict.triggers), "triggers": list(verdict.triggers),
            "conduct": verdict.conduct, "model_version": verdict.model_version, "classified_at": datetime.now(UTC)}


def _unit_of_clue():
    """The unit a clue belongs to, for unit-handler scoping: where triage routed it, else intake's unit."""
    return func.coalesce(clues.c.routed_unit_id, clues.c.unit_id)


async def list_clues(
    session: AsyncSession,
    *,
    after: uuid.UUID | None,
    limit: int,
    unit_id: str | None = None,
    filters: dict[str, Any] | None = None,
    organization_only: bool = False,
) -> list[ClueRead]:
    """Clues in arrival order (UUIDv7 ids sort by time), cursor-paginated on the id, optionally filtered.

    ``unit_id`` is a unit handler's scope: only the clues transferred (转办) to that unit, never one the
    commission kept (受理, 五必查, 乱作为) nor one not yet screened (services/common/scope.py)."""
    query = select(clues).order_by(clues.c.id).limit(limit)
    if organization_only:  # the organization department's queue: its own matters (R-AC-10)
        query = query.where(organization_matter())
    if after is not None:
        query = query.where(clues.c.id > after)
    if unit_id is not None:
        query = query.where(clues.c.decision == "transfer", clues.c.routed_unit_id == unit_id)
    for name, value in (filters or {}).items():
        if value is None:
            continue
        if name == "unit":
            query = query.where(_unit_of_clue() == value)
        elif name == "tag":
            query = query.where(clues.c.tags.any(value))
        else:
            query = query.where(clues.c[name] == value)
    rows = (await session.execute(query)).all()
    return [ClueRead.model_validate(row._mapping) for row in rows]


async def get_clue(session: AsyncSession, *, clue_id: uuid.UUID, principal: Principal, lock: bool = False):
    query = select(clues).where(clues.c.id == clue_id)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).first()
    scope = scope_of(principal)
    if row is None or not scope.sees_clue(row.routed_unit_id, transferred=row.decision == "transfer"):
        raise Problem(404, "没有这条线索。", slug="clue-not-found")
    if organization_only(principal) and competent_body(channel=row.channel, tags=row.tags) != "organization":
        raise Problem(404, "没有这条线索。", slug="clue-not-found")
    return row


async def override_clue(
    session: AsyncSession, outbox, *, clue_id: uuid.UUID, change: ClueOverride, principal: Principal,
    settings: TriageSettings,
) -> ClueRead:
    """人工调整: an officer sets type, unit and/or decision with a reason; audited, and re-published."""
    row = await get_clue(session, clue_id=clue_id, principal=principal, lock=True)
    taxonomy = default_taxonomy()
    if not can_move(row.state, "triaged"):
        raise Problem(409, f"A clue in state {row.state} cannot be screened.", slug="clue-state")
    values: dict[str, Any] = {}
    if change.type_code is not None:
        if change.type_code not in taxonomy.types:
            raise Problem(422, f"Unknown problem type {change.type_code}.", slug="unknown-type")
        if change.conduct is False:
            raise Problem(422, "非作风问题不能同时指定问题类型。", slug="type-without-conduct")
        values |= {"type_code": change.type_code, "family": taxonomy.family_of(change.type_code), "conduct": True}
    elif change.conduct is not None:
        values["conduct"] = change.conduct
        if change.conduct is False:
            values |= {"type_code": None, "family": None, "tags": []}
    if change.triggers is not None:
        known = {code for code, _, _ in taxonomy.triggers}
        if unknown := sorted(set(change.triggers) - known):
            raise Problem(422, f"未知的五必查情形：{'、'.join(unknown)}。", slug="unknown-trigger")
        # an officer may add 五必查 triggers, never take one off the clue (that would open the way to 存查);
        # what the officer says is still what the training example records
        kept = sorted(set(row.triggers) | set(change.triggers))
        values |= {"triggers": kept, "must_investigate": bool(kept)}
    if change.enterprise_related is not None:
        values["enterprise_related"] = change.enterprise_related
    if change.unit_id is not None:
        if await session.scalar(select(func.count()).select_from(units).where(units.c.id == change.unit_id)) == 0:
            raise Problem(422, f"Unknown unit {change.unit_id}.", slug="unknown-unit")
        values |= {"routed_unit_id": change.unit_id, "route_reason": "override"}
    decision = change.decision or row.decision
    if decision is None:
        raise Problem(422, "This clue has no decision yet: give one.", slug="decision-required")
    must_investigate = values.get("must_investigate", row.must_investigate)
    if decision == "set_aside" and must_investigate:
        raise Problem(409, "A must-investigate (五必查) clue can never be set aside.",
                      slug="must-investigate-cannot-be-set-aside", triggers=list(values.get("triggers", row.triggers)))
    merged_into = row.merged_into
    if decision == "merge":
        merged_into = change.merged_into or row.merged_into
        if merged_into is None or merged_into == row.id:
            raise Problem(422, "A merge names the clue to merge into (merged_into).", slug="merge-target-required")
        if await session.scalar(select(func.count()).select_from(clues).where(clues.c.id == merged_into)) == 0:
            raise Problem(422, "The clue to merge into does not exist.", slug="merge-target-unknown")
    elif decision != "merge":
        merged_into = None
    unit_after = values.get("routed_unit_id", row.routed_unit_id)
    if decision == "transfer" and not unit_after:
        raise Problem(422, "A transfer (转办) needs a responsible unit.", slug="unit-required")
    run_date = row.run_date or datetime.now(SHANGHAI).date()
    deadline = deadline_for(decision, enterprise=values.get("enterprise_related", row.enterprise_related),
                            run_date=run_date,
                            deadlines=deadlines_of(settings), calendar=default_calendar())
    values |= {"decision": decision, "reason": change.reason, "merged_into": merged_into, "deadline": deadline,
               "state": "triaged", "overridden": True, "run_date": run_date, "triaged_at": datetime.now(UTC)}
    if merged_into is not None and merged_into != row.merged_into:
        source = [{"clue_id": str(row.id), "tracking_number": row.tracking_number, "channel": row.channel,
                   "received_at": row.received_at.isoformat()}]
        await session.execute(update(clues).where(clues.c.id == merged_into)
                              .values(sources=clues.c.sources.op("||")(cast(_json(source), JSONB))))
    await session.execute(update(clues).where(clues.c.id == row.id).values(**values))
    await record_training_example(session, row, values, principal=principal, reason=change.reason,
                                  triggers=change.triggers)
    before = {k: _plain(getattr(row, k)) for k in ("family", "type_code", "routed_unit_id", "decision", "state")}
    after = {k: _plain(values.get(k, getattr(row, k))) for k in before}
    await audit.record(session, audit_log, actor=principal, action="clue.override", entity_type="clue",
                       entity_id=str(row.id), details={"before": before, "after": after, "reason": change.reason})
    fresh = (await session.execute(select(clues).where(clues.c.id == row.id))).one()
    await outbox.publish(session, ClueTriaged(
        clue_id=fresh.id, tracking_number=fresh.tracking_number, run_date=run_date, family=fresh.family,
        type_code=fresh.type_code, tags=list(fresh.tags), confidence=fresh.confidence, unit_id=fresh.routed_unit_id,
        decision=decision, must_investigate=fresh.must_investigate, must_investigate_triggers=list(fresh.triggers),
        enterprise_related=fresh.enterprise_related, deadline=deadline, merged_into=merged_into,
        reason=change.reason, channel=fresh.channel, received_at=fresh.received_at,
    ))
    return ClueRead.model_validate(fresh._mapping)


async def record_training_example(session: AsyncSession, row, values: dict[str, Any], *, principal: Principal,
                                  reason: str, triggers: list[str] | None = None) -> None:
    """人工调整 teaches the classifier: the clue as the officer left it becomes a labelled example."""
    def after(name: str) -> Any:
        return values.get(name, getattr(row, name))

    conduct = after("conduct")
    conduct = True if conduct is None else bool(conduct)
    await session.execute(pg_insert(training_examples).values(
        clue_id=row.id, text=row.text, conduct=conduct, family=after("family") if conduct else None,
        type_code=after("type_code") if conduct else None,
        triggers=sorted(set(triggers)) if triggers is not None else list(after("triggers") or ()),
        enterprise=bool(after("enterprise_related")), tags=list(after("tags") or ()) if conduct else [],
        channel=row.channel, source="override", reason=reason, labelled_by=principal.subject))


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID | date) else value


# -- daily sheets ---------------------------------------------------------------------------------------------


async def get_run(session: AsyncSession, *, run_date: date, version: int | None = None) -> dict[str, Any]:
    """A version of the day's sheet: the newest unless one is asked for (older versions stay readable)."""
    query = select(daily_runs).where(daily_runs.c.run_date == run_date)
    query = query.where(daily_runs.c.version == version) if version is not None else query
    row = (await session.execute(query.order_by(daily_runs.c.version.desc()).limit(1))).first()
    if row is None:
        which = f"第{version}版" if version is not None else ""
        raise Problem(404, f"{run_date.isoformat()} 尚无{which}线索梳理表。", slug="sheet-not-found")
    return dict(row._mapping)


SHEET_DIMENSIONS = {"by_channel": "渠道", "by_type": "问题类型", "by_unit": "责任单位", "by_decision": "处置方式"}


def sheet_csv(run: dict[str, Any]) -> str:
    """The sheet's counts as CSV: 日期, 维度, 代码, 名称, 件数 (names are the Chinese terms)."""
    taxonomy = default_taxonomy()
    labels = {t: v["label"] for t, v in taxonomy.types.items()} | {
        "accept": "受理", "transfer": "转办", "merge": "合并", "set_aside": "存查", "review": "待人工复核",
        "unclassified": "未分类", DailySheetPublished.UNROUTED: "未分办"}
    out = io.StringIO()
    writer = csvsafe.writer(out)
    # Headers and dimensions are what an officer reads; the codes stay in their own column (代码).
    writer.writerow(["日期", "维度", "代码", "名称", "件数"])
    sheet = run["sheet"]
    for dim in ("by_channel", "by_type", "by_unit", "by_decision"):
        for entry in sheet.get(dim, []):
            writer.writerow([sheet["run_date"], SHEET_DIMENSIONS[dim], entry["key"],
                             labels.get(entry["key"], ""), entry["count"]])
    writer.writerow([sheet["run_date"], "合计", "", "合计", sheet["total"]])
    return out.getvalue()


async def confirm_sheet(session: AsyncSession, *, run_date: date, principal: Principal) -> dict[str, Any]:
    """审核确认: an officer confirms the day's sheet (once; confirming again changes nothing)."""
    run = await get_run(session, run_date=run_date)
    if run["confirmed_at"] is not None:
        return run
    now = datetime.now(UTC)
    await session.execute(update(daily_runs).where(daily_runs.c.run_date == run_date,
                                                   daily_runs.c.version == run["version"])
                          .values(confirmed_by=principal.subject, confirmed_at=now))
    pending_review = await session.scalar(select(func.count()).select_from(clues).where(
        and_(clues.c.run_date == run_date, clues.c.state == "review")))
    await audit.record(session, audit_log, actor=principal, action="daily_sheet.confirm", entity_type="daily_sheet",
                       entity_id=run_date.isoformat(), details={"total": run["total"], "version": run["version"],
                                                                "still_in_review": pending_review})
    return {**run, "confirmed_by": principal.subject, "confirmed_at": now}


# -- 标杆案例 ----------------------------------------------------------------------------------------------------


async def record_benchmark_case(session: AsyncSession, event: BenchmarkCasePublished, *, source: str) -> None:
    stmt = pg_insert(benchmark_cases).values(
        case_id=event.case_id, title=event.title, summary=event.summary, problem_type=event.problem_type,
        tags=list(event.tags), source=source, published_at=event.published_at)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["case_id"],
        set_={c: stmt.excluded[c] for c in ("title", "summary", "problem_type", "tags", "published_at")}))


async def seed_benchmark_cases(session: AsyncSession, path: Path = BENCHMARK_SEED_FILE) -> int:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))  # noqa: ASYNC240 — a one-off seed, small file
    now = datetime.now(UTC)
    rows = [{**c, "case_id": uuid.UUID(str(c["case_id"])), "tags": c.get("tags", []), "source": "seed",
             "published_at": now} for c in data["cases"]]
    await session.execute(pg_insert(benchmark_cases).on_conflict_do_nothing(index_elements=["case_id"]), rows)
    return len(rows)


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


async def similar_benchmark_cases(session: AsyncSession, *, clue, limit: int = 3) -> list[BenchmarkCaseRead]:
    """Precedents for a clue, scored by: same type (3), same family (1.5), shared tags (1 each), and the
    overlap of their wording with the clue's text (character bigrams, up to 2)."""
    taxonomy = default_taxonomy()
    candidates = (await session.execute(select(benchmark_cases).where(or_(
        benchmark_cases.c.problem_type.is_not(None), func.cardinality(benchmark_cases.c.tags) > 0)))).all()
    words = _bigrams(clue.text)
    scored = []
    for case in candidates:
        score = 0.0
        if case.problem_type and case.problem_type == clue.type_code:
            score += 3
        elif case.problem_type in taxonomy.types and clue.family == taxonomy.family_of(case.problem_type):
            score += 1.5
        score += len(set(case.tags) & set(clue.tags or ()))
        theirs = _bigrams(case.title + case.summary)
        if words and theirs:
            score += 2 * len(words & theirs) / len(words | theirs)
        if score > 0.3:
            scored.append((round(score, 3), case))
    scored.sort(key=lambda sc: (-sc[0], str(sc[1].case_id)))
    return [BenchmarkCaseRead(score=s, **dict(c._mapping)) for s, c in scored[:limit]]
