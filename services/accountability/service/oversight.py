"""What the commission watches over its own cases (R-AC-12): 快查快结 ageing, the monthly 四风 report to the
higher commission, 专题民主生活会 follow-ups, 诬告陷害 referrals and 标杆案例 from any resolved case."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlalchemy import Date, Row, and_, distinct, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.errors import Problem
from services.common.outbox import Outbox

from .. import domain
from ..models import audit_log, cases, follow_ups, measures, persons
from .cases import SHANGHAI, Actor, get_case_row, open_case, today_in_city
from .persons import publish_benchmark

# No finding yet: the 快查快结 clock is still running.
UNFOUND_STATES = ("preliminary_check", "filed")
REPORTED_TAGS = sorted(domain.FOUR_WINDS_TAGS | domain.EIGHT_RULES_TAGS)


async def ageing(session: AsyncSession, *, lead_body: str | None, limit: int, as_of: date | None = None) -> dict:
    """Open cases without a finding, the most overdue first, and how many fall in each bucket."""
    as_of = as_of or today_in_city()
    days_over = (literal(as_of, Date) - cases.c.due_on).label("days_over")
    where = [cases.c.state.in_(UNFOUND_STATES), cases.c.due_on.is_not(None)]
    if lead_body is not None:
        where.append(cases.c.lead_body == lead_body)
    rows = (await session.execute(
        select(cases.c.id, cases.c.case_number, cases.c.state, cases.c.lead_body, cases.c.unit_name,
               cases.c.opened_at, cases.c.due_on, days_over)
        .where(and_(*where)).order_by(days_over.desc(), cases.c.id).limit(limit))).all()
    all_days = (await session.scalars(select(days_over).where(and_(*where)))).all()
    counts = {code: 0 for code, _n, _u in domain.AGEING_BUCKETS}
    for days in all_days:
        counts[domain.ageing_bucket(days)] += 1
    return {
        "as_of": as_of,
        "buckets": [{"key": code, "count": n} for code, n in counts.items()],
        "items": [{**r._mapping, "bucket": domain.ageing_bucket(r.days_over)} for r in rows],
    }


def _month_bounds(month: str) -> tuple[date, date]:
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError as exc:
        raise Problem(422, "月份格式为 YYYY-MM。", slug="bad-month") from exc
    return first, date(first.year + first.month // 12, first.month % 12 + 1, 1)


async def four_winds_report(session: AsyncSession, *, month: str) -> dict:
    """Cases tagged 四风 or 八项规定: opened in the month (and of them filed), found (部分)属实 in the month,
    and the persons held to account in those found."""
    first, following = _month_bounds(month)
    tagged = cases.c.tags.overlap(REPORTED_TAGS)
    start, end = (datetime.combine(d, time(), SHANGHAI) for d in (first, following))
    opened = await session.scalar(select(func.count()).where(
        tagged, cases.c.opened_at >= start, cases.c.opened_at < end))
    # Of the cases opened in the month, those filed (立案) since: past 初核 and not closed without filing.
    filed = await session.scalar(select(func.count()).where(
        tagged, cases.c.opened_at >= start, cases.c.opened_at < end,
        cases.c.state.not_in(("preliminary_check", "dismissed")),
        cases.c.finding.is_distinct_from("closed_without_filing")))
    found = and_(tagged, cases.c.finding.in_(("substantiated", "partly_substantiated")),
                 cases.c.concluded_on >= first, cases.c.concluded_on < following)
    substantiated = await session.scalar(select(func.count()).where(found))
    handled = select(persons.c.id).join(cases, cases.c.id == persons.c.case_id).where(
        found, persons.c.responsibility.is_not(None) | select(measures.c.id).where(
            measures.c.person_id == persons.c.id).exists())
    persons_handled = await session.scalar(select(func.count()).select_from(handled.subquery()))
    disciplined = await session.scalar(select(func.count(distinct(measures.c.person_id))).where(
        measures.c.person_id.in_(handled), measures.c.family.in_(("party_discipline", "government_sanction"))))
    tag = func.unnest(cases.c.tags).label("tag")
    per_tag = select(cases.c.id, tag).where(found).subquery()
    by_tag = (await session.execute(
        select(per_tag.c.tag, func.count()).where(per_tag.c.tag.in_(REPORTED_TAGS))
        .group_by(per_tag.c.tag).order_by(func.count().desc(), per_tag.c.tag))).all()
    return {"month": month, "opened": opened or 0, "filed": filed or 0, "substantiated": substantiated or 0,
            "persons_handled": persons_handled or 0, "disciplined": disciplined or 0,
            "by_tag": [{"key": domain.TAG_NAMES.get(t, t), "count": n} for t, n in by_tag]}


async def list_follow_ups(session: AsyncSession, *, status: str | None, overdue_only: bool) -> list[dict]:
    today = today_in_city()
    query = (select(follow_ups, cases.c.case_number).join(cases, cases.c.id == follow_ups.c.case_id)
             .order_by(follow_ups.c.due_on, follow_ups.c.case_id).limit(500))
    if status is not None:
        query = query.where(follow_ups.c.status == status)
    if overdue_only:
        query = query.where(follow_ups.c.status == "open", follow_ups.c.due_on < today)
    return [{**r._mapping, "overdue": r.status == "open" and r.due_on < today}
            for r in (await session.execute(query)).all()]


async def record_life_meeting(session: AsyncSession, *, case_id: uuid.UUID, held_on: date, minutes: str,
                              actor: Actor) -> dict:
    row = (await session.execute(select(follow_ups).where(follow_ups.c.case_id == case_id))).first()
    if row is None:
        raise Problem(404, "该案件没有待召开的专题民主生活会。", slug="follow-up-not-found")
    await session.execute(update(follow_ups).where(follow_ups.c.case_id == case_id).values(
        status="done", held_on=held_on, minutes=minutes,
        recorded_by=actor.subject if hasattr(actor, "subject") else actor))
    await audit.record(session, audit_log, actor=actor, action="case.life-meeting-held", entity_type="case",
                       entity_id=str(case_id), details={"held_on": held_on.isoformat()})
    return next(f for f in await list_follow_ups(session, status=None, overdue_only=False) if f["case_id"] == case_id)


async def refer_false_accusation(session: AsyncSession, outbox: Outbox, *, case_id: uuid.UUID, reason: str,
                                 actor: Actor) -> uuid.UUID:
    """诬告陷害: an unfounded complaint referred to the commission as a case of its own (004 #14)."""
    case = await get_case_row(session, case_id, lock=True)
    if case.finding != "unfounded":
        raise Problem(409, "只有认定不属实的案件才能以涉嫌诬告陷害移送。", slug="not-unfounded")
    if case.referral:
        raise Problem(409, "该案件已移送。", slug="already-referred")
    await session.execute(update(cases).where(cases.c.id == case_id).values(
        referral="false_accusation", referral_reason=reason))
    referred = await open_case(
        session, outbox, actor=actor, source="officer", lead_body="commission",
        title=f"涉嫌诬告陷害 (源于 {case.case_number})", summary=reason, origin_key=f"referral:{case_id}")
    await audit.record(session, audit_log, actor=actor, action="case.referred", entity_type="case",
                       entity_id=str(case_id), details={"kind": "false_accusation", "case_id": str(referred)})
    return referred


BENCHMARK_STATES = frozenset({"decided", "rectifying", "closed", "unfounded", "dismissed"})


async def offer_benchmark(session: AsyncSession, outbox: Outbox, *, case_id: uuid.UUID, title: str,
                          summary: str, actor: Actor) -> Row:
    """Any resolved case (decided, cleared, dismissed or closed) may become a 标杆案例 for triage."""
    case = await get_case_row(session, case_id)
    if case.state not in BENCHMARK_STATES:
        raise Problem(409, f"案件办结(作出处理决定或认定)后才能作为标杆案例; 当前为{domain.STATES[case.state]}。",
                      slug="not-resolved", state=case.state)
    await publish_benchmark(session, outbox, case=case, title=title, summary=summary,
                            tags=[domain.FINDINGS.get(case.finding or "", "已办结")])
    await audit.record(session, audit_log, actor=actor, action="case.benchmark", entity_type="case",
                       entity_id=str(case_id), details={"title": title})
    return case
