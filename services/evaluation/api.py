"""Evaluation's HTTP routes: parse, authorise, call the service, shape the response.

Who may do what: the evaluation office (``evaluation_admin``) runs campaigns; ``auditor`` reads everything;
the public reads open and published campaigns, votes on the web one ballot at a time, and reads published
rankings; SMS and WeChat gateways are machine clients (principal kind ``service``) that post batches.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import ValidationError

from services.common.auth import CurrentPrincipal, Principal, require_roles
from services.common.db import SessionDep
from services.common.errors import Problem, validation_errors

from . import charts, domain, service
from .schemas import (
    BATCH_ADAPTER,
    IMPORT_ADAPTER,
    BallotBatch,
    BallotIn,
    CodeRequest,
    ImportReceipt,
    BallotReceipt,
    BallotReview,
    CampaignCreate,
    CampaignPage,
    CampaignRead,
    QuarantinePage,
    ScoresIn,
    StuffingScan,
    TransitionIn,
    UnitRead,
    UnitsAdd,
    VetoIn,
)

router = APIRouter(prefix="/api/v1/evaluation", tags=["evaluation"])

Admin = Annotated[Principal, require_roles("evaluation_admin")]
Reader = Annotated[Principal, require_roles("evaluation_admin", "auditor")]
PUBLIC_STATES = ("open", "published")


def _is_office(principal: Principal) -> bool:
    return principal.kind == "staff" and principal.has_role("evaluation_admin", "auditor")


async def _visible_campaign(session, campaign_id: uuid.UUID, principal: Principal) -> dict:
    campaign = await service.get_campaign(session, campaign_id)
    if campaign["state"] not in PUBLIC_STATES and not _is_office(principal):
        raise Problem(404, "没有这项测评。", slug="not-found")
    return campaign


async def _ballot_gateway(principal: CurrentPrincipal) -> Principal:
    """Batches come only from the SMS/WeChat platforms' service keys; the office imports paper ballots through
    ``ballots:import``, audited and quarantined, never here."""
    if principal.kind == "service":
        return principal
    raise Problem(403, "批量选票只接受短信、微信平台的服务密钥; 考评办请使用纸质选票导入(留痕并复核)。",
                  slug="forbidden-kind")


@router.get("/enumerations")
async def get_enumerations() -> dict:
    """States and transitions, the ballot scale, channels, sources, grades, veto rules, consequences."""
    return domain.enumerations()


@router.post("/campaigns", response_model=CampaignRead, status_code=201)
async def post_campaign(body: CampaignCreate, session: SessionDep, principal: Admin, response: Response):
    campaign = await service.create_campaign(session, campaign_in=body, actor=principal)
    response.headers["Location"] = f"/api/v1/evaluation/campaigns/{campaign['id']}"
    return campaign


@router.get("/campaigns", response_model=CampaignPage)
async def get_campaigns(session: SessionDep, principal: CurrentPrincipal,
                        state: Annotated[list[str] | None, Query()] = None,
                        cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50):
    states = state
    if not _is_office(principal):
        states = [s for s in (state or PUBLIC_STATES) if s in PUBLIC_STATES]
    items, next_cursor = await service.list_campaigns(session, states=states, cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@router.get("/campaigns/{campaign_id}", response_model=CampaignRead)
async def get_campaign(campaign_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal):
    campaign = await _visible_campaign(session, campaign_id, principal)
    imports = await service.list_imports(session, campaign_id)
    if not _is_office(principal):  # the public sees that, when and how much was imported; the office, by whom
        imports = [{k: v for k, v in i.items() if k != "imported_by"} for i in imports]
    return {**campaign, "imports": imports}


@router.post("/campaigns/{campaign_id}/units", status_code=200)
async def post_units(campaign_id: uuid.UUID, body: UnitsAdd, session: SessionDep, principal: Admin) -> dict:
    return {"units": await service.add_units(session, campaign_id=campaign_id, units_in=body.units,
                                             actor=principal)}


@router.post("/campaigns/{campaign_id}/units:import-directory", status_code=200)
async def import_units(campaign_id: uuid.UUID, session: SessionDep, principal: Admin) -> dict:
    """Add the directory's units whose category is one of the campaign's (the directory comes from triage)."""
    return {"units": await service.import_directory_units(session, campaign_id=campaign_id, actor=principal)}


@router.get("/campaigns/{campaign_id}/units", response_model=list[UnitRead])
async def get_units(campaign_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal):
    await _visible_campaign(session, campaign_id, principal)
    return await service.list_units(session, campaign_id=campaign_id)


@router.post("/campaigns/{campaign_id}/transitions", response_model=CampaignRead)
async def post_transition(campaign_id: uuid.UUID, body: TransitionIn, request: Request, session: SessionDep,
                          principal: Admin):
    """open (draft → open), close (open → closed: ballots final, stuffing scan), publish (closed →
    published: results frozen, ``results-published`` emitted with its consequences)."""
    return await service.transition(session, request.app.state.outbox, campaign_id=campaign_id,
                                    action=body.action, actor=principal)


@router.post("/campaigns/{campaign_id}/close", response_model=CampaignRead)
async def post_close(campaign_id: uuid.UUID, request: Request, session: SessionDep, principal: Admin):
    return await service.transition(session, request.app.state.outbox, campaign_id=campaign_id,
                                    action="close", actor=principal)


@router.post("/campaigns/{campaign_id}/verification-codes", status_code=202)
async def post_code(campaign_id: uuid.UUID, body: CodeRequest, request: Request, session: SessionDep,
                    principal: CurrentPrincipal) -> dict:
    """A one-time code by SMS for a web voter (rate limited per phone and per client address)."""
    settings = request.app.state.settings
    return await service.request_code(
        session, request.app.state.outbox, campaign_id=campaign_id, phone=body.phone, client=principal.client,
        key=settings.voter_hash_key.encode(), keyring=settings.keyring(), settings=settings)


async def cast_ballot(request: Request, session: SessionDep, principal: Principal, campaign_id: uuid.UUID,
                      body: BallotIn) -> dict:
    """One ballot: from the web with a verified phone, or relayed by an SMS/WeChat platform's service key."""
    settings = request.app.state.settings
    key = settings.voter_hash_key.encode()
    if principal.kind == "public":
        given = [f for f in service.ballots.WEB_ONLY_FIELDS if getattr(body, f) is not None and
                 not (f == "channel" and body.channel == "web")]
        if given:
            raise Problem(422, "渠道、来源和投票时间由服务器设定, 不能由网页提交。", slug="server-set-fields",
                          fields=given)
        if not body.code:
            raise Problem(422, "请先获取并填写短信验证码。", slug="code-required")
        voter = await service.consume_code(session, request.app.state.sessions, campaign_id=campaign_id,
                                           phone=body.voter, code=body.code, key=key,
                                           max_attempts=settings.code_max_attempts)
        origin = service.Origin("web", client=principal.client, voter=voter)
    elif principal.kind == "service":
        origin = service.Origin("gateway", name=principal.subject)
    else:
        raise Problem(403, "选票由市民投出。", slug="forbidden-kind")
    receipt = await service.ingest_ballots(session, campaign_id=campaign_id, ballots_in=[body], key=key,
                                           origin=origin)
    if receipt["rejected"]:
        raise Problem(422, receipt["rejected"][0]["reason"], slug="ballot-rejected")
    if receipt["duplicates"]:
        raise Problem(409, "该手机号已在本次测评中投过票。", slug="already-voted")
    return receipt


