"""Accountability's HTTP routes: parse, authorise, call ``service``, shape the response."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal, require_roles
from services.common.competence import BODIES, bodies_of
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
    MeasureRead,
    MonthlyBulletin,
    PersonCreate,
    PersonRead,
    PersonUpdate,
    PublicationCreate,
    RectificationCreate,
    RectificationList,
    RectificationRead,
    AgeingView,
    BenchmarkCreate,
    FollowUpDone,
    FollowUpRead,
    FourWindsReport,
    ImportRequest,
    ImportResult,
    ProposalDecisionCreate,
    ProposalList,
    ProposalRead,
    ReferralCreate,
    Stats,
    TypicalCaseList,
    TypicalCaseRead,
)
from .service import cases, imports, ledger, oversight, persons, proposals, publishing, stats, xlsx

router = APIRouter(prefix="/api/v1/accountability", tags=["accountability"])

Officer = Annotated[Principal, require_roles("investigator", "org_officer")]
Reader = Annotated[Principal, require_roles("investigator", "org_officer", "auditor", "unit_handler")]
UnitOrOfficer = Annotated[Principal, require_roles("investigator", "org_officer", "unit_handler")]
Limit = Annotated[int, Query(ge=1, le=500)]


def own_unit(principal: Principal) -> str | None:
    """The unit a unit handler is bound to (its lists are filtered to it); None for other staff."""
    return scope_of(principal).unit_id


def ensure_leads(principal: Principal, case) -> None:
    """The body leading a case files, finds, decides and closes it (R-AC-10); the other body cooperates
    (persons, its own measures, rectification) but does not take the case's decisions."""
    bodies = bodies_of(principal)
    if bodies is not None and case.lead_body not in bodies:
        raise Problem(403, f"该案件由{BODIES[case.lead_body]}牵头办理, 此操作须由其办案人员作出。",
                      slug="not-lead-body", lead_body=case.lead_body)


def opener_body(principal: Principal) -> str:
    bodies = bodies_of(principal) or frozenset()
    return "organization" if bodies == frozenset({"organization"}) else "commission"


async def leading_case(session: AsyncSession, case_id: uuid.UUID, principal: Principal):
    case = await cases.get_case_row(session, case_id)
    ensure_leads(principal, case)
    return case


async def visible_case(session: AsyncSession, case_id: uuid.UUID, principal: Principal):
    """The case if the caller may see it: a unit handler only its unit's, and only once decided."""
    case = await cases.get_case_row(session, case_id)
    scope = scope_of(principal)
    scope.require(scope.sees_case(case.unit_id, state=case.state, finding=case.finding), "案件")
    return case


# What a case route returns: the staff's or the unit's view (each route's response_model picks the shape)
CaseView = CaseDetail | CaseForUnit


async def case_detail(session: AsyncSession, case_id: uuid.UUID, principal: Principal) -> CaseView:
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
    state: str | None = None, region: str | None = None, unit_id: str | None = None,
    origin: domain.Origin | None = None, campaign: str | None = None, case_number: str | None = None,
    tag: str | None = None, lead_body: domain.Body | None = None, must_investigate: bool | None = None,
    clue_id: uuid.UUID | None = None,
) -> CaseList | UnitCaseList:
    """Cases filtered by unit, origin (clue / evaluation / inspection / officer / import), campaign, case
    number, tag, leading body, 五必查 or a clue they hold; a unit handler sees its own unit's decided cases
    only, as their decision."""
    unit = own_unit(principal)
    filters = {"state": state, "region": region, "unit_id": unit_id, "source": origin, "campaign": campaign,
               "case_number": case_number, "lead_body": lead_body, "must_investigate": must_investigate}
    rows = await cases.list_cases(session, after=cursor, limit=limit, scope_unit=unit, filters=filters,
                                  tag=tag, clue_id=clue_id, decided_only=unit is not None)
    if unit is not None:
        return UnitCaseList(items=[CaseForUnit.model_validate(r._mapping) for r in rows],
                            next_cursor=str(rows[-1].id) if len(rows) == limit else None)
    clues = await cases.clue_ids_by_case(session, [r.id for r in rows])
    items = [CaseRead(**r._mapping, allowed_actions=domain.allowed_actions(r.state), clue_ids=clues[r.id])
             for r in rows]
    return CaseList(items=items, next_cursor=str(rows[-1].id) if len(rows) == limit else None)


