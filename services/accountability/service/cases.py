"""Cases (案件): opening, gathering clues, the lifecycle transitions, findings and 一案双查."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Principal
from services.common.calendar import SHANGHAI, today_in_city
from services.common.competence import competent_body
from services.common.contracts.accountability import (
    CaseClosed,
    CaseConcluded,
    CaseOpened,
)
from services.common.contracts.triage import ClueTriaged
from services.common.errors import Problem
from services.common.ids import new_id
from services.common.outbox import Outbox
from services.common.scope import DECIDED_FINDINGS, DECIDED_STATES

from .. import domain
from ..models import (
    audit_log,
    case_clues,
    case_number_seq,
    cases,
    exemptions,
    follow_ups,
    leader_clearances,
    measures,
    persons,
    rectifications,
    triaged_clues,
    units,
)

Actor = Principal | str
DISMISSED_OUTCOME = "经初核，反映的问题不予立案，已了结。感谢您的监督。"


def format_case_number(opened_at: datetime, number: int) -> str:
    """``AC-YYYY-NNNNNN``: the year as the city sees it, then a suite-wide sequence."""
    return f"AC-{opened_at.astimezone(SHANGHAI):%Y}-{number:06d}"


async def get_unit(session: AsyncSession, unit_id: str | None) -> Row | None:
    if unit_id is None:
        return None
    return (await session.execute(select(units).where(units.c.unit_id == unit_id))).first()


async def get_case_row(session: AsyncSession, case_id: uuid.UUID, *, lock: bool = False) -> Row:
    query = select(cases).where(cases.c.id == case_id)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).first()
    if row is None:
        raise Problem(404, "没有这个案件。", slug="case-not-found")
    return row


async def clue_ids_of(session: AsyncSession, case_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        (await session.scalars(
            select(case_clues.c.clue_id).where(case_clues.c.case_id == case_id).order_by(case_clues.c.attached_at)
        )).all()
    )


async def open_case(
    session: AsyncSession,
    outbox: Outbox,
    *,
    actor: Actor,
    title: str,
    source: str,
    summary: str | None = None,
    unit_id: str | None = None,
    region: str | None = None,
    problem_family: str | None = None,
    problem_type: str | None = None,
    serious: bool = False,
    unit_problem: bool = False,
    origin_key: str | None = None,
    clues: list[dict[str, Any]] | None = None,
    lead_body: str = "commission",
    must_investigate: bool = False,
    tags: list[str] | None = None,
    campaign: str | None = None,
    opened_at: datetime | None = None,
) -> uuid.UUID | None:
    """Open a case in 初核 with its clues; returns its id, or None if ``origin_key`` already opened one.

    The finding is due ``domain.time_limit_days`` after opening (快查快结: 四风/八项规定 cases sooner)."""
    unit = await get_unit(session, unit_id)
    number = await session.scalar(case_number_seq.next_value())
    values = case_values(
        unit, number, opened_at=opened_at or datetime.now(UTC), actor=actor, title=title, source=source,
        summary=summary, unit_id=unit_id, region=region, problem_family=problem_family, problem_type=problem_type,
        serious=serious, unit_problem=unit_problem, origin_key=origin_key, lead_body=lead_body,
        must_investigate=must_investigate, tags=tags, campaign=campaign)
    case_id = values["id"]
    inserted = await session.scalar(
        pg_insert(cases).values(**values).on_conflict_do_nothing(index_elements=["origin_key"]).returning(cases.c.id)
    )
    if inserted is None:
        return None
    for clue in clues or []:
        await _attach(session, case_id, clue)
    await audit.record(session, audit_log, actor=actor, action="case.opened", entity_type="case",
                       entity_id=str(case_id), details={"source": source, "unit_id": unit_id})
    await outbox.publish(session, case_opened(values, clues or []))
    return case_id


def case_values(unit: Row | None, number: int, *, opened_at: datetime, actor: Actor, tags: list[str] | None,
                region: str | None = None, **fields: Any) -> dict[str, Any]:
    """A new case's row in 初核: its number, the unit's name and region, the time limit its tags set."""
    tags = sorted(set(tags or ()))
    return {
        **fields, "id": new_id(), "case_number": format_case_number(opened_at, number), "state": "preliminary_check",
        "unit_name": unit.name if unit else None, "region": region or (unit.region if unit else None),
        "opened_by": actor.subject if isinstance(actor, Principal) else actor, "opened_at": opened_at,
        "updated_at": opened_at, "tags": tags,
        "due_on": opened_at.astimezone(SHANGHAI).date() + timedelta(days=domain.time_limit_days(tags)),
    }


def case_opened(values: dict[str, Any], clues: list[dict[str, Any]]) -> CaseOpened:
    return CaseOpened(case_id=values["id"], case_number=values["case_number"], unit_id=values["unit_id"],
                      serious=values["serious"], clue_ids=[c["clue_id"] for c in clues],
                      opened_at=values["opened_at"])


async def _attach(session: AsyncSession, case_id: uuid.UUID, clue: dict[str, Any]) -> bool:
    inserted = await session.scalar(
        pg_insert(case_clues).values(case_id=case_id, **clue)
        .on_conflict_do_nothing(index_elements=["clue_id"]).returning(case_clues.c.clue_id)
    )
    return inserted is not None


async def clue_owner(session: AsyncSession, clue_id: uuid.UUID) -> uuid.UUID | None:
    return await session.scalar(select(case_clues.c.case_id).where(case_clues.c.clue_id == clue_id))


async def attach_clue(
    session: AsyncSession, *, case_id: uuid.UUID, clue_id: uuid.UUID, tracking_number: str | None, actor: Actor
) -> None:
    """One case gathers several clues (合并办理); a clue already in another case is refused."""
    case = await get_case_row(session, case_id, lock=True)
    if case.state == "closed":
        raise Problem(409, "已结案的案件不能再并入线索。", slug="case-closed")
    owner = await session.scalar(select(case_clues.c.case_id).where(case_clues.c.clue_id == clue_id))
    if owner == case_id:
        return
    if owner is not None:
        raise Problem(409, "该线索已属于另一案件。", slug="clue-in-another-case")
    await _attach(session, case_id, {"clue_id": clue_id, "tracking_number": tracking_number})
    await audit.record(session, audit_log, actor=actor, action="case.clue-attached", entity_type="case",
                       entity_id=str(case_id), details={"clue_id": str(clue_id)})


async def _lock_cluster(session: AsyncSession, clue_id: uuid.UUID) -> None:
    """Serialise the events of one original clue and its repeats (several replicas, several partitions)."""
    key = int.from_bytes(clue_id.bytes[:8], "big", signed=True)
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


async def open_case_from_clue(session: AsyncSession, outbox: Outbox, event: ClueTriaged) -> uuid.UUID | None:
    """受理 or 五必查 → a case in 初核; a merged clue joins its original's case; replays change nothing.

    A repeat's event may arrive before its original's (different partitions): it then waits in
    ``triaged_clues`` and the original's event settles it — attached to the original's case, or, when the
    original opens none, a case of its own if the repeat is 五必查 (as if it had come second)."""
    merging = event.decision == "merge" and event.merged_into is not None
    await _lock_cluster(session, event.merged_into if merging else event.clue_id)
    if await session.scalar(select(case_clues.c.case_id).where(case_clues.c.clue_id == event.clue_id)):
        return None
    clue = {
        "clue_id": event.clue_id, "tracking_number": event.tracking_number, "problem_type": event.type_code,
        "channel": event.channel, "must_investigate": event.must_investigate,
    }
    if merging:
        target = await session.scalar(
            select(case_clues.c.case_id).where(case_clues.c.clue_id == event.merged_into))
        original_seen = target is not None or await session.scalar(
            select(triaged_clues.c.clue_id).where(triaged_clues.c.clue_id == event.merged_into,
                                                  triaged_clues.c.waiting.is_(False)))
        await _remember(session, clue, merged_into=event.merged_into, waiting=not original_seen)
        if target is not None:
            await _attach_repeat(session, target, clue, event.merged_into)
            await _add_tags(session, target, event.tags)
            return target
        if not original_seen:
            return None
    else:
        await _remember(session, clue, merged_into=None, waiting=False)
    case_id = None
    if event.decision == "accept" or event.must_investigate:
        title = f"线索 {event.tracking_number}" + ("（五必查）" if event.must_investigate else "")
        case_id = await open_case(
            session, outbox, actor="triage", title=title, source="clue", unit_id=event.unit_id,
            problem_family=event.family, problem_type=event.type_code, clues=[clue],
            summary="; ".join(event.must_investigate_triggers) or None,
            lead_body=competent_body(channel=event.channel, tags=event.tags),
            must_investigate=event.must_investigate, tags=event.tags,
        )
    if not merging:
        await _settle_waiting_repeats(session, outbox, original=event.clue_id, case_id=case_id, event=event)
    return case_id


async def _remember(session: AsyncSession, clue: dict[str, Any], *, merged_into: uuid.UUID | None,
                    waiting: bool) -> None:
    values = {**clue, "merged_into": merged_into, "waiting": waiting}
    await session.execute(pg_insert(triaged_clues).values(**values).on_conflict_do_update(
        index_elements=["clue_id"], set_={k: v for k, v in values.items() if k != "clue_id"}))


async def _add_tags(session: AsyncSession, case_id: uuid.UUID, tags: list[str]) -> None:
    """A repeat from another channel may carry tags the original lacked (四风, 八项规定…): the case keeps all."""
    if tags:
        current = await session.scalar(select(cases.c.tags).where(cases.c.id == case_id))
        await session.execute(update(cases).where(cases.c.id == case_id).values(
            tags=sorted(set(current or ()) | set(tags))))


async def _attach_repeat(session: AsyncSession, case_id: uuid.UUID, clue: dict[str, Any],
                         original: uuid.UUID) -> None:
    await _attach(session, case_id, clue)
    await audit.record(session, audit_log, actor="triage", action="case.clue-attached", entity_type="case",
                       entity_id=str(case_id), details={"clue_id": str(clue["clue_id"]), "merged_into": str(original)})


async def _settle_waiting_repeats(session: AsyncSession, outbox: Outbox, *, original: uuid.UUID,
                                  case_id: uuid.UUID | None, event: ClueTriaged) -> None:
    waiting = (await session.execute(select(triaged_clues).where(
        triaged_clues.c.merged_into == original, triaged_clues.c.waiting.is_(True)))).all()
    for row in waiting:
        clue = {k: getattr(row, k) for k in ("clue_id", "tracking_number", "problem_type", "channel",
                                             "must_investigate")}
        if case_id is not None:
            await _attach_repeat(session, case_id, clue, original)
        elif row.must_investigate:
            await open_case(session, outbox, actor="triage", title=f"线索 {row.tracking_number}（五必查）",
                            source="clue", unit_id=event.unit_id, problem_family=event.family,
                            problem_type=row.problem_type, clues=[clue], must_investigate=True,
                            lead_body=competent_body(channel=row.channel, tags=event.tags), tags=event.tags)
    if waiting:
        await session.execute(update(triaged_clues).where(
            triaged_clues.c.merged_into == original, triaged_clues.c.waiting.is_(True)).values(waiting=False))


async def update_case(session: AsyncSession, outbox: Outbox, *, case_id: uuid.UUID, changes: dict,
                      actor: Actor) -> None:
    case = await get_case_row(session, case_id, lock=True)
    if case.state == "closed":
        raise Problem(409, "已结案的案件不能修改; 可通过回头看重新整改。", slug="case-closed")
    if not changes:
        return
    if "tags" in changes:  # the 快查快结 limit follows the tags (四风/八项规定 cases are due sooner)
        changes["tags"] = sorted(set(changes["tags"]))
        changes["due_on"] = case.opened_at.astimezone(SHANGHAI).date() + timedelta(
            days=domain.time_limit_days(changes["tags"]))
    await session.execute(update(cases).where(cases.c.id == case_id).values(**changes, updated_at=func.now()))
    await audit.record(session, audit_log, actor=actor, action="case.updated", entity_type="case",
                       entity_id=str(case_id),
                       details={k: v.isoformat() if isinstance(v, date) else v for k, v in changes.items()})
    if changes.get("must_investigate") and case.finding in ("substantiated", "partly_substantiated"):
        from .publishing import flag_award_ineligible

        await flag_award_ineligible(session, outbox, case_id=case_id)


async def _move(session: AsyncSession, case: Row, action: str, *, actor: Actor, reason: str | None,
                extra: dict | None = None) -> str:
    target = domain.next_state(case.state, action)
    if target is None:
        raise Problem(
            409,
            f"案件当前为{domain.STATES[case.state]}, 不能{domain.ACTIONS[action]}。",
            slug="invalid-transition", state=case.state, action=action,
            allowed_actions=domain.allowed_actions(case.state),
        )
    values: dict[str, Any] = {"state": target, "updated_at": func.now(), **(extra or {})}
    if target == "closed":
        values["closed_at"] = datetime.now(UTC)
    await session.execute(update(cases).where(cases.c.id == case.id).values(**values))
    await audit.record(session, audit_log, actor=actor, action=f"case.{action}", entity_type="case",
                       entity_id=str(case.id), details={"from": case.state, "to": target, "reason": reason})
    return target


async def transition_case(
    session: AsyncSession, outbox: Outbox, *, case_id: uuid.UUID, action: str, actor: Actor,
    reason: str | None = None,
) -> str:
    """Move a case along the transition table; guards and events per action. Returns the new state."""
    if action in domain.ACTIONS_WITH_DATA:
        where = {"substantiate": "findings", "clear": "findings", "reopen": "rectifications/{id}/look-back"}[action]
        raise Problem(422, f"{domain.ACTIONS[action]}须附带内容, 请使用 POST …/cases/{{id}}/{where}。",
                      slug="use-dedicated-endpoint")
    case = await get_case_row(session, case_id, lock=True)
    if domain.next_state(case.state, action) is None:
        await _move(session, case, action, actor=actor, reason=reason)  # raises the invalid-transition problem
    if action == "dismiss":
        if not reason:
            raise Problem(422, "了结须说明理由。", slug="reason-required")
        concluded_on = today_in_city()
        target = await _move(session, case, action, actor=actor, reason=reason, extra={
            "finding": "closed_without_filing", "outcome_summary": DISMISSED_OUTCOME,
            "finding_summary": reason, "concluded_on": concluded_on})
        await outbox.publish(session, CaseConcluded(
            case_id=case.id, case_number=case.case_number, clue_ids=await clue_ids_of(session, case.id),
            unit_id=case.unit_id, finding="closed_without_filing", outcome_summary=DISMISSED_OUTCOME,
            concluded_at=datetime.now(UTC), counts_against_unit=False))
        return target
    if action == "decide":
        await _ensure_decided_persons(session, case.id)
    if action == "close":
        await _ensure_closable(session, case)
        target = await _move(session, case, action, actor=actor, reason=reason)
        if case.serious:
            await _schedule_life_meeting(session, case)
        await outbox.publish(session, CaseClosed(
            case_id=case.id, case_number=case.case_number, clue_ids=await clue_ids_of(session, case.id),
            unit_id=case.unit_id, closed_at=datetime.now(UTC)))
        return target
    return await _move(session, case, action, actor=actor, reason=reason)


async def record_finding(
    session: AsyncSession, outbox: Outbox, *, case_id: uuid.UUID, finding: str, summary: str,
    outcome_summary: str, actor: Actor, concluded_on: date | None = None,
) -> str:
    """认定: 属实/部分属实 → substantiated, 不属实 → unfounded; tells the reporter (CaseConcluded)."""
    case = await get_case_row(session, case_id, lock=True)
    names = (await session.scalars(select(persons.c.name).where(persons.c.case_id == case_id))).all()
    if any(name and name in outcome_summary for name in names):
        raise Problem(422, "告知举报人的办理结果不得出现被处理人员的姓名。",
                      slug="outcome-names-person")
    concluded_on = concluded_on or today_in_city()
    target = await _move(session, case, domain.FINDING_ACTION[finding], actor=actor, reason=summary, extra={
        "finding": finding, "finding_summary": summary, "outcome_summary": outcome_summary,
        "concluded_on": concluded_on})
    await outbox.publish(session, CaseConcluded(
        case_id=case.id, case_number=case.case_number, clue_ids=await clue_ids_of(session, case.id),
        unit_id=case.unit_id, finding=finding, outcome_summary=outcome_summary, concluded_at=datetime.now(UTC),
        counts_against_unit=finding != "unfounded"))
    if case.must_investigate and finding != "unfounded":
        from .publishing import flag_award_ineligible

        await flag_award_ineligible(session, outbox, case_id=case.id, year=concluded_on.year)
    return target


async def _schedule_life_meeting(session: AsyncSession, case: Row) -> None:
    """A major case closed: the unit's party group holds a 专题民主生活会 within 30 days (003)."""
    due_on = today_in_city() + timedelta(days=domain.LIFE_MEETING_DAYS)
    await session.execute(pg_insert(follow_ups).values(case_id=case.id, unit_id=case.unit_id, due_on=due_on)
                          .on_conflict_do_nothing(index_elements=["case_id"]))


