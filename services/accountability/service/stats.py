"""Bulletin statistics (R-AC-7), counted as the seeds count them.

- problems (查处问题): cases found 属实 or 部分属实, dated by the finding (``concluded_on``);
- persons (处理人数): distinct persons held accountable in those cases (a responsibility or a measure
  recorded, not exempted by 容错免责), one person being a name within a unit;
- disciplined (给予党政纪处分): of them, those with a party-discipline or government sanction;
- organizational handling (组织处理): those with an organizational-handling measure — 停职检查, 调整岗位, 降职,
  免职, 责令辞职, 黄牌警告, 召回管理. The light and early measures (提醒谈话, 函询, 约谈, 批评教育, 书面检查,
  通报批评, 诫勉) are their own family, ``education``, counted apart: counting them as 组织处理 would break
  Datong's 95 + 189 of 704 (R-AC-11);
- education (提醒教育): those with a light measure;
- origin: only cases of that origin (evaluation-origin cases are counted apart, R-AC-11);
- county level (县处级): those of rank 县处级;
- by form (四种形态): person-times at the heaviest form each person received in a case;
- by type / family: problems per problem type (13 types) and family (不作为/慢作为/乱作为).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import and_, distinct, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import cases, exemptions, measures, persons


async def compute_stats(
    session: AsyncSession, *, since: date | None, until: date | None, region: str | None, rank: str | None,
    origin: str | None = None,
) -> dict:
    case_filter = [cases.c.finding.in_(("substantiated", "partly_substantiated"))]
    if since is not None:
        case_filter.append(cases.c.concluded_on >= since)
    if until is not None:
        case_filter.append(cases.c.concluded_on <= until)
    if region is not None:
        case_filter.append(cases.c.region == region)
    if origin is not None:
        case_filter.append(cases.c.source == origin)
    has_measure = select(measures.c.id).where(measures.c.person_id == persons.c.id).exists()
    exempted = select(exemptions.c.id).where(
        exemptions.c.person_id == persons.c.id, exemptions.c.kind == "exempt").exists()
    held_filter = [*case_filter, ~exempted, (persons.c.responsibility.is_not(None) | has_measure)]
    if rank is not None:
        held_filter.append(persons.c.rank == rank)
    held = (
        select(persons.c.id, persons.c.case_id, persons.c.rank,
               func.concat(persons.c.name, literal("|"), func.coalesce(persons.c.unit_id, "")).label("who"))
        .join(cases, cases.c.id == persons.c.case_id).where(and_(*held_filter)).cte("held")
    )

    def with_family(*families: str):
        return select(func.count(distinct(held.c.who))).where(
            select(measures.c.id).where(measures.c.person_id == held.c.id, measures.c.family.in_(families)).exists())

    persons_count = await session.scalar(select(func.count(distinct(held.c.who))))
    disciplined = await session.scalar(with_family("party_discipline", "government_sanction"))
    organizational = await session.scalar(with_family("organizational_handling"))
    education = await session.scalar(with_family("education"))
    county = await session.scalar(select(func.count(distinct(held.c.who))).where(held.c.rank == "county"))

    heaviest = (select(func.max(measures.c.form).label("form")).join(held, held.c.id == measures.c.person_id)
                .group_by(held.c.id).subquery())
    by_form = dict((await session.execute(
        select(heaviest.c.form, func.count()).group_by(heaviest.c.form))).all())

    problem_cases = select(cases.c.id, cases.c.problem_type, cases.c.problem_family).where(and_(*case_filter))
    if rank is not None:
        problem_cases = problem_cases.where(select(held.c.id).where(held.c.case_id == cases.c.id).exists())
    problem_cases = problem_cases.subquery()
    problems = await session.scalar(select(func.count()).select_from(problem_cases))

    async def counted_by(column) -> list:
        key = func.coalesce(column, "unclassified").label("key")
        return (await session.execute(
            select(key, func.count().label("n")).group_by(key).order_by(func.count().desc(), key))).all()

    by_type = await counted_by(problem_cases.c.problem_type)
    by_family = await counted_by(problem_cases.c.problem_family)
    return {
        "period_from": since, "period_to": until, "region": region, "rank": rank, "origin": origin,
        "problems": problems or 0,
        "persons": persons_count or 0,
        "disciplined": disciplined or 0,
        "organizational_handling": organizational or 0,
        "education": education or 0,
        "county_level": county or 0,
        "by_form": [{"key": str(form), "count": by_form.get(form, 0)} for form in (1, 2, 3, 4)],
        "by_type": [{"key": k, "count": n} for k, n in by_type],
        "by_family": [{"key": k, "count": n} for k, n in by_family],
    }
