"""Open311 GeoReport v2 (JSON) so an existing civic-tech client can report and follow its request.

Mapping: problem families and the 涉企 lane → ``service_code``; responsible unit → ``agency_responsible``;
our fine-grained status → ``status_notes`` with ``status`` only open/closed. Personal fields (names,
phone, e-mail) are reporter identity: sealed like any named report and never echoed back, and the
request text is not shown either (it may identify the reporter). Errors use the spec's
``[{code, description}]`` shape instead of problem+json.
"""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from services.common.auth import CurrentPrincipal
from services.common.db import SessionDep
from services.common.errors import Problem

from . import catalog, service
from .models import clues
from .schemas import ReporterIdentity

router = APIRouter(prefix="/open311/v2", tags=["open311"])
SHANGHAI = ZoneInfo("Asia/Shanghai")
_SERVICES = {s["service_code"]: s for s in catalog.OPEN311_SERVICES}
_CLOSED = {"concluded", "closed", "set_aside"}
MAX_DESCRIPTION = 4000


def _error(status: int, description: str) -> JSONResponse:
    return JSONResponse([{"code": status, "description": description}], status_code=status)


def _iso(value) -> str | None:
    return value.astimezone(SHANGHAI).isoformat() if value else None


@router.get("/services.json")
async def list_services(principal: CurrentPrincipal) -> list[dict[str, Any]]:
    return [{**s, "metadata": False, "type": "realtime"} for s in catalog.OPEN311_SERVICES]


@router.get("/services/{service_code}.json")
async def service_definition(service_code: str, principal: CurrentPrincipal):
    if service_code not in _SERVICES:
        return _error(404, f"unknown service_code {service_code}")
    return {"service_code": service_code, "attributes": []}


def _float(form, name: str) -> float | None:
    raw = form.get(name)
    if raw in (None, ""):
        return None
    return float(raw)


@router.post("/requests.json")
async def create_request(request: Request, session: SessionDep, principal: CurrentPrincipal):
    settings = request.app.state.settings
    if not request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        return _error(400, "send the request form-encoded (application/x-www-form-urlencoded)")
    async with request.form(max_files=0, max_fields=50) as form:
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
    api_key = fields.get("api_key", "")
    if not api_key or (settings.open311_api_keys and api_key not in settings.open311_api_keys):
        return _error(403, "api_key is missing or not valid")
    service_code = fields.get("service_code", "")
    if service_code not in _SERVICES:
        return _error(400, "service_code is missing or unknown; see services.json")
    try:
        lat, long = _float(fields, "lat"), _float(fields, "long")
    except ValueError:
        return _error(400, "lat and long must be numbers")
    if (lat is None) != (long is None) or (lat is not None and not (-90 <= lat <= 90 and -180 <= long <= 180)):
        return _error(400, "give both lat and long (WGS84)")
    address = fields.get("address_string") or fields.get("address_id")
    if lat is None and not address:
        return _error(400, "a location is required: lat and long, address_string or address_id")
    description = (fields.get("description") or "").strip()
    if not description:
        return _error(400, "description is required")
    if len(description) > MAX_DESCRIPTION:
        return _error(400, f"description is longer than {MAX_DESCRIPTION} characters")
    name = "".join(p for p in (fields.get("last_name"), fields.get("first_name")) if p) or None
    reporter = ReporterIdentity(name=name, phone=fields.get("phone") or None, email=fields.get("email") or None)
    clue = service.NewClue(
        channel="open311", text=description, recorded_by="open311", category_hint=service_code,
        enterprise_related=service_code in catalog.OPEN311_ENTERPRISE_SERVICES,
        reporter=None if reporter.is_empty() else reporter, lat=lat, long=long, address=address,
    )
    try:
        [outcome] = await service.accept_clues(session, request.app.state.outbox, settings, new=[clue])
    except Problem as problem:
        return _error(problem.status, problem.detail)
    return [{
        "service_request_id": str(outcome.clue.id),
        "service_notice": f"已受理，受理编号 {outcome.clue.tracking_number}",
        "account_id": None,
    }]


@router.get("/requests/{request_id}.json")
async def get_request(request_id: str, session: SessionDep, principal: CurrentPrincipal):
    try:
        clue_id = uuid.UUID(request_id)
    except ValueError:
        return _error(404, "no such service request")
    row = (await session.execute(select(clues).where(clues.c.id == clue_id, clues.c.channel == "open311"))).first()
    if row is None:
        return _error(404, "no such service request")
    offered = _SERVICES.get(row.category_hint or "", {})
    return [{
        "service_request_id": str(row.id),
        "status": "closed" if row.status in _CLOSED else "open",
        "status_notes": catalog.STATUS_LABELS.get(row.status, row.status),
        "service_name": offered.get("service_name"),
        "service_code": row.category_hint,
        "description": None,
        "agency_responsible": row.unit_id,
        "service_notice": f"受理编号 {row.tracking_number}",
        "requested_datetime": _iso(row.received_at),
        "updated_datetime": _iso(row.updated_at or row.received_at),
        "expected_datetime": None,
        "address": row.address,
        "address_id": None,
        "zipcode": None,
        "lat": row.lat,
        "long": row.long,
        "media_url": None,
    }]