async def _ensure_decided_persons(session: AsyncSession, case_id: uuid.UUID) -> None:
    """A decision names at least one person with a measure or an exemption (处理决定)."""
    decided = await session.scalar(select(func.count()).select_from(persons).where(
        persons.c.case_id == case_id,
        select(measures.c.id).where(measures.c.person_id == persons.c.id).exists()
        | select(exemptions.c.id).where(exemptions.c.person_id == persons.c.id).exists(),
    ))
    if not decided:
        raise Problem(409, "作出处理决定前, 须至少对一名人员作出处理措施或容错免责。",
                      slug="decision-without-measures")


async def joint_examination(session: AsyncSession, case: Row) -> dict[str, Any]:
    """一案双查 status: which unit leaders are held responsible, cleared with a reason, or still missing."""
    held_rows = (await session.execute(
        select(persons.c.leader_role, persons.c.responsibility)
        .where(persons.c.case_id == case.id, persons.c.leader_role.is_not(None))
    )).all()
    held = {r.leader_role for r in held_rows if r.responsibility == domain.LEADER_RESPONSIBILITY[r.leader_role]}
    cleared = dict((await session.execute(
        select(leader_clearances.c.leader_role, leader_clearances.c.reason)
        .where(leader_clearances.c.case_id == case.id)
    )).all())
    unit = await get_unit(session, case.unit_id)
    return {
        "required": bool(case.serious or case.unit_problem),
        "principal_leader": unit.principal_leader if unit else None,
        "leader_in_charge": unit.leader_in_charge if unit else None,
        "held": sorted(held),
        "cleared": cleared,
        "missing": domain.joint_examination_gaps(
            serious=case.serious, unit_problem=case.unit_problem, leaders_held=held, leaders_cleared=set(cleared)),
    }


