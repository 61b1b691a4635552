"""Accountability's HTTP routes: parse, authorise, call ``service``, shape the response."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal, require_roles
from services.common.db import SessionDep
from services.common.errors import Problem
from services.common.scope import scope_of

from . import domain
from .schemas import (
    CaseCreate,
    CaseDetail,
    CaseForUnit,
    CaseList,
    CaseRead,
    CaseUpdate,
    ClueAttach,
    UnitCaseList,
    TransitionCreate,
    EvidenceCreate,
    ExemptionCreate,
    FindingCreate,
    LeaderClearanceCreate,
    LookBackCreate,
    MeasureCreate,
    MonthlyBulletin,
    PersonCreate,
    PersonUpdate,
    PublicationCreate,
    RectificationCreate,
    RectificationList,
    RectificationRead,
    Stats,
    TypicalCaseList,
    TypicalCaseRead,
)
from .service import cases, ledger, persons, publishing, stats

router = APIRouter(prefix="/api/v1/accountability", tags=["accountability"])

Officer = Annotated[Principal, require_roles("investigator", "org_officer")]
Reader = Annotated[Principal, require_roles("investigator", "org_officer", "auditor", "unit_handler")]
UnitOrOfficer = Annotated[Principal, require_roles("investigator", "org_officer", "unit_handler")]
Limit = Annotated[int, Query(ge=1, le=500)]


def own_unit(principal: Principal) -> str | None:
    """The unit a unit handler is bound to (its lists are filtered to it); None for other staff."""
    return scope_of(principal).unit_id


async def visible_case(session: AsyncSession, case_id: uuid.UUID, principal: Principal):
    """The case if the caller may see it: a unit handler only its unit's, and only once decided."""
    case = await cases.get_case_row(session, case_id)
    scope = scope_of(principal)
    scope.require(scope.sees_case(case.unit_id, state=case.state, finding=case.finding), "案件")
    return case


async def case_detail(session: AsyncSession, case_id: uuid.UUID, principal: Principal) -> CaseDetail | CaseForUnit:
    case = await visible_case(session, case_id, principal)
    if scope_of(principal).unit_bound:
        return CaseForUnit.model_validate(case._mapping)
    return CaseDetail(
        **case._mapping,
        allowed_actions=domain.allowed_actions(case.state),
        clue_ids=await cases.clue_ids_of(session, case_id),
        persons=await persons.persons_of(session, case_id),
        joint_examination=await cases.joint_examination(session, case),
    )


@router.get("/enumerations")
async def get_enumerations(principal: Reader) -> dict:
    """States, transitions, measures with family and 四种形态 form, ranks, criteria, scopes."""
    return domain.enumerations()


@router.get("/cases", response_model=CaseList | UnitCaseList)
async def get_cases(
    session: SessionDep, principal: Reader, cursor: uuid.UUID | None = None, limit: Limit = 100,
    state: str | None = None, region: str | None = None,
) -> CaseList | UnitCaseList:
    """Cases; a unit handler sees its own unit's decided cases only, as their decision."""
    unit = own_unit(principal)
    rows = await cases.list_cases(session, after=cursor, limit=limit, unit_id=unit, state=state,
                                  region=region, decided_only=unit is not None)
    if unit is not None:
        return UnitCaseList(items=[CaseForUnit.model_validate(r._mapping) for r in rows],
                            next_cursor=str(rows[-1].id) if len(rows) == limit else None)
    clues = await cases.clue_ids_by_case(session, [r.id for r in rows])
    items = [CaseRead(**r._mapping, allowed_actions=domain.allowed_actions(r.state), clue_ids=clues[r.id])
             for r in rows]
    return CaseList(items=items, next_cursor=str(rows[-1].id) if len(rows) == limit else None)


@router.post("/cases", response_model=CaseDetail, status_code=201)
async def post_case(body: CaseCreate, request: Request, session: SessionDep, principal: Officer) -> CaseDetail:
    """An investigator opens a case (初核), optionally gathering clues already received."""
    for clue_id in body.clue_ids:
        if await cases.clue_owner(session, clue_id):
            raise Problem(409, "A clue already belongs to another case.", slug="clue-in-another-case")
    case_id = await cases.open_case(
        session, request.app.state.outbox, actor=principal, source="investigator",
        **body.model_dump(exclude={"clue_ids"}), clues=[{"clue_id": c} for c in body.clue_ids])
    return await case_detail(session, case_id, principal)


