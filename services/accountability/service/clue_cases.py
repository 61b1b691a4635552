"""Cases from triaged clues, a consumer poll at a time: the set form of ``cases.open_case_from_clue``.

A daily run sends thousands of ``ClueTriaged`` at once; handled one by one each cost about a dozen round
trips (bench/results/set_handlers.md). Here a poll's clues cost a constant number of statements: the
cluster locks, the clues already in a case, the triage memory, the units, the case numbers, the cases,
their clues, the audit entries and the ``CaseOpened`` events, each once for the whole set.

Only clues that stand alone go the set way. A merged clue (a repeat) joins its original's case, which this
very set may have just opened, so repeats are handled after it, one by one, with the same function as
before; so are an original's repeats found waiting (rare: a repeat triaged before its original). Events of
different clues have no order between them (other keys, other partitions), so handling the repeats last
gives the same result as any order Kafka could have delivered them in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.competence import competent_body
from services.common.contracts.triage import ClueTriaged
from services.common.outbox import Outbox

from ..models import audit_log, case_clues, case_number_seq, cases, triaged_clues, units
from .cases import case_opened, case_values, open_case, open_case_from_clue

_LOCK_ALL = text(
    "SELECT pg_advisory_xact_lock(k) FROM (SELECT unnest(CAST(:keys AS bigint[])) AS k ORDER BY 1) AS sorted")


async def open_cases_from_clues(session: AsyncSession, outbox: Outbox, events: Sequence[ClueTriaged]) -> None:
    """受理 or 五必查 → cases in 初核, for a set of clues no two of which are the same (the consumer's promise)."""
    if len(events) == 1:
        await open_case_from_clue(session, outbox, events[0])
        return
    repeats = [e for e in events if _repeat(e)]
    alone = [e for e in events if not _repeat(e)]
    # The same cluster locks as one at a time (an original's id for it and its repeats), all in one
    # statement and in one order, so two replicas' sets cannot deadlock on them.
    keys = {e.merged_into if _repeat(e) and e.merged_into is not None else e.clue_id for e in events}
    await session.execute(_LOCK_ALL, {"keys": sorted(int.from_bytes(k.bytes[:8], "big", signed=True) for k in keys)})
    ids = [e.clue_id for e in events]
    owned = set(await session.scalars(select(case_clues.c.clue_id).where(case_clues.c.clue_id.in_(ids))))
    # Replays of clues already in a case change nothing.
    alone = [e for e in alone if e.clue_id not in owned]
    repeats = [e for e in repeats if e.clue_id not in owned]
    if alone:
        await _open_alone(session, outbox, alone)
    if repeats:
        await _join_originals(session, outbox, repeats)


def _repeat(event: ClueTriaged) -> bool:
    return event.decision == "merge" and event.merged_into is not None


def _clue(event: ClueTriaged) -> dict:
    return {"clue_id": event.clue_id, "tracking_number": event.tracking_number, "problem_type": event.type_code,
            "channel": event.channel, "must_investigate": event.must_investigate}


async def _remember(session: AsyncSession, memory: list[dict]) -> None:
    # Executemany forms throughout: one compiled statement and one pipelined round trip (a multi-row
    # VALUES of a varying row count is compiled afresh every time, which cost more than the database).
    stmt = pg_insert(triaged_clues)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["clue_id"], set_={k: stmt.excluded[k] for k in memory[0] if k != "clue_id"}), memory)


async def _open_alone(session: AsyncSession, outbox: Outbox, events: list[ClueTriaged]) -> None:
    await _remember(session, [{**_clue(e), "merged_into": None, "waiting": False} for e in events])

    opening = [e for e in events if e.decision == "accept" or e.must_investigate]
    opened: dict = {}
    if opening:
        unit_ids = {e.unit_id for e in opening if e.unit_id}
        by_unit = {u.unit_id: u for u in (await session.execute(
            select(units).where(units.c.unit_id.in_(unit_ids)))).all()} if unit_ids else {}
        numbers = sorted(await session.scalars(
            select(case_number_seq.next_value()).select_from(func.generate_series(1, len(opening)))))
        rows = []
        for event, number in zip(opening, numbers, strict=True):
            title = f"线索 {event.tracking_number}" + ("（五必查）" if event.must_investigate else "")
            rows.append(case_values(
                by_unit.get(event.unit_id), number, opened_at=datetime.now(UTC), actor="triage", title=title,
                source="clue", unit_id=event.unit_id, problem_family=event.family, problem_type=event.type_code,
                summary="; ".join(event.must_investigate_triggers) or None,
                lead_body=competent_body(channel=event.channel, tags=event.tags),
                must_investigate=event.must_investigate, tags=event.tags, serious=False, unit_problem=False,
                origin_key=None, campaign=None))
            opened[event.clue_id] = rows[-1]["id"]
        await session.execute(pg_insert(cases), rows)
        await session.execute(pg_insert(case_clues).on_conflict_do_nothing(index_elements=["clue_id"]),
                              [{"case_id": row["id"], **_clue(e)} for e, row in zip(opening, rows, strict=True)])
        await audit.record_many(session, audit_log, [
            audit.Entry(actor="triage", action="case.opened", entity_type="case", entity_id=str(row["id"]),
                        details={"source": "clue", "unit_id": row["unit_id"]}) for row in rows])
        await outbox.publish_many(session, [case_opened(row, [_clue(e)]) for e, row in zip(opening, rows, strict=True)])

    await _settle_waiting(session, outbox, {e.clue_id: e for e in events}, opened)


