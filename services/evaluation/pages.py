"""The citizens' ballot page (H5, Chinese, no JavaScript): ``/vote/{campaign}``, public through the gateway.

Two plain forms: one asks for the SMS code, the other casts the ballot with it. Both go through the same
service calls as the JSON API, so the page gets no rule of its own (one ballot per verified phone, server-set
channel, source and time).
"""

from __future__ import annotations

import uuid
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from services.common.auth import CurrentPrincipal
from services.common.db import SessionDep
from services.common.errors import Problem

from . import domain, service
from .models import campaign_units
from .schemas import BallotIn

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(tags=["vote"], include_in_schema=False)

_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"}


async def _units(session, campaign_id):
    rows = (await session.execute(
        select(campaign_units.c.ref, campaign_units.c.unit_id, campaign_units.c.name, campaign_units.c.category)
        .where(campaign_units.c.campaign_id == campaign_id).order_by(campaign_units.c.ref))).all()
    return rows


async def _page(request, session, campaign, *, status=200, **context) -> HTMLResponse:
    rows = await _units(session, campaign["id"])
    grouped: dict[str, list] = {}
    for r in rows:
        grouped.setdefault(r.category, []).append(r)
    return templates.TemplateResponse(request, "vote.html", {
        "campaign": campaign, "units": list(grouped.items()), "scale": list(domain.SCALE.items()),
        "open_": campaign["state"] == "open" and campaign["instrument"] == "poll",
        "phone": "", "message": None, "error": False, "done": False, **context,
    }, status_code=status, headers=_HEADERS)


class _Missing(Exception):
    pass


async def _campaign(session, campaign_id: uuid.UUID) -> dict:
    try:
        campaign = await service.get_campaign(session, campaign_id)
    except Problem:
        raise _Missing from None
    if campaign["state"] not in ("open", "published"):
        raise _Missing
    return campaign


def _missing_page() -> HTMLResponse:
    return HTMLResponse('<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
                        '<meta name="viewport" content="width=device-width, initial-scale=1">'
                        '<title>没有这项测评</title></head><body>'
                        '<main style="max-width:36rem;margin:2rem auto;padding:1rem;font-family:sans-serif">'
                        '<h1 style="font-size:1.2rem">没有这项测评</h1>'
                        '<p>链接可能有误, 或测评尚未开始。</p></main></body></html>',
                        status_code=404, headers=_HEADERS)


@router.get("/vote/{campaign_id}", response_class=HTMLResponse)
async def vote_page(campaign_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal):
    try:
        campaign = await _campaign(session, campaign_id)
    except _Missing:
        return _missing_page()
    return await _page(request, session, campaign)


@router.post("/vote/{campaign_id}/code", response_class=HTMLResponse)
async def vote_code(campaign_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal):
    try:
        campaign = await _campaign(session, campaign_id)
    except _Missing:
        return _missing_page()
    phone = str((await request.form()).get("phone", "")).strip()[:40]
    settings = request.app.state.settings
    try:
        async with session.begin_nested():  # a refusal undoes its own work and still renders the page
            await service.request_code(session, request.app.state.outbox, campaign_id=campaign_id, phone=phone,
                                       client=principal.client, key=settings.voter_hash_key.encode(),
                                       keyring=settings.keyring(), settings=settings)
    except Problem as exc:
        return await _page(request, session, campaign, status=exc.status, phone=phone, message=exc.detail,
                           error=True)
    return await _page(request, session, campaign, phone=phone,
                       message=f"验证码已发送, {settings.code_ttl_seconds // 60}分钟内有效。")


@router.post("/vote/{campaign_id}", response_class=HTMLResponse)
async def vote_submit(campaign_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal):
    from .api import cast_ballot  # the JSON route's rules, exactly

    try:
        campaign = await _campaign(session, campaign_id)
    except _Missing:
        return _missing_page()
    form = await request.form()
    phone = str(form.get("phone", "")).strip()[:40]
    by_ref = {str(r.ref): r.unit_id for r in await _units(session, campaign_id)}
    ratings, opinions = {}, {}
    for name, value in form.items():
        kind, ref = name[:1], name[1:]
        if ref not in by_ref or not isinstance(value, str):
            continue
        if kind == "r" and value.isdigit():
            ratings[by_ref[ref]] = int(value)
        elif kind == "o" and value.strip():
            opinions[by_ref[ref]] = value.strip()[:500]
    try:
        if not ratings:
            raise Problem(422, "请至少为一个单位选择满意程度。", slug="no-ratings")
        try:
            body = BallotIn(voter=phone or "x" * 3, code=str(form.get("code", "")).strip()[:12] or None,
                            ratings=ratings, opinions=opinions or None)
        except ValueError as exc:
            raise Problem(422, "填写内容不符合要求, 请检查后重新提交。", slug="validation") from exc
        async with session.begin_nested():  # a refused ballot leaves nothing (its code stays unspent)
            await cast_ballot(request, session, principal, campaign_id, body)
    except Problem as exc:
        return await _page(request, session, campaign, status=exc.status, phone=phone, message=exc.detail,
                           error=True)
    return await _page(request, session, campaign, status=201, done=True, opinions=len(opinions))