@router.get("/cases/{case_id}", response_model=CaseDetail | CaseForUnit)
async def get_case(case_id: uuid.UUID, session: SessionDep, principal: Reader) -> CaseDetail | CaseForUnit:
    return await case_detail(session, case_id, principal)


@router.patch("/cases/{case_id}", response_model=CaseDetail)
async def patch_case(case_id: uuid.UUID, body: CaseUpdate, request: Request, session: SessionDep,
                     principal: Officer) -> CaseDetail:
    changes = body.model_dump(exclude_unset=True)
    if any(changes.get(k, "") is None for k in ("title", "serious", "unit_problem")):
        raise Problem(422, "title, serious and unit_problem cannot be null.", slug="null-not-allowed")
    await cases.update_case(session, request.app.state.outbox, case_id=case_id, changes=changes, actor=principal)
    return await case_detail(session, case_id, principal)


@router.post("/cases/{case_id}/clues", response_model=CaseDetail)
async def post_case_clue(case_id: uuid.UUID, body: ClueAttach, session: SessionDep, principal: Officer) -> CaseDetail:
    await cases.attach_clue(session, case_id=case_id, clue_id=body.clue_id, tracking_number=body.tracking_number,
                            actor=principal)
    return await case_detail(session, case_id, principal)


@router.post("/cases/{case_id}/transitions", response_model=CaseDetail)
async def post_transition(case_id: uuid.UUID, body: TransitionCreate, request: Request, session: SessionDep,
                          principal: Officer) -> CaseDetail:
    """Move the case along the transition table (GET …/enumerations lists it); refused moves are 409."""
    await cases.transition_case(session, request.app.state.outbox, case_id=case_id, action=body.action,
                                reason=body.reason, actor=principal)
    return await case_detail(session, case_id, principal)


@router.post("/cases/{case_id}/findings", response_model=CaseDetail)
async def post_finding(case_id: uuid.UUID, body: FindingCreate, request: Request, session: SessionDep,
                       principal: Officer) -> CaseDetail:
    """认定: 属实/部分属实/不属实, with the outcome told to the reporter (no names)."""
    await cases.record_finding(session, request.app.state.outbox, case_id=case_id, actor=principal,
                               **body.model_dump())
    return await case_detail(session, case_id, principal)


@router.post("/cases/{case_id}/persons", response_model=CaseDetail, status_code=201)
async def post_person(case_id: uuid.UUID, body: PersonCreate, session: SessionDep, principal: Officer) -> CaseDetail:
    await persons.add_person(session, case_id=case_id, actor=principal, **body.model_dump())
    return await case_detail(session, case_id, principal)


@router.patch("/cases/{case_id}/persons/{person_id}", response_model=CaseDetail)
async def patch_person(case_id: uuid.UUID, person_id: uuid.UUID, body: PersonUpdate, session: SessionDep,
                       principal: Officer) -> CaseDetail:
    changes = body.model_dump(exclude_unset=True)
    if changes.get("party_member", False) is None:
        raise Problem(422, "party_member cannot be null.", slug="null-not-allowed")
    await persons.update_person(session, case_id=case_id, person_id=person_id, changes=changes, actor=principal)
    return await case_detail(session, case_id, principal)


@router.post("/cases/{case_id}/persons/{person_id}/measures", response_model=CaseDetail, status_code=201)
async def post_measure(case_id: uuid.UUID, person_id: uuid.UUID, body: MeasureCreate, session: SessionDep,
                       principal: Officer) -> CaseDetail:
    """A measure from one of the three families; impossible combinations are refused (422)."""
    await persons.record_measure(session, case_id=case_id, person_id=person_id, actor=principal,
                                 **body.model_dump())
    return await case_detail(session, case_id, principal)


@router.post("/cases/{case_id}/persons/{person_id}/exemption", response_model=CaseDetail, status_code=201)
async def post_exemption(case_id: uuid.UUID, person_id: uuid.UUID, body: ExemptionCreate, request: Request,
                         session: SessionDep, principal: Officer) -> CaseDetail:
    """容错免责 with the criteria checklist and reasons; ``benchmark`` offers it to triage as precedent."""
    await persons.record_exemption(session, request.app.state.outbox, case_id=case_id, person_id=person_id,
                                   actor=principal, **body.model_dump())
    return await case_detail(session, case_id, principal)


