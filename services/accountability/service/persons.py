"""Persons held to account (被问责人员), their measures (处理措施) and 容错免责 exemptions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Principal
from services.common.competence import bodies_of
from services.common.contracts.accountability import BenchmarkCasePublished
from services.common.errors import Problem
from services.common.ids import new_id
from services.common.outbox import Outbox

from .. import domain
from ..models import audit_log, exemptions, measures, persons
from .cases import Actor, get_case_row, get_unit

# Persons can be recorded while the facts are checked; measures and exemptions once substantiated. Both
# stay open until closing, because 一案双查 may bring leaders into a case after the first decision.
PERSON_STATES = frozenset({"preliminary_check", "filed", "substantiated", "decided", "rectifying"})
MEASURE_STATES = frozenset({"substantiated", "decided", "rectifying"})


async def add_person(
    session: AsyncSession, *, case_id: uuid.UUID, actor: Actor, name: str | None, post: str | None,
    unit_id: str | None, rank: str | None, party_member: bool, responsibility: str | None,
    leader_role: str | None, management: str | None = None,
) -> uuid.UUID:
    """Record a person; a unit leader (一案双查) may be named from the unit directory read model."""
    case = await get_case_row(session, case_id, lock=True)
    if case.state not in PERSON_STATES:
        raise Problem(409, f"案件当前为{domain.STATES[case.state]}, 不能再记录人员。",
                      slug="invalid-state", state=case.state)
    unit_id = unit_id or case.unit_id
    unit = await get_unit(session, unit_id)
    if leader_role and responsibility and responsibility != domain.LEADER_RESPONSIBILITY[leader_role]:
        expected = domain.RESPONSIBILITIES[domain.LEADER_RESPONSIBILITY[leader_role]]
        raise Problem(422, f"一案双查中{domain.LEADER_ROLES[leader_role]}承担的是{expected}。",
                      slug="leader-responsibility-mismatch")
    if name is None and leader_role and unit is not None:
        name = getattr(unit, leader_role)
    if not name:
        raise Problem(422, "请填写人员姓名 (单位名录中没有该职位的负责人)。",
                      slug="name-required")
    person_id = new_id()
    await session.execute(persons.insert().values(
        id=person_id, case_id=case_id, name=name,
        post=post or (domain.LEADER_ROLES[leader_role] if leader_role else None),
        unit_id=unit_id, unit_name=unit.name if unit else case.unit_name, rank=rank, party_member=party_member,
        responsibility=responsibility, leader_role=leader_role, management=management,
    ))
    # Names stay out of the audit details: the entity id is enough to trace, and the log is long-lived.
    await audit.record(session, audit_log, actor=actor, action="person.added", entity_type="person",
                       entity_id=str(person_id), details={"case_id": str(case_id), "leader_role": leader_role})
    return person_id


async def _person(session: AsyncSession, case_id: uuid.UUID, person_id: uuid.UUID) -> Row:
    row = (await session.execute(
        select(persons).where(persons.c.id == person_id, persons.c.case_id == case_id))).first()
    if row is None:
        raise Problem(404, "该案件中没有这名人员。", slug="person-not-found")
    return row


async def update_person(
    session: AsyncSession, *, case_id: uuid.UUID, person_id: uuid.UUID, changes: dict, actor: Actor
) -> None:
    case = await get_case_row(session, case_id, lock=True)
    if case.state not in PERSON_STATES:
        raise Problem(409, f"案件当前为{domain.STATES[case.state]}, 人员信息不能再修改。", slug="invalid-state")
    person = await _person(session, case_id, person_id)
    if changes.get("party_member") is False:
        held = await session.scalar(select(measures.c.id).where(
            measures.c.person_id == person_id, measures.c.family == "party_discipline").limit(1))
        if held:
            raise Problem(409, "该人员已受党纪处分, 不能改为非党员。",
                          slug="party-sanction-for-non-member")
    responsibility = changes.get("responsibility")
    if responsibility and person.leader_role and responsibility != domain.LEADER_RESPONSIBILITY[person.leader_role]:
        raise Problem(422, "一案双查中的负责人承担的是领导责任。",
                      slug="leader-responsibility-mismatch")
    if changes:
        await session.execute(update(persons).where(persons.c.id == person_id).values(**changes))
        await audit.record(session, audit_log, actor=actor, action="person.updated", entity_type="person",
                           entity_id=str(person_id), details={k: v for k, v in changes.items()})


async def record_measure(
    session: AsyncSession, *, case_id: uuid.UUID, person_id: uuid.UUID, code: str,
    transferred_for_prosecution: bool, note: str | None, actor: Actor,
) -> uuid.UUID:
    """Record a measure after checking the combination rules (e.g. no party sanction for a non-member)."""
    case = await get_case_row(session, case_id, lock=True)
    if case.state not in MEASURE_STATES:
        raise Problem(409, f"处理措施须在认定属实(或部分属实)之后作出; 案件当前为{domain.STATES[case.state]}。",
                      slug="invalid-state", state=case.state)
    person = await _person(session, case_id, person_id)
    existing = list((await session.scalars(select(measures.c.code).where(measures.c.person_id == person_id))).all())
    exemption_kind = await session.scalar(select(exemptions.c.kind).where(exemptions.c.person_id == person_id))
    # Who decides: a system actor (the import, which carries its importer's decisions) is not a body.
    refusal = domain.deciding_body_refusal(code, bodies_of(actor) if isinstance(actor, Principal) else None) \
        or domain.check_measure(code, party_member=person.party_member, existing_codes=existing,
                                exempted=exemption_kind == "exempt")
    if refusal is not None:  # the wrong body is a matter of power (403), the rest of content (422)
        raise Problem(403 if refusal.slug == "not-competent-body" else 422, refusal.detail, slug=refusal.slug)
    kind = domain.MEASURES_BY_CODE[code]
    measure_id = new_id()
    form = domain.measure_form(code, transferred_for_prosecution=transferred_for_prosecution)
    await session.execute(measures.insert().values(
        id=measure_id, case_id=case_id, person_id=person_id, family=kind.family, code=code, form=form,
        transferred_for_prosecution=transferred_for_prosecution, note=note))
    await audit.record(session, audit_log, actor=actor, action="measure.recorded", entity_type="person",
                       entity_id=str(person_id), details={"case_id": str(case_id), "code": code, "form": form})
    return measure_id


async def record_exemption(
    session: AsyncSession, outbox: Outbox, *, case_id: uuid.UUID, person_id: uuid.UUID, kind: str,
    criteria: dict[str, bool], reasons: str, benchmark: bool, benchmark_title: str | None,
    benchmark_summary: str | None, actor: Actor, basis: str = "reform",
) -> uuid.UUID:
    """容错免责 on one of two bases: Wenzhou's reform path (the precondition 改革创新未能实现预期目标 and the
    three conditions) or 轻微责任豁免; with reasons; optionally a 标杆案例 for triage."""
    case = await get_case_row(session, case_id, lock=True)
    if case.state not in MEASURE_STATES:
        raise Problem(409, f"容错免责须在认定属实之后; 案件当前为{domain.STATES[case.state]}。",
                      slug="invalid-state", state=case.state)
    await _person(session, case_id, person_id)
    unknown = sorted(set(criteria) - domain.known_exemption_criteria())
    if unknown:
        raise Problem(422, f"未知的容错条件: {', '.join(unknown)}。", slug="unknown-criteria", unknown=unknown)
    unmet = domain.unmet_exemption_criteria(criteria, basis)
    if unmet:
        names = "; ".join(domain.criterion_name(c) for c in unmet)
        raise Problem(422, f"{domain.EXEMPTION_BASES[basis]}须同时具备全部条件, 以下条件不具备: {names}。",
                      slug="exemption-criteria-unmet", unmet=unmet)
    if kind == "exempt" and await session.scalar(
            select(measures.c.id).where(measures.c.person_id == person_id).limit(1)):
        raise Problem(409, "该人员已有处理措施, 不能免责; 可记录从轻或减轻处理。",
                      slug="exemption-after-measures")
    if await session.scalar(select(exemptions.c.id).where(exemptions.c.person_id == person_id)):
        raise Problem(409, "该人员已有容错免责记录。", slug="exemption-exists")
    exemption_id = new_id()
    await session.execute(exemptions.insert().values(
        id=exemption_id, case_id=case_id, person_id=person_id, kind=kind, criteria=criteria, reasons=reasons,
        benchmark=benchmark, basis=basis))
    await audit.record(session, audit_log, actor=actor, action="exemption.recorded", entity_type="person",
                       entity_id=str(person_id), details={"case_id": str(case_id), "kind": kind, "basis": basis,
                                                          "criteria": criteria, "benchmark": benchmark})
    if benchmark:
        # The precedent carries the facts and the reasons, never the person's name.
        await publish_benchmark(session, outbox, case=case, title=benchmark_title or f"容错免责案例 {case.case_number}",
                                summary=benchmark_summary or reasons,
                                tags=[domain.EXEMPTION_BASES[basis],
                                      *[domain.criterion_name(c) for c in domain.required_exemption_criteria(basis)]])
    return exemption_id


async def publish_benchmark(session: AsyncSession, outbox: Outbox, *, case: Row, title: str, summary: str,
                            tags: list[str]) -> None:
    """标杆案例 (R-TR-7): any resolved case may become triage's precedent; facts and reasons, no names."""
    await outbox.publish(session, BenchmarkCasePublished(
        case_id=case.id, title=title, summary=summary, problem_type=case.problem_type,
        tags=[*tags, *[domain.TAG_NAMES.get(t, t) for t in case.tags]], published_at=datetime.now(UTC)))