@router.post("/cases", response_model=CaseDetail, status_code=201)
async def post_case(body: CaseCreate, request: Request, session: SessionDep, principal: Officer) -> CaseView:
    """An investigator opens a case (初核), optionally gathering clues already received."""
    for clue_id in body.clue_ids:
        if await cases.clue_owner(session, clue_id):
            raise Problem(409, "有线索已属于另一案件。", slug="clue-in-another-case")
    fields = body.model_dump(exclude={"clue_ids"})
    fields["lead_body"] = fields["lead_body"] or opener_body(principal)
    case_id = await cases.open_case(session, request.app.state.outbox, actor=principal,
                                    clues=[{"clue_id": c} for c in body.clue_ids], **fields)
    return await case_detail(session, case_id, principal)


@router.get("/cases/{case_id}", response_model=CaseDetail | CaseForUnit)
async def get_case(case_id: uuid.UUID, session: SessionDep, principal: Reader) -> CaseDetail | CaseForUnit:
    return await case_detail(session, case_id, principal)


@router.patch("/cases/{case_id}", response_model=CaseDetail)
async def patch_case(case_id: uuid.UUID, body: CaseUpdate, request: Request, session: SessionDep,
                     principal: Officer) -> CaseView:
    changes = body.model_dump(exclude_unset=True)
    if any(changes.get(k, "") is None for k in ("title", "serious", "unit_problem", "must_investigate", "tags",
                                                 "lead_body")):
        raise Problem(422, "标题、重大案件、单位问题、五必查、标签和牵头单位不能为空。", slug="null-not-allowed")
    await leading_case(session, case_id, principal)
    await cases.update_case(session, request.app.state.outbox, case_id=case_id, changes=changes, actor=principal)
    return await case_detail(session, case_id, principal)


@router.post("/cases/{case_id}/clues", response_model=CaseDetail)
async def post_case_clue(case_id: uuid.UUID, body: ClueAttach, session: SessionDep, principal: Officer) -> CaseView:
    await cases.attach_clue(session, case_id=case_id, clue_id=body.clue_id, tracking_number=body.tracking_number,
                            actor=principal)
    return await case_detail(session, case_id, principal)


@router.post("/cases/{case_id}/transitions", response_model=CaseDetail)
async def post_transition(case_id: uuid.UUID, body: TransitionCreate, request: Request, session: SessionDep,
                          principal: Officer) -> CaseView:
    """Move the case along the transition table (GET …/enumerations lists it); refused moves are 409."""
    await leading_case(session, case_id, principal)
    await cases.transition_case(session, request.app.state.outbox, case_id=case_id, action=body.action,
                                reason=body.reason, actor=principal)
    return await case_detail(session, case_id, principal)


@router.post("/cases/{case_id}/findings", response_model=CaseDetail)
async def post_finding(case_id: uuid.UUID, body: FindingCreate, request: Request, session: SessionDep,
                       principal: Officer) -> CaseView:
    """认定: 属实/部分属实/不属实, with the outcome told to the reporter (no names)."""
    await leading_case(session, case_id, principal)
    await cases.record_finding(session, request.app.state.outbox, case_id=case_id, actor=principal,
                               **body.model_dump())
    return await case_detail(session, case_id, principal)


@router.post("/cases/{case_id}/persons", response_model=PersonRead, status_code=201)
async def post_person(case_id: uuid.UUID, body: PersonCreate, session: SessionDep, principal: Officer) -> PersonRead:
    """Either body records persons (the commission and the organization department cooperate)."""
    person_id = await persons.add_person(session, case_id=case_id, actor=principal, **body.model_dump())
    return PersonRead(**await persons.person_read(session, case_id, person_id))