@router.post("/cases/{case_id}/leader-clearances", response_model=CaseDetail, status_code=201)
async def post_leader_clearance(case_id: uuid.UUID, body: LeaderClearanceCreate, session: SessionDep,
                                principal: Officer) -> CaseDetail:
    """一案双查: a reasoned finding that a unit leader bears no responsibility."""
    await cases.clear_leader(session, case_id=case_id, leader_role=body.leader_role, reason=body.reason,
                             actor=principal)
    return await case_detail(session, case_id, principal)


@router.get("/cases/{case_id}/rectifications", response_model=RectificationList)
async def get_case_rectifications(case_id: uuid.UUID, session: SessionDep, principal: Reader,
                                  cursor: uuid.UUID | None = None, limit: Limit = 100) -> RectificationList:
    """A case's rectification items; to a unit handler, those addressed to its unit (after the decision)."""
    case = await cases.get_case_row(session, case_id)
    scope = scope_of(principal)
    items = await ledger.list_rectifications(session, after=cursor, limit=limit, case_id=case_id,
                                             unit_id=scope.unit_id)
    # An item can be addressed to another unit than the case's: that unit sees the item, not the case.
    scope.require(scope.sees_case(case.unit_id, state=case.state, finding=case.finding) or bool(items), "案件")
    return RectificationList(items=items, next_cursor=str(items[-1]["id"]) if len(items) == limit else None)


@router.post("/cases/{case_id}/rectifications", response_model=RectificationRead, status_code=201)
async def post_rectification(case_id: uuid.UUID, body: RectificationCreate, request: Request,
                             session: SessionDep, principal: Officer) -> RectificationRead:
    rectification_id = await ledger.assign_rectification(
        session, request.app.state.outbox, case_id=case_id, actor=principal, **body.model_dump())
    return RectificationRead(**ledger.as_read(await ledger.get_rectification(session, rectification_id)))


async def _item_in_case(session: AsyncSession, case_id: uuid.UUID, rectification_id: uuid.UUID,
                        principal: Principal):
    item = await ledger.get_rectification(session, rectification_id)
    if item.case_id != case_id:
        raise Problem(404, "No such rectification item in this case.", slug="rectification-not-found")
    scope = scope_of(principal)
    scope.require(scope.sees_unit_record(item.unit_id), "整改任务")
    return item


@router.post("/cases/{case_id}/rectifications/{rectification_id}/evidence", response_model=RectificationRead)
async def post_evidence(case_id: uuid.UUID, rectification_id: uuid.UUID, body: EvidenceCreate,
                        session: SessionDep, principal: UnitOrOfficer) -> RectificationRead:
    """The unit (its handler, for its own unit only) reports its rectification evidence."""
    await _item_in_case(session, case_id, rectification_id, principal)
    await ledger.submit_evidence(session, rectification_id=rectification_id, evidence=body.evidence,
                                 actor=principal)
    return RectificationRead(**ledger.as_read(await ledger.get_rectification(session, rectification_id)))


@router.post("/cases/{case_id}/rectifications/{rectification_id}/sign-off", response_model=RectificationRead)
async def post_sign_off(case_id: uuid.UUID, rectification_id: uuid.UUID, session: SessionDep,
                        principal: Officer) -> RectificationRead:
    """销号, only with evidence on file."""
    await _item_in_case(session, case_id, rectification_id, principal)
    await ledger.sign_off(session, rectification_id=rectification_id, actor=principal)
    return RectificationRead(**ledger.as_read(await ledger.get_rectification(session, rectification_id)))


@router.post("/cases/{case_id}/rectifications/{rectification_id}/look-back", response_model=RectificationRead)
async def post_look_back(case_id: uuid.UUID, rectification_id: uuid.UUID, body: LookBackCreate,
                         session: SessionDep, principal: Officer) -> RectificationRead:
    """回头看: reopen a signed-off item (and its closed case) with a new deadline."""
    await _item_in_case(session, case_id, rectification_id, principal)
    await ledger.look_back(session, rectification_id=rectification_id, actor=principal, **body.model_dump())
    return RectificationRead(**ledger.as_read(await ledger.get_rectification(session, rectification_id)))