async def must_investigate_gap(session: AsyncSession, case: Row) -> str | None:
    counts = (await session.execute(select(
        func.count(),
        func.count().filter(select(measures.c.id).where(measures.c.person_id == persons.c.id).exists()),
        func.count().filter(select(exemptions.c.id).where(exemptions.c.person_id == persons.c.id,
                                                          exemptions.c.kind == "exempt").exists()),
    ).where(persons.c.case_id == case.id))).one()
    return domain.must_investigate_gap(must_investigate=case.must_investigate, finding=case.finding,
                                       persons_total=counts[0], persons_measured=counts[1],
                                       persons_exempted=counts[2])


async def _ensure_closable(session: AsyncSession, case: Row) -> None:
    gap = await must_investigate_gap(session, case)
    if gap:
        raise Problem(409, gap, slug="must-investigate-unaccountable")
    if case.finding in ("substantiated", "partly_substantiated"):
        status = await joint_examination(session, case)
        if status["missing"]:
            names = "、".join(domain.LEADER_ROLES[r] for r in status["missing"])
            raise Problem(
                409, f"一案双查: 结案前须认定{names}的责任, 或说明其不承担责任的理由。",
                slug="joint-examination-incomplete", missing=status["missing"])
    pending = await session.scalar(select(func.count()).select_from(rectifications).where(
        rectifications.c.case_id == case.id, rectifications.c.status != "signed_off"))
    if pending:
        raise Problem(409, f"还有{pending}项整改任务未销号。",
                      slug="rectification-pending", pending=pending)


