"""The mobile page a poster's QR code opens (扫码随手拍): plain HTML, Chinese UI, no JavaScript.

Public by design: the gateway forwards ``/qr/…`` as the public principal. The form posts multipart to
``/api/v1/intake/qr/{code}/reports``; a browser gets the receipt as HTML, an API client as JSON.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from services.common.auth import CurrentPrincipal
from services.common.db import SessionDep

from . import service

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(tags=["qr"], include_in_schema=False)

_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
             "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"}


def wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


def render_receipt_page(request: Request, clue, poster) -> HTMLResponse:
    return templates.TemplateResponse(request, "qr_done.html", {"clue": clue, "poster": poster},
                                      status_code=201, headers=_NO_STORE)


@router.get("/qr/{poster_code}", response_class=HTMLResponse)
async def qr_page(poster_code: str, request: Request, session: SessionDep, principal: CurrentPrincipal):
    poster = await service.get_poster(session, code=poster_code, active_only=True)
    if poster is None:
        return templates.TemplateResponse(request, "qr_missing.html", {}, status_code=404, headers=_NO_STORE)
    return templates.TemplateResponse(request, "qr_report.html", {
        "poster": poster,
        "action": f"/api/v1/intake/qr/{poster.code}/reports",
        "max_count": request.app.state.settings.attachment_max_count,
    }, headers=_NO_STORE)