async def _settle_waiting(session: AsyncSession, outbox: Outbox, originals: dict, opened: dict) -> None:
    """An original's repeats that arrived before it wait in ``triaged_clues``: they join the case it opened,
    or, when it opened none, a 五必查 repeat opens its own (rare: one at a time, as ``cases`` does it)."""
    waiting = (await session.execute(select(triaged_clues).where(
        triaged_clues.c.merged_into.in_(list(originals)), triaged_clues.c.waiting.is_(True)))).all()
    if not waiting:
        return
    clues = [(row, {k: getattr(row, k) for k in ("clue_id", "tracking_number", "problem_type", "channel",
                                                  "must_investigate")}) for row in waiting]
    joining = [(row, clue) for row, clue in clues if row.merged_into in opened]
    if joining:
        await session.execute(pg_insert(case_clues).on_conflict_do_nothing(index_elements=["clue_id"]),
                              [{"case_id": opened[row.merged_into], **clue} for row, clue in joining])
        await audit.record_many(session, audit_log, [
            audit.Entry(actor="triage", action="case.clue-attached", entity_type="case",
                        entity_id=str(opened[row.merged_into]),
                        details={"clue_id": str(row.clue_id), "merged_into": str(row.merged_into)})
            for row, _ in joining])
    for row, clue in clues:
        if row.merged_into not in opened and row.must_investigate:
            event = originals[row.merged_into]
            await open_case(session, outbox, actor="triage", title=f"线索 {row.tracking_number}（五必查）",
                            source="clue", unit_id=event.unit_id, problem_family=event.family,
                            problem_type=row.problem_type, clues=[clue], must_investigate=True,
                            lead_body=competent_body(channel=row.channel, tags=event.tags), tags=event.tags)
    await session.execute(update(triaged_clues).where(
        triaged_clues.c.merged_into.in_({row.merged_into for row in waiting}),
        triaged_clues.c.waiting.is_(True)).values(waiting=False))


async def _join_originals(session: AsyncSession, outbox: Outbox, repeats: list[ClueTriaged]) -> None:
    """A repeat joins its original's case and adds its tags to it; one whose original has not been triaged
    yet waits for it (``_open_alone`` of a later set settles it)."""
    originals = list({e.merged_into for e in repeats})
    targets = dict((await session.execute(select(case_clues.c.clue_id, case_clues.c.case_id).where(
        case_clues.c.clue_id.in_(originals)))).all())
    seen = set(await session.scalars(select(triaged_clues.c.clue_id).where(
        triaged_clues.c.clue_id.in_(originals), triaged_clues.c.waiting.is_(False))))
    # An original seen without a case leaves a 五必查 repeat to open its own: rare, so one at a time.
    own = [e for e in repeats if e.merged_into not in targets and e.merged_into in seen and e.must_investigate]
    rest = [e for e in repeats if e not in own]
    if rest:
        await _remember(session, [{**_clue(e), "merged_into": e.merged_into,
                                   "waiting": e.merged_into not in targets and e.merged_into not in seen}
                                  for e in rest])
    joining = [e for e in rest if e.merged_into in targets]
    if joining:
        await session.execute(pg_insert(case_clues).on_conflict_do_nothing(index_elements=["clue_id"]),
                              [{"case_id": targets[e.merged_into], **_clue(e)} for e in joining])
        await audit.record_many(session, audit_log, [
            audit.Entry(actor="triage", action="case.clue-attached", entity_type="case",
                        entity_id=str(targets[e.merged_into]),
                        details={"clue_id": str(e.clue_id), "merged_into": str(e.merged_into)}) for e in joining])
        await _add_tags(session, targets, joining)
    for event in own:
        await open_case_from_clue(session, outbox, event)


async def _add_tags(session: AsyncSession, targets: dict, joining: list[ClueTriaged]) -> None:
    """A repeat from another channel may carry tags the original lacked (四风, 八项规定…): the case keeps all."""
    wanted: dict = {}
    for e in joining:
        if e.tags:
            wanted.setdefault(targets[e.merged_into], set()).update(e.tags)
    if not wanted:
        return
    current = dict((await session.execute(select(cases.c.id, cases.c.tags).where(
        cases.c.id.in_(list(wanted))))).all())
    changed = [{"case": case_id, "new_tags": sorted(set(current.get(case_id) or ()) | tags)}
               for case_id, tags in wanted.items() if not tags <= set(current.get(case_id) or ())]
    if changed:
        await session.execute(update(cases).where(cases.c.id == bindparam("case")).values(
            tags=bindparam("new_tags")), changed)
