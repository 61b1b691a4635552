"""Citizens' pages besides the QR form: the receipt after filing (Post/Redirect/Get) and the lookup page
(办理进度查询). Plain HTML, Chinese, no JavaScript; public through the gateway and rate limited there.

- The QR form carries a one-time token. The first submission with it files the report and redirects to
  ``/qr/{poster}/done/{token}``; a reload of that page, or the same form sent again, files nothing more.
  The receipt code is kept sealed for ``RECEIPT_SHOWN_MINUTES`` so a reload still shows it, then wiped.
- The lookup page takes the code in a POST body (never in a URL, so never in logs or history).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup, escape
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import CurrentPrincipal
from services.common.calendar import SHANGHAI
from services.common.crypto import Sealed
from services.common.db import SessionDep

from . import catalog, service
from .pages import _NO_STORE, LOOKUP_PATH, templates
from .qr_models import qr_submissions
from .service.accepting import key_rings

router = APIRouter(tags=["citizen pages"], include_in_schema=False)

RECEIPT_SHOWN_MINUTES = 30
STAGE_LABELS: dict[str, str] = {
    "received": "已收到", "triaged": "分办情况", "transfer-concluded": "办理结果", "concluded": "办理结果",
    "closed": "结案", "rating-request": "满意度评价", "rating-reminder": "满意度评价提醒",
}
_LINK = re.compile(r"https?://[^\s<>\"']+")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def done_path(poster_code: str, token: str) -> str:
    return f"/qr/{poster_code}/done/{token}"


async def reserve(session: AsyncSession, *, token: str, poster_code: str) -> bool:
    """Claim the form token in the filing transaction; False when a submission already used it (a
    concurrent duplicate waits on the key until the first commits, then finds it taken)."""
    claimed = await session.execute(
        pg_insert(qr_submissions).values(token_hash=_hash(token), poster_code=poster_code)
        .on_conflict_do_nothing(index_elements=["token_hash"]).returning(qr_submissions.c.token_hash))
    return claimed.first() is not None


async def remember(session: AsyncSession, settings, *, token: str, clue_id, tracking_number: str,
                   receipt_code: str | None) -> None:
    values: dict = {"clue_id": clue_id, "tracking_number": tracking_number,
                    "show_until": datetime.now(UTC) + timedelta(minutes=RECEIPT_SHOWN_MINUTES)}
    if receipt_code:
        ring, _ = key_rings(settings)
        sealed = ring.seal(receipt_code.encode(), _hash(token).encode()).as_text()
        values |= {"receipt_kid": sealed["kid"], "receipt_nonce": sealed["nonce"],
                   "receipt_ciphertext": sealed["ciphertext"]}
    await session.execute(update(qr_submissions).where(qr_submissions.c.token_hash == _hash(token)).values(**values))


@router.get("/qr/{poster_code}/done/{token}", response_class=HTMLResponse)
async def qr_done(poster_code: str, token: str, request: Request, session: SessionDep,
                  principal: CurrentPrincipal):
    row = (await session.execute(select(qr_submissions).where(
        qr_submissions.c.token_hash == _hash(token), qr_submissions.c.poster_code == poster_code))).first()
    if row is None or row.clue_id is None:
        return templates.TemplateResponse(request, "qr_missing.html", {}, status_code=404, headers=_NO_STORE)
    code = None
    if row.receipt_ciphertext and row.show_until and row.show_until > datetime.now(UTC):
        ring, _ = key_rings(request.app.state.settings)
        code = ring.open(Sealed.from_text(row.receipt_kid, row.receipt_nonce, row.receipt_ciphertext),
                         _hash(token).encode()).decode()
    elif row.receipt_ciphertext:  # past its time: the code is no longer kept anywhere but the reporter's note
        await session.execute(update(qr_submissions).where(qr_submissions.c.token_hash == row.token_hash)
                              .values(receipt_kid=None, receipt_nonce=None, receipt_ciphertext=None))
    poster = await service.get_poster(session, code=poster_code, active_only=False)
    return templates.TemplateResponse(request, "qr_done.html", {
        "tracking_number": row.tracking_number, "receipt_code": code, "expired_code": bool(row.receipt_ciphertext)
        and code is None, "poster": poster, "lookup": LOOKUP_PATH}, headers=_NO_STORE)


def qr_done_redirect(poster_code: str, token: str) -> RedirectResponse:
    return RedirectResponse(done_path(poster_code, token), status_code=303, headers=_NO_STORE)


# ---- 办理进度查询 ------------------------------------------------------------------------------------------


def _cn(moment: datetime) -> str:
    local = moment.astimezone(SHANGHAI)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def _with_links(message: str) -> Markup:
    """The message as HTML, its links (the rating link) clickable; everything else escaped."""
    out, last = [], 0
    for match in _LINK.finditer(message):
        out.append(escape(message[last:match.start()]))
        url = match.group(0)
        label = "点击评价" if "/ratings/" in url else url
        out.append(Markup('<a href="{0}">{1}</a>').format(url, label))
        last = match.end()
    out.append(escape(message[last:]))
    return Markup("").join(out)


@router.get(LOOKUP_PATH, response_class=HTMLResponse)
async def lookup_page(request: Request, principal: CurrentPrincipal):
    return templates.TemplateResponse(request, "lookup.html", {"action": LOOKUP_PATH}, headers=_NO_STORE)


@router.post(LOOKUP_PATH, response_class=HTMLResponse)
async def lookup(request: Request, session: SessionDep, principal: CurrentPrincipal):
    context: dict = {"action": LOOKUP_PATH}
    client = principal.client or principal.subject
    if not request.app.state.receipt_limiter.allow(client):
        return templates.TemplateResponse(request, "lookup.html",
                                          {**context, "error": "查询过于频繁，请一分钟后再试。"},
                                          status_code=429, headers={**_NO_STORE, "Retry-After": "60"})
    form = await request.form(max_files=0, max_fields=5)
    code = str(form.get("code") or "").strip()
    clue_id = await service.find_receipt_clue(session, request.app.state.settings, code=code) if code else None
    if clue_id is None:
        return templates.TemplateResponse(request, "lookup.html", {
            **context, "error": "没有找到与该查询码对应的反映，请核对后重新输入。"}, status_code=404, headers=_NO_STORE)
    status = await service.receipt_status(session, clue_id=clue_id)
    feedback = [{"label": STAGE_LABELS.get(f["stage"], "办理进展"), "issued_at": _cn(f["issued_at"]),
                 "message": _with_links(f["message"])} for f in status["feedback"]]
    outcome = next((f for f in reversed(feedback) if f["label"] == "办理结果"), None)
    return templates.TemplateResponse(request, "lookup.html", {
        **context, "status": status, "status_label": catalog.STATUS_LABELS.get(status["status"], "办理中"),
        "feedback": feedback, "outcome": outcome}, headers=_NO_STORE)