async def clear_leader(
    session: AsyncSession, *, case_id: uuid.UUID, leader_role: str, reason: str, actor: Actor
) -> None:
    """一案双查: record why a unit leader bears no responsibility; 'collectively decided' is no reason."""
    if domain.is_collective_excuse(reason):
        raise Problem(422, "集体决策不能成为免责理由, 请说明该负责人本人不承担责任的理由。",
                      slug="collective-decision-no-excuse")
    case = await get_case_row(session, case_id, lock=True)
    if case.state in ("closed", "dismissed", "unfounded"):
        raise Problem(409, f"案件处于{domain.STATES[case.state]}, 不能进行一案双查认定。", slug="invalid-state")
    unit = await get_unit(session, case.unit_id)
    name = getattr(unit, leader_role, None) if unit else None
    await session.execute(
        pg_insert(leader_clearances)
        .values(case_id=case_id, leader_role=leader_role, leader_name=name, reason=reason,
                recorded_by=actor.subject if isinstance(actor, Principal) else actor)
        .on_conflict_do_update(index_elements=["case_id", "leader_role"],
                               set_={"reason": reason, "recorded_at": func.now()})
    )
    await audit.record(session, audit_log, actor=actor, action="case.leader-cleared", entity_type="case",
                       entity_id=str(case_id), details={"leader_role": leader_role, "reason": reason})


