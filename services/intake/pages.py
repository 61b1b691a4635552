"""The mobile page a poster's QR code opens (扫码随手拍): plain HTML, Chinese UI, no JavaScript.

Public by design: the gateway forwards ``/qr/…`` as the public principal. The form posts multipart to
``/api/v1/intake/qr/{code}/reports``; a browser gets the receipt as HTML, an API client as JSON.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from services.common.auth import CurrentPrincipal
from services.common.db import SessionDep

from . import service

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(tags=["qr"], include_in_schema=False)

LOOKUP_PATH = "/api/v1/intake/receipts"  # the citizens' lookup page (办理进度查询)
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
             "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"}


def wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


def new_form_token() -> str:
    """The QR form's one-time token (Post/Redirect/Get): see ``citizen_pages``."""
    return secrets.token_urlsafe(24)


def render_receipt_page(request: Request, clue, poster) -> HTMLResponse:
    """The receipt for a form posted without a token (a page cached before tokens existed)."""
    return templates.TemplateResponse(request, "qr_done.html", {
        "tracking_number": clue.tracking_number, "receipt_code": clue.receipt_code, "poster": poster,
        "lookup": LOOKUP_PATH}, status_code=201, headers=_NO_STORE)


@router.get("/qr/{poster_code}", response_class=HTMLResponse)
async def qr_page(poster_code: str, request: Request, session: SessionDep, principal: CurrentPrincipal):
    poster = await service.get_poster(session, code=poster_code, active_only=True)
    if poster is None:
        return templates.TemplateResponse(request, "qr_missing.html", {}, status_code=404, headers=_NO_STORE)
    return templates.TemplateResponse(request, "qr_report.html", {
        "poster": poster,
        "action": f"/api/v1/intake/qr/{poster.code}/reports",
        "max_count": request.app.state.settings.attachment_max_count,
        "form_token": new_form_token(),
        "lookup": LOOKUP_PATH,
    }, headers=_NO_STORE)