@router.patch("/cases/{case_id}/persons/{person_id}", response_model=CaseDetail)
async def patch_person(case_id: uuid.UUID, person_id: uuid.UUID, body: PersonUpdate, session: SessionDep,
                       principal: Officer) -> CaseView:
    changes = body.model_dump(exclude_unset=True)
    if changes.get("party_member", False) is None:
        raise Problem(422, "是否中共党员不能为空。", slug="null-not-allowed")
    await persons.update_person(session, case_id=case_id, person_id=person_id, changes=changes, actor=principal)
    return await case_detail(session, case_id, principal)


@router.post("/cases/{case_id}/persons/{person_id}/measures", response_model=MeasureRead, status_code=201)
async def post_measure(case_id: uuid.UUID, person_id: uuid.UUID, body: MeasureCreate, session: SessionDep,
                       principal: Officer) -> MeasureRead:
    """A measure, only after a substantiated finding (409 before); 党纪/政务处分 by the commission, 组织处理 by
    the organization department (403 otherwise), light measures by either; impossible combinations 422."""
    measure_id = await persons.record_measure(session, case_id=case_id, person_id=person_id, actor=principal,
                                              **body.model_dump())
    return MeasureRead(**await persons.measure_read(session, measure_id))


@router.post("/cases/{case_id}/persons/{person_id}/exemption", response_model=CaseDetail, status_code=201)
async def post_exemption(case_id: uuid.UUID, person_id: uuid.UUID, body: ExemptionCreate, request: Request,
                         session: SessionDep, principal: Officer) -> CaseView:
    """容错免责 with the criteria checklist and reasons; ``benchmark`` offers it to triage as precedent."""
    await persons.record_exemption(session, request.app.state.outbox, case_id=case_id, person_id=person_id,
                                   actor=principal, **body.model_dump())
    return await case_detail(session, case_id, principal)


@router.post("/cases/{case_id}/leader-clearances", response_model=CaseDetail, status_code=201)
async def post_leader_clearance(case_id: uuid.UUID, body: LeaderClearanceCreate, session: SessionDep,
                                principal: Officer) -> CaseView:
    """一案双查: a reasoned finding that a unit leader bears no responsibility."""
    await leading_case(session, case_id, principal)
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
        raise Problem(404, "该案件中没有这项整改任务。", slug="rectification-not-found")
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
    await leading_case(session, case_id, principal)
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
    region: str | None = None, rank: domain.Rank | None = None, origin: domain.Origin | None = None,
) -> Stats:
    """查处问题, 处理人数, 党政纪处分, 组织处理, 县处级, by 四种形态 and by problem type; ``origin`` counts
    evaluation-origin (or any other origin's) cases apart."""
    if from_ and to and from_ > to:
        raise Problem(422, "起始日期晚于截止日期。", slug="bad-period")
    return Stats(**await stats.compute_stats(session, since=from_, until=to, region=region, rank=rank,
                                             origin=origin))


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
        raise Problem(422, "月份格式为 YYYY-MM。", slug="bad-month") from exc
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    figures = await stats.compute_stats(session, since=first, until=following - timedelta(days=1),
                                        region=region, rank=None, origin=None)
    published = await publishing.list_publications(session, after=None, limit=500, since=first, until=following)
    return MonthlyBulletin(month=month, stats=Stats(**figures), typical_cases=published)


# --- Proposals (R-AC-14) and who decides them (R-AC-10) ------------------------------------------

def proposal_read(row) -> ProposalRead:
    measure = domain.MEASURES_BY_CODE.get(row.suggested_measure or "")
    return ProposalRead(**row._mapping, body_name=BODIES[row.body], status_name=domain.PROPOSAL_STATUSES[row.status],
                        suggested_measure_name=measure.name if measure else None)