@router.post("/campaigns/{campaign_id}/ballots", response_model=BallotReceipt, status_code=201)
async def post_ballot(campaign_id: uuid.UUID, body: BallotIn, request: Request, session: SessionDep,
                      principal: CurrentPrincipal):
    """A citizen's ballot on the web (phone + one-time code) or one relayed by an SMS/WeChat platform. A
    second ballot by the same voter is 409."""
    return await cast_ballot(request, session, principal, campaign_id, body)


@router.post("/campaigns/{campaign_id}/ballots:import", response_model=ImportReceipt, status_code=201)
async def post_ballot_import(campaign_id: uuid.UUID, request: Request, session: SessionDep, principal: Admin):
    """Paper ballots imported by the office: the file is recorded (who, SHA-256, count) and shown on the
    campaign; its ballots are quarantined until reviewed."""
    raw = await request.body()
    try:
        batch = IMPORT_ADAPTER.validate_json(raw)
    except ValidationError as exc:
        raise Problem(422, "导入文件不符合格式。", errors=validation_errors(exc)) from exc
    limit = request.app.state.settings.ballot_batch_max
    if len(batch.ballots) > limit:
        raise Problem(413, f"一次最多导入{limit}张选票。", slug="batch-too-large", limit=limit)
    return await service.import_ballots(session, campaign_id=campaign_id, raw=raw, batch=batch,
                                        key=request.app.state.settings.voter_hash_key.encode(), actor=principal)


