"""Publication: typical cases (点名道姓通报曝光), clarifications (澄清正名), 取消评先评优."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.contracts.accountability import TypicalCasePublished, UnitAwardIneligible
from services.common.errors import Problem
from services.common.ids import new_id
from services.common.outbox import Outbox

from .. import domain
from ..models import audit_log, award_ineligibility, cases, typical_cases
from .cases import SHANGHAI, Actor, get_case_row, today_in_city

# A typical case is published once the facts are found and decided on; a clarification once cleared.
TYPICAL_STATES = frozenset({"decided", "rectifying", "closed"})
CLARIFICATION_STATES = frozenset({"unfounded", "closed"})


async def publish_case(
    session: AsyncSession, outbox: Outbox, *, case_id: uuid.UUID, kind: str, title: str, body: str,
    scope: str, actor: Actor,
) -> uuid.UUID:
    """Publish a typical case (names as decided, in ``body``) or a clarification for the accused."""
    case = await get_case_row(session, case_id)
    if kind == "typical":
        if case.state not in TYPICAL_STATES or case.finding not in ("substantiated", "partly_substantiated"):
            raise Problem(409, "只有认定属实并作出处理决定的案件才能作为典型案例通报。",
                          slug="not-publishable", state=case.state, finding=case.finding)
    elif case.finding != "unfounded" or case.state not in CLARIFICATION_STATES:
        raise Problem(409, "澄清正名须在认定不属实之后。",
                      slug="not-unfounded", finding=case.finding)
    publication_id = new_id()
    published_at = datetime.now(UTC)
    await session.execute(typical_cases.insert().values(
        id=publication_id, case_id=case_id, kind=kind, title=title, body=body, scope=scope,
        unit_id=case.unit_id, problem_type=case.problem_type, published_at=published_at))
    await audit.record(session, audit_log, actor=actor, action=f"case.published.{kind}", entity_type="case",
                       entity_id=str(case_id), details={"scope": scope, "publication_id": str(publication_id)})
    await outbox.publish(session, TypicalCasePublished(
        case_id=case_id, kind=kind, title=title, body=body, scope=scope, unit_id=case.unit_id,
        problem_type=case.problem_type, published_at=published_at))
    return publication_id


async def list_publications(
    session: AsyncSession, *, after: uuid.UUID | None, limit: int, kind: str | None = None,
    scope: str | None = None, unit_id: str | None = None, since: date | None = None, until: date | None = None,
    publication_id: uuid.UUID | None = None,
) -> list[dict]:
    query = (select(typical_cases, cases.c.case_number).join(cases, cases.c.id == typical_cases.c.case_id)
             .order_by(typical_cases.c.id).limit(limit))
    if after is not None:
        query = query.where(typical_cases.c.id > after)
    if publication_id is not None:
        query = query.where(typical_cases.c.id == publication_id)
    if kind is not None:
        query = query.where(typical_cases.c.kind == kind)
    if scope is not None:
        query = query.where(typical_cases.c.scope == scope)
    if unit_id is not None:
        query = query.where(typical_cases.c.unit_id == unit_id)
    if since is not None:
        query = query.where(typical_cases.c.published_at >= datetime.combine(since, time(), SHANGHAI))
    if until is not None:
        query = query.where(typical_cases.c.published_at < datetime.combine(until, time(), SHANGHAI))
    return [dict(r._mapping) for r in (await session.execute(query)).all()]


async def flag_award_ineligible(
    session: AsyncSession, outbox: Outbox, *, case_id: uuid.UUID, year: int | None = None
) -> bool:
    """R-AC-9: a 五必查 matter substantiated → 责任单位取消年度综合类评先评优资格, once per unit and year.

    Its own rule: the flag names the case and the rule, and nothing here vetoes or recalls anyone."""
    case = await get_case_row(session, case_id)
    if not case.unit_id:
        return False
    year = year or (case.concluded_on or today_in_city()).year
    inserted = await session.scalar(
        pg_insert(award_ineligibility).values(unit_id=case.unit_id, year=year, case_id=case_id,
                                              rule="must_investigate")
        .on_conflict_do_nothing(index_elements=["unit_id", "year"]).returning(award_ineligibility.c.unit_id))
    if inserted is None:
        return False
    reason = f"{case.case_number}: " + domain.MUST_INVESTIGATE_AWARD_REASON.format(year=year)
    await audit.record(session, audit_log, actor="accountability", action="unit.award-ineligible",
                       entity_type="unit", entity_id=case.unit_id,
                       details={"year": year, "case_id": str(case_id), "rule": "must_investigate"})
    await outbox.publish(session, UnitAwardIneligible(unit_id=case.unit_id, year=year, case_id=case_id,
                                                      reason=reason, rule="must_investigate"))
    return True