@router.get("/proposals", response_model=ProposalList)
async def get_proposals(session: SessionDep, principal: Annotated[Principal, require_roles(
                            "investigator", "org_officer", "auditor")],
                        cursor: uuid.UUID | None = None, limit: Limit = 100,
                        status: domain.ProposalStatus | None = "pending",
                        unit_id: str | None = None) -> ProposalList:
    """处理建议 queue: each body sees its own (the commission its accountability proposals, the organization
    department its 组织处理 ones); pending by default; optionally one unit's."""
    rows = await proposals.list_proposals(session, after=cursor, limit=limit, bodies=bodies_of(principal),
                                          status=status, unit_id=unit_id)
    return ProposalList(items=[proposal_read(r) for r in rows],
                        next_cursor=str(rows[-1].id) if len(rows) == limit else None)


@router.get("/proposals/{proposal_id}", response_model=ProposalRead)
async def get_proposal(proposal_id: uuid.UUID, session: SessionDep, principal: Annotated[Principal, require_roles(
                           "investigator", "org_officer", "auditor")]) -> ProposalRead:
    row = await proposals.get_proposal(session, proposal_id)
    bodies = bodies_of(principal)
    if bodies is not None and row.body not in bodies:
        raise Problem(404, "没有这条处理建议。", slug="proposal-not-found")
    return proposal_read(row)


@router.post("/proposals/{proposal_id}/decision", response_model=ProposalRead)
async def post_proposal_decision(proposal_id: uuid.UUID, body: ProposalDecisionCreate, request: Request,
                                 session: SessionDep, principal: Officer) -> ProposalRead:
    """采纳 (opens a case in 初核 with the leaders named), 调整后采纳 (with a reason), or 不予采纳 (with a reason)."""
    row = await proposals.decide_proposal(
        session, request.app.state.outbox, proposal_id=proposal_id, decision=body.decision, reason=body.reason,
        changes=body.model_dump(include={"suggested_measure", "title", "body"}, exclude_none=True),
        bodies=bodies_of(principal), actor=principal)
    return proposal_read(row)


# --- Oversight of the cases themselves (R-AC-12) -------------------------------------------------

@router.get("/clues/{clue_id}/case", response_model=CaseDetail)
async def get_case_of_clue(clue_id: uuid.UUID, session: SessionDep, principal: Reader) -> CaseView:
    """The case a clue belongs to (a case lists its clues in ``clue_ids``)."""
    case_id = await cases.clue_owner(session, clue_id)
    if case_id is None:
        raise Problem(404, "该线索尚未立项为案件。", slug="case-not-found")
    return await case_detail(session, case_id, principal)


@router.get("/ageing", response_model=AgeingView)
async def get_ageing(session: SessionDep, principal: Annotated[Principal, require_roles(
                         "investigator", "org_officer", "auditor")], limit: Limit = 100,
                     as_of: date | None = None) -> AgeingView:
    """快查快结: open cases without a finding, most overdue first; an officer sees its own body's cases."""
    bodies = bodies_of(principal)
    lead_body = next(iter(bodies)) if bodies is not None and len(bodies) == 1 else None
    return AgeingView(**await oversight.ageing(session, lead_body=lead_body, limit=limit, as_of=as_of))


@router.get("/reports/four-winds/{month}", response_model=FourWindsReport)
async def get_four_winds_report(month: Annotated[str, Path(pattern=r"^\d{4}-\d{2}$")], session: SessionDep,
                                principal: Annotated[Principal, require_roles("investigator", "auditor")]
                                ) -> FourWindsReport:
    """每月向上级纪委报告: cases tagged 四风 or 八项规定 for the month (the commission's report)."""
    return FourWindsReport(**await oversight.four_winds_report(session, month=month))


@router.get("/follow-ups", response_model=list[FollowUpRead])
async def get_follow_ups(session: SessionDep, principal: Reader, status: Literal["open", "done"] | None = None,
                         overdue: bool = False) -> list[FollowUpRead]:
    """专题民主生活会 due within 30 days of closing a major case; a unit handler sees its own unit's."""
    items = await oversight.list_follow_ups(session, status=status, overdue_only=overdue)
    scope = own_unit(principal)
    return [FollowUpRead(**i) for i in items if scope is None or i["unit_id"] == scope]


