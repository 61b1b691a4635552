"""The rating link (满意度回访): JSON for clients, a mobile page for the reporter who taps the link.

Public through the gateway (the link's token is the only authorisation; rate limited there). The page
needs no JavaScript: the form posts here, and a stored answer redirects back (Post/Redirect/Get), so a
reload shows the thanks instead of posting twice.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy import select

from services.common.auth import CurrentPrincipal
from services.common.db import SessionDep
from services.common.errors import Problem

from . import service
from .models import reporters
from .rendering import _cn_date
from .schemas import RatingCreate, RatingRequestRead
from .service.ratings import RATING_LABELS

router = APIRouter(prefix="/api/v1/notification", tags=["notification"])
pages = Jinja2Templates(directory=Path(__file__).parent / "pages")
_PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                 "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"}
_FORM_LIMIT = 16 * 1024


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


def _problem(exc: Exception) -> Problem:
    if isinstance(exc, service.RatingAlreadyGiven):
        return Problem(409, "该办理情况已经评价过，每项办理只能评价一次。", slug="rating-already-given")
    if isinstance(exc, service.RatingExpired):
        return Problem(410, "该评价链接已过有效期。", slug="rating-expired")
    return Problem(404, "评价链接无效。", slug="not-found")


async def _page(request: Request, session, token: str, *, error: str | None = None,
                status: int = 200) -> HTMLResponse:
    context: dict = {"action": f"/api/v1/notification/ratings/{token}", "error": error,
                     "choices": sorted(RATING_LABELS.items(), reverse=True)}
    try:
        row = await service.get_rating_request(session, token=token)
    except service.RatingNotFound:
        return pages.TemplateResponse(request, "rating.html", {**context, "state": "missing"}, status_code=404,
                                      headers=_PAGE_HEADERS)
    tracking = await session.scalar(select(reporters.c.tracking_number).where(reporters.c.clue_id == row.clue_id))
    context |= {"tracking_number": tracking, "expires_on": _cn_date(service.today_local(row.expires_at))}
    if row.answered_at is not None:
        context |= {"state": "answered", "rating_label": RATING_LABELS.get(row.rating, ""), "comment": row.comment}
    elif row.expires_at <= service.now_utc():
        context |= {"state": "expired"}
        status = 410
    else:
        context |= {"state": "open"}
    return pages.TemplateResponse(request, "rating.html", context, status_code=status, headers=_PAGE_HEADERS)


@router.get("/ratings/{token}", response_model=RatingRequestRead)
async def get_rating_request(token: str, request: Request, session: SessionDep, principal: CurrentPrincipal):
    """满意度回访: what the link is for (JSON), or the page to rate on (a browser)."""
    if _wants_html(request):
        return await _page(request, session, token)
    try:
        row = await service.get_rating_request(session, token=token)
    except service.RatingNotFound as exc:
        raise _problem(exc) from None
    return RatingRequestRead(case_number=row.case_number, expires_at=row.expires_at,
                             answered=row.answered_at is not None, rating=row.rating, comment=row.comment)


async def _form_body(request: Request) -> dict[str, str]:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _FORM_LIMIT:
            raise Problem(413, "提交的内容过长。", slug="form-too-large")
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


@router.post("/ratings/{token}", response_model=RatingRequestRead, status_code=201)
async def answer_rating(token: str, request: Request, session: SessionDep, principal: CurrentPrincipal):
    """The reporter's rating (1–5, with an optional comment); emits ``feedback-received``. One answer per link.
    JSON in, JSON out; or the page's form, answered with a redirect to the page (303)."""
    from_page = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
    try:
        if from_page:
            body = RatingCreate.model_validate({k: v for k, v in (await _form_body(request)).items() if v != ""})
        else:
            body = RatingCreate.model_validate_json(await request.body())
    except ValidationError:
        if from_page:
            return await _page(request, session, token, error="请选择一项满意度评价后再提交。", status=422)
        raise Problem(422, "评价须为 1 至 5 分的整数，意见不超过 1000 字。", slug="validation") from None
    try:
        row = await service.answer_rating(session, notifier=request.app.state.notifier, token=token,
                                          rating=body.rating, comment=body.comment)
    except (service.RatingNotFound, service.RatingAlreadyGiven, service.RatingExpired) as exc:
        if from_page:
            return await _page(request, session, token, status=_problem(exc).status)
        raise _problem(exc) from None
    if from_page:
        return RedirectResponse(f"/api/v1/notification/ratings/{token}", status_code=303, headers=_PAGE_HEADERS)
    return RatingRequestRead(case_number=row.case_number, expires_at=row.expires_at, answered=True,
                             rating=row.rating, comment=row.comment)