CASE_FILTERS = ("unit_id", "state", "region", "source", "campaign", "case_number", "lead_body",
                "must_investigate")


async def list_cases(
    session: AsyncSession, *, after: uuid.UUID | None, limit: int, scope_unit: str | None = None,
    filters: dict[str, Any] | None = None, tag: str | None = None, clue_id: uuid.UUID | None = None,
    decided_only: bool = False,
) -> list[Row]:
    """Cases in id order; ``scope_unit`` (a unit handler's own unit) always narrows, the filters are asked for."""
    query = select(cases).order_by(cases.c.id).limit(limit)
    if decided_only:  # the scope rule of services/common/scope.py, as SQL
        query = query.where(or_(cases.c.state.in_(DECIDED_STATES), and_(
            cases.c.state == "closed", cases.c.finding.in_(DECIDED_FINDINGS))))
    if after is not None:
        query = query.where(cases.c.id > after)
    if scope_unit is not None:
        query = query.where(cases.c.unit_id == scope_unit)
    for name, value in (filters or {}).items():
        if value is not None:
            query = query.where(cases.c[name] == value)
    if tag is not None:
        query = query.where(cases.c.tags.contains([tag]))
    if clue_id is not None:
        query = query.where(cases.c.id.in_(select(case_clues.c.case_id).where(case_clues.c.clue_id == clue_id)))
    return list((await session.execute(query)).all())


async def clue_ids_by_case(session: AsyncSession, case_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    result: dict[uuid.UUID, list[uuid.UUID]] = {c: [] for c in case_ids}
    if case_ids:
        rows = await session.execute(
            select(case_clues.c.case_id, case_clues.c.clue_id).where(case_clues.c.case_id.in_(case_ids))
            .order_by(case_clues.c.attached_at))
        for case_id, clue_id in rows:
            result[case_id].append(clue_id)
    return result