@router.get("/campaigns/{campaign_id}/opinions")
async def get_opinions(campaign_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                       unit_id: str | None = None, cursor: str | None = None,
                       limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict:
    """Voters' opinions for rectification: the office reads all, a unit handler only its own unit's."""
    if principal.kind == "staff" and principal.has_role("evaluation_admin", "auditor"):
        pass
    elif principal.kind == "staff" and principal.has_role("unit_handler") and principal.unit_id:
        if unit_id not in (None, principal.unit_id):
            raise Problem(403, "只能查看本单位收到的意见。", slug="forbidden-unit")
        unit_id = principal.unit_id
    else:
        raise Problem(403, "无权查看评议意见。", slug="forbidden")
    items, next_cursor = await service.list_opinions(session, campaign_id=campaign_id, unit_id=unit_id,
                                                     cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


def _inline_schema(model) -> dict:
    """The model's JSON Schema with its ``$defs`` inlined, to sit inside the OpenAPI document."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(schema)


# The batch body is validated straight from bytes (pydantic-core), not through FastAPI's body parsing:
# at 10,000 ballots a request that is the difference that matters; the schema is still documented.
@router.post("/campaigns/{campaign_id}/ballots:batch", response_model=BallotReceipt,
             openapi_extra={"requestBody": {"content": {"application/json": {
                 "schema": _inline_schema(BallotBatch)}}, "required": True}})
async def post_ballot_batch(campaign_id: uuid.UUID, request: Request, session: SessionDep,
                            principal: Annotated[Principal, Depends(_ballot_gateway)]):
    """Up to 10,000 ballots from an SMS or WeChat gateway. Ballots are judged one by one: the receipt lists
    duplicates (voter already voted) and rejections with reasons; a malformed body stores nothing."""
    raw = await request.body()
    limit = request.app.state.settings.ballot_batch_max
    try:
        batch = BATCH_ADAPTER.validate_json(raw)
    except ValidationError as exc:
        raise Problem(422, "请求内容不符合格式要求。", errors=validation_errors(exc)) from exc
    if len(batch.ballots) > limit:
        raise Problem(413, f"每批最多{limit}张选票, 本批有{len(batch.ballots)}张。",
                      slug="batch-too-large", limit=limit)
    return await service.ingest_ballots(
        session, campaign_id=campaign_id, ballots_in=batch.ballots,
        key=request.app.state.settings.voter_hash_key.encode(),
        origin=service.Origin("gateway", name=principal.subject))


@router.post("/campaigns/{campaign_id}/ballots:scan", response_model=StuffingScan)
async def post_scan(campaign_id: uuid.UUID, session: SessionDep, principal: Admin):
    """Run stuffing detection now (it also runs on close)."""
    campaign = await service.get_campaign(session, campaign_id, lock="update")
    if campaign["state"] not in ("open", "closed"):
        raise Problem(409, f"测评当前状态为{domain.STATE_LABELS[campaign['state']]}, 不能检测刷票。",
                      slug="campaign-state")
    return {"quarantined": await service.scan_for_stuffing(session, campaign=campaign)}


@router.get("/campaigns/{campaign_id}/ballots", response_model=QuarantinePage)
async def get_ballots(campaign_id: uuid.UUID, session: SessionDep, principal: Reader,
                      status: str = "quarantined", cursor: str | None = None,
                      limit: Annotated[int, Query(ge=1, le=500)] = 100):
    """Suspect (or rejected) ballots with their reasons, for review. Never the voter's identity."""
    if status not in ("quarantined", "rejected"):
        raise Problem(422, "status 只能是 quarantined(待复核) 或 rejected(已剔除)。", slug="validation")
    items, next_cursor = await service.list_quarantine(session, campaign_id=campaign_id, status=status,
                                                       cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@router.post("/campaigns/{campaign_id}/ballots/{ballot_id}/review")
async def post_review(campaign_id: uuid.UUID, ballot_id: int, body: BallotReview, session: SessionDep,
                      principal: Admin) -> dict:
    return await service.review_ballot(session, campaign_id=campaign_id, ballot_id=ballot_id,
                                       decision=body.decision, note=body.note, actor=principal)


@router.post("/campaigns/{campaign_id}/scores")
async def post_scores(campaign_id: uuid.UUID, body: ScoresIn, session: SessionDep, principal: Admin) -> dict:
    """业务部门评议, 两代表一委员, 督促整改评议, 企业评议: one scorer's 0–100 scores (re-posting replaces them)."""
    return {"recorded": await service.record_scores(session, campaign_id=campaign_id, scores_in=body,
                                                    actor=principal)}


@router.put("/campaigns/{campaign_id}/units/{unit_id}/veto", status_code=204)
async def put_veto(campaign_id: uuid.UUID, unit_id: str, body: VetoIn, session: SessionDep,
                   principal: Admin) -> Response:
    """一票否决 by hand, with its reason: the unit cannot be 优秀."""
    await service.record_veto(session, campaign_id=campaign_id, unit_id=unit_id, reason=body.reason,
                              actor=principal)
    return Response(status_code=204)


@router.get("/campaigns/{campaign_id}/rankings")
async def get_rankings(campaign_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> dict:
    """Per category: rank, score, grade, veto; 十优满意单位 and 十差不满意单位; consequences."""
    return await service.rankings(session, campaign_id=campaign_id, principal=principal)


@router.get("/campaigns/{campaign_id}/rankings.svg", response_class=Response)
async def get_rankings_svg(campaign_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal):
    results = await service.rankings(session, campaign_id=campaign_id, principal=principal)
    return Response(charts.rankings_svg(results), media_type="image/svg+xml")


@router.get("/campaigns/{campaign_id}/rankings.csv", response_class=Response)
async def get_rankings_csv(campaign_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal):
    results = await service.rankings(session, campaign_id=campaign_id, principal=principal)
    return Response(charts.rankings_csv(results), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="rankings-{campaign_id}.csv"'})