@router.get("/rectifications", response_model=RectificationList)
async def get_rectifications(
    session: SessionDep, principal: Reader, cursor: uuid.UUID | None = None, limit: Limit = 100,
    status: str | None = None, overdue: bool = False, unit_id: str | None = None,
) -> RectificationList:
    """整改台账 across cases; a unit handler sees its own unit's items only."""
    scope = own_unit(principal)
    items = await ledger.list_rectifications(session, after=cursor, limit=limit, unit_id=scope or unit_id,
                                             status=status, overdue_only=overdue)
    return RectificationList(items=items, next_cursor=str(items[-1]["id"]) if len(items) == limit else None)


@router.post("/cases/{case_id}/typical-cases", response_model=TypicalCaseRead, status_code=201)
async def post_typical_case(case_id: uuid.UUID, body: PublicationCreate, request: Request,
                            session: SessionDep, principal: Officer) -> TypicalCaseRead:
    """点名道姓通报曝光 at a scope (unit/sector/citywide); the body names whom the decision names."""
    return await _publish(session, request, case_id, "typical", body, principal)


@router.post("/cases/{case_id}/clarifications", response_model=TypicalCaseRead, status_code=201)
async def post_clarification(case_id: uuid.UUID, body: PublicationCreate, request: Request,
                             session: SessionDep, principal: Officer) -> TypicalCaseRead:
    """澄清正名 for the accused after an unfounded finding."""
    return await _publish(session, request, case_id, "clarification", body, principal)


async def _publish(session: AsyncSession, request: Request, case_id: uuid.UUID, kind: str,
                   body: PublicationCreate, principal: Principal) -> TypicalCaseRead:
    publication_id = await publishing.publish_case(session, request.app.state.outbox, case_id=case_id, kind=kind,
                                                   actor=principal, **body.model_dump())
    items = await publishing.list_publications(session, after=None, limit=1, publication_id=publication_id)
    return TypicalCaseRead(**items[0])


@router.get("/typical-cases", response_model=TypicalCaseList)
async def get_typical_cases(
    session: SessionDep, principal: Reader, cursor: uuid.UUID | None = None, limit: Limit = 100,
    kind: Literal["typical", "clarification"] | None = None, scope: domain.Scope | None = None,
    from_: Annotated[date | None, Query(alias="from")] = None, to: date | None = None,
) -> TypicalCaseList:
    items = await publishing.list_publications(session, after=cursor, limit=limit, kind=kind, scope=scope,
                                               unit_id=own_unit(principal), since=from_, until=to)
    return TypicalCaseList(items=items, next_cursor=str(items[-1]["id"]) if len(items) == limit else None)


@router.get("/stats", response_model=Stats)
async def get_stats(
    session: SessionDep, principal: Annotated[Principal, require_roles("investigator", "org_officer", "auditor")],
    from_: Annotated[date | None, Query(alias="from")] = None, to: date | None = None,
    region: str | None = None, rank: domain.Rank | None = None,
) -> Stats:
    """查处问题, 处理人数, 党政纪处分, 组织处理, 县处级, by 四种形态 and by problem type."""
    if from_ and to and from_ > to:
        raise Problem(422, "'from' is after 'to'.", slug="bad-period")
    return Stats(**await stats.compute_stats(session, since=from_, until=to, region=region, rank=rank))


@router.get("/bulletins/{month}", response_model=MonthlyBulletin)
async def get_monthly_bulletin(
    month: Annotated[str, Path(pattern=r"^\d{4}-\d{2}$")], session: SessionDep,
    principal: Annotated[Principal, require_roles("investigator", "org_officer", "auditor")],
    region: str | None = None,
) -> MonthlyBulletin:
    """一月一通报: the month's figures and the typical cases and clarifications published in it."""
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError as exc:
        raise Problem(422, "month is YYYY-MM.", slug="bad-month") from exc
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    figures = await stats.compute_stats(session, since=first, until=following - timedelta(days=1),
                                        region=region, rank=None)
    published = await publishing.list_publications(session, after=None, limit=500, since=first, until=following)
    return MonthlyBulletin(month=month, stats=Stats(**figures), typical_cases=published)