@router.post("/cases/{case_id}/life-meeting", response_model=FollowUpRead)
async def post_life_meeting(case_id: uuid.UUID, body: FollowUpDone, session: SessionDep,
                            principal: Officer) -> FollowUpRead:
    return FollowUpRead(**await oversight.record_life_meeting(session, case_id=case_id, actor=principal,
                                                              **body.model_dump()))


@router.post("/cases/{case_id}/referral", response_model=CaseDetail, status_code=201)
async def post_referral(case_id: uuid.UUID, body: ReferralCreate, request: Request, session: SessionDep,
                        principal: Annotated[Principal, require_roles("investigator")]) -> CaseView:
    """诬告陷害: refer an unfounded complaint; the commission gets a case of its own (returned)."""
    referred = await oversight.refer_false_accusation(session, request.app.state.outbox, case_id=case_id,
                                                      reason=body.reason, actor=principal)
    return await case_detail(session, referred, principal)


@router.post("/cases/{case_id}/benchmark", response_model=CaseDetail)
async def post_benchmark(case_id: uuid.UUID, body: BenchmarkCreate, request: Request, session: SessionDep,
                         principal: Officer) -> CaseView:
    """标杆案例: any resolved case, offered to triage as precedent (no names)."""
    await leading_case(session, case_id, principal)
    await oversight.offer_benchmark(session, request.app.state.outbox, case_id=case_id, actor=principal,
                                    **body.model_dump())
    return await case_detail(session, case_id, principal)


# --- Import (批量导入) ---------------------------------------------------------------------------

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_XLSX_BYTES = 32 * 1024 * 1024


@router.post("/imports", response_model=ImportResult, status_code=201)
async def post_import(request: Request, session: SessionDep, principal: Officer) -> ImportResult:
    """Cases with persons, findings and measures in one request; per-case errors, all-or-nothing per case."""
    raw = await request.body()
    try:
        body = ImportRequest.model_validate_json(raw)
    except ValueError as exc:
        raise Problem(422, "请求须为 JSON: {\"cases\": [...]}, 至少一件、至多两万件案件。", slug="bad-import") from exc
    numbered = [([i + 1], case) for i, case in enumerate(body.cases)]
    return ImportResult(**await imports.import_cases(
        session, request.app.state.outbox, raw_cases=numbered, importer=principal, fmt="json", file_name=None,
        sha256=imports.sha256_of(raw)))


@router.post("/imports/xlsx", response_model=ImportResult, status_code=201)
async def post_import_xlsx(file: UploadFile, request: Request, session: SessionDep,
                           principal: Officer) -> ImportResult:
    """The same import from the Chinese template (GET …/imports/template.xlsx); errors name the sheet rows."""
    data = await file.read(MAX_XLSX_BYTES + 1)
    if len(data) > MAX_XLSX_BYTES:
        raise Problem(413, "文件超过32MB, 请分批导入。", slug="file-too-large")
    try:
        raw_cases, cell_errors = await run_in_threadpool(xlsx.parse, data)
    except xlsx.CellError as exc:
        raise Problem(422, str(exc), slug="bad-spreadsheet") from exc
    return ImportResult(**await imports.import_cases(
        session, request.app.state.outbox, raw_cases=raw_cases, importer=principal, fmt="xlsx",
        file_name=file.filename, sha256=imports.sha256_of(data), prior_errors=cell_errors))


@router.get("/imports/template.xlsx")
async def get_import_template(principal: Officer) -> Response:
    """导入模板: headers in Chinese, a line of notes, an example case, and the allowed values."""
    return Response(await run_in_threadpool(xlsx.template), media_type=XLSX_TYPE, headers={
        "content-disposition": "attachment; filename=\"accountability-import-template.xlsx\"; "
                               "filename*=UTF-8''%E9%97%AE%E8%B4%A3%E6%A1%88%E4%BB%B6%E5%AF%BC%E5%85%A5%E6%A8%A1%E6%9D%BF.xlsx"})