async def persons_of(session: AsyncSession, case_id: uuid.UUID) -> list[dict]:
    person_rows = (await session.execute(
        select(persons).where(persons.c.case_id == case_id).order_by(persons.c.created_at, persons.c.id))).all()
    measure_rows = (await session.execute(
        select(measures).where(measures.c.case_id == case_id).order_by(measures.c.created_at))).all()
    exemption_rows = (await session.execute(select(exemptions).where(exemptions.c.case_id == case_id))).all()
    by_person: dict[uuid.UUID, dict] = {}
    for p in person_rows:
        by_person[p.id] = {**p._mapping, "measures": [], "exemption": None}
    for m in measure_rows:
        by_person[m.person_id]["measures"].append({**m._mapping, "name": domain.MEASURES_BY_CODE[m.code].name})
    for e in exemption_rows:
        by_person[e.person_id]["exemption"] = dict(e._mapping)
    return list(by_person.values())


async def person_read(session: AsyncSession, case_id: uuid.UUID, person_id: uuid.UUID) -> dict:
    """The person as created or changed, with its measures and exemption."""
    return next(p for p in await persons_of(session, case_id) if p["id"] == person_id)


async def measure_read(session: AsyncSession, measure_id: uuid.UUID) -> dict:
    row = (await session.execute(select(measures).where(measures.c.id == measure_id))).one()
    return {**row._mapping, "name": domain.MEASURES_BY_CODE[row.code].name}
