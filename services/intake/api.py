"""Intake's HTTP routes: parse, authorise, call the service, shape the response."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response

from services.common.auth import CurrentPrincipal
from services.common.db import SessionDep
from services.common.errors import Problem

from . import service
from .schemas import ClueRead, HotlineReportCreate

router = APIRouter(prefix="/api/v1/intake", tags=["intake"])

HotlineLine = Literal["12388", "12345", "12380"]


@router.post("/feeds/{line}/reports", response_model=ClueRead, status_code=201)
async def post_hotline_report(
    line: HotlineLine, report: HotlineReportCreate, request: Request, response: Response,
    session: SessionDep, principal: CurrentPrincipal,
) -> ClueRead:
    """A hotline system pushes one ticket. Re-pushing the same ``external_id`` returns the original (200)."""
    if principal.kind == "hotline" and principal.line != line:
        raise Problem(403, f"This key may push to line {principal.line} only.", slug="forbidden-line")
    if principal.kind not in ("hotline", "staff"):
        raise Problem(403, "Hotline feeds are for hotline systems.", slug="forbidden-kind")
    clue, created = await service.accept_hotline_report(session, request.app.state.outbox, line=line, report=report)
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"/api/v1/intake/clues/{clue.id}"
    return clue
