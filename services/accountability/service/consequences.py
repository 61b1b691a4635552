"""Events from other services: the unit directory read model and evaluation consequences (R-EV-5)."""

from __future__ import annotations

from sqlalchemy import Row, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.evaluation import ResultsPublished
from services.common.contracts.triage import UnitUpserted
from services.common.outbox import Outbox

from .. import domain
from ..models import cases, persons, units
from .cases import _move, get_case_row, get_unit, open_case, today_in_city
from .persons import add_person, record_measure

ACTOR = "evaluation"


async def upsert_unit(session: AsyncSession, event: UnitUpserted) -> None:
    values = event.model_dump(include={"name", "level", "parent_id", "region", "category", "principal_leader",
                                       "leader_in_charge", "key_section", "active"})
    await session.execute(
        pg_insert(units).values(unit_id=event.unit_id, **values)
        .on_conflict_do_update(index_elements=["unit_id"], set_={**values, "updated_at": func.now()}))
    # A clue may outrun the directory: cases opened before the unit was known get its name and region now.
    await session.execute(update(cases).where(cases.c.unit_id == event.unit_id, cases.c.unit_name.is_(None))
                          .values(unit_name=event.name, region=func.coalesce(cases.c.region, event.region)))


async def apply_evaluation_results(session: AsyncSession, outbox: Outbox, event: ResultsPublished) -> int:
    """Each consequence becomes one case, keyed by campaign, kind and unit so a replay adds nothing.

    Yellow card and recall are decided by the evaluation itself (考核结果运用): the case is opened already
    substantiated with the measure on the principal leader. Last-ranked units and bottom-three sections
    open a case in 初核 with the leaders to examine. Exemplars (树标杆) are not accountability matters."""
    opened = 0
    for consequence in event.consequences:
        if consequence.kind not in domain.CONSEQUENCES:
            continue
        about, measure, roles = domain.CONSEQUENCES[consequence.kind]
        unit = await get_unit(session, consequence.unit_id)
        case_id = await open_case(
            session, outbox, actor=ACTOR, source="evaluation",
            origin_key=f"evaluation:{event.campaign_id}:{consequence.kind}:{consequence.unit_id}",
            title=f"{event.name} {consequence.unit_name}: {about}", summary=consequence.reason,
            unit_id=consequence.unit_id, unit_problem=consequence.kind == "last_ranked_unit",
        )
        if case_id is None:
            continue
        opened += 1
        for role in roles:
            name = getattr(unit, role, None) if unit else None
            await add_person(
                session, case_id=case_id, actor=ACTOR,
                name=name or f"{consequence.unit_name}{domain.LEADER_ROLES[role]}", post=domain.LEADER_ROLES[role],
                unit_id=consequence.unit_id, rank=None, party_member=False,
                responsibility=domain.LEADER_RESPONSIBILITY[role], leader_role=role,
            )
        if measure is None:
            continue
        case = await get_case_row(session, case_id, lock=True)
        case = await _file_and_substantiate(session, case, consequence.reason)
        person_id = await session.scalar(select(persons.c.id).where(persons.c.case_id == case_id))
        await record_measure(session, case_id=case_id, person_id=person_id, code=measure,
                             transferred_for_prosecution=False, note=consequence.reason, actor=ACTOR)
        await _move(session, case, "decide", actor=ACTOR, reason=consequence.reason)
    return opened


async def _file_and_substantiate(session: AsyncSession, case: Row, reason: str) -> Row:
    await _move(session, case, "file", actor=ACTOR, reason=reason)
    case = await get_case_row(session, case.id, lock=True)
    await _move(session, case, "substantiate", actor=ACTOR, reason=reason)
    await session.execute(update(cases).where(cases.c.id == case.id).values(
        finding="substantiated", finding_summary=reason, concluded_on=today_in_city(),
        outcome_summary="依据测评结果作出处理。"))
    return await get_case_row(session, case.id, lock=True)
