"""Open311 GeoReport v2 (JSON) so an existing civic-tech client can report and follow its request.

Mapping: problem families and the 涉企 lane → ``service_code``; responsible unit → ``agency_responsible``;
our fine-grained status → ``status_notes`` with ``status`` only open/closed. Personal fields (names,
phone, e-mail) are reporter identity: sealed like any named report and never echoed back, and the
request text is not shown either (it may identify the reporter). Errors use the spec's
``[{code, description}]`` shape instead of problem+json.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
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


FORMATS = ("json", "xml")
MAX_RESULTS = 1000
MAX_WINDOW = timedelta(days=90)


def _xml(items: list[dict[str, Any]], root: str, item: str) -> bytes:
    top = Element(root)
    for entry in items:
        node = SubElement(top, item)
        for key, value in entry.items():
            SubElement(node, key).text = "" if value is None else str(value).lower() if isinstance(value, bool) \
                else str(value)
    return b'<?xml version="1.0" encoding="utf-8"?>' + tostring(top, encoding="unicode").encode()


def _answer(items: list[dict[str, Any]], fmt: str, *, root: str, item: str, status: int = 200) -> Response:
    """The spec's JSON list, or its XML with the same field names (XML is the spec's default format)."""
    if fmt == "xml":
        return Response(_xml(items, root, item), status_code=status, media_type="text/xml; charset=utf-8")
    return JSONResponse(items, status_code=status)


def _error(status: int, description: str, fmt: str = "json") -> Response:
    return _answer([{"code": status, "description": description}], fmt, root="errors", item="error", status=status)


def _iso(value) -> str | None:
    return value.astimezone(SHANGHAI).isoformat() if value else None


@router.get("/services.{fmt}")
async def list_services(fmt: str, principal: CurrentPrincipal):
    if fmt not in FORMATS:
        return _error(404, "use services.json or services.xml")
    offered = [{**s, "metadata": False, "type": "realtime"} for s in catalog.OPEN311_SERVICES]
    return _answer(offered, fmt, root="services", item="service")


@router.get("/services/{service_code}.{fmt}")
async def service_definition(service_code: str, fmt: str, principal: CurrentPrincipal):
    fmt = fmt if fmt in FORMATS else "json"
    if service_code not in _SERVICES:
        return _error(404, f"unknown service_code {service_code}", fmt)
    if fmt == "xml":  # no attributes: our services take no metadata
        return Response(f'<?xml version="1.0" encoding="utf-8"?><service_definition><service_code>{service_code}'
                        "</service_code><attributes/></service_definition>", media_type="text/xml; charset=utf-8")
    return {"service_code": service_code, "attributes": []}


def _float(form, name: str) -> float | None:
    raw = form.get(name)
    if raw in (None, ""):
        return None
    return float(raw)


@router.post("/requests.{fmt}")
async def create_request(fmt: str, request: Request, session: SessionDep, principal: CurrentPrincipal):
    if fmt not in FORMATS:
        return _error(404, "post to requests.json or requests.xml")
    settings = request.app.state.settings
    if not request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        return _error(400, "send the request form-encoded (application/x-www-form-urlencoded)", fmt)
    async with request.form(max_files=0, max_fields=50) as form:
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
    api_key = fields.get("api_key", "")
    if not api_key or (settings.open311_api_keys and api_key not in settings.open311_api_keys):
        return _error(403, "api_key is missing or not valid", fmt)
    service_code = fields.get("service_code", "")
    if service_code not in _SERVICES:
        return _error(400, "service_code is missing or unknown; see services.json", fmt)
    try:
        lat, long = _float(fields, "lat"), _float(fields, "long")
    except ValueError:
        return _error(400, "lat and long must be numbers", fmt)
    if (lat is None) != (long is None) or (lat is not None and not (-90 <= lat <= 90 and -180 <= long <= 180)):
        return _error(400, "give both lat and long (WGS84)", fmt)
    address = fields.get("address_string") or fields.get("address_id")
    if lat is None and not address:
        return _error(400, "a location is required: lat and long, address_string or address_id", fmt)
    description = (fields.get("description") or "").strip()
    if not description:
        return _error(400, "description is required", fmt)
    if len(description) > MAX_DESCRIPTION:
        return _error(400, f"description is longer than {MAX_DESCRIPTION} characters", fmt)
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
        return _error(problem.status, problem.detail, fmt)
    return _answer([{
        "service_request_id": str(outcome.clue.id),
        "service_notice": f"已受理，受理编号 {outcome.clue.tracking_number}",
        "account_id": None,
    }], fmt, root="service_requests", item="request")


def _expected(deadline) -> str | None:
    # A deadline is a working day; the unit has until that day's end.
    return datetime.combine(deadline, time(23, 59, 59), SHANGHAI).isoformat() if deadline else None


def _view(row) -> dict[str, Any]:
    offered = _SERVICES.get(row.category_hint or "", {})
    return {
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
        "expected_datetime": _expected(row.deadline),
        "address": row.address,
        "address_id": None,
        "zipcode": None,
        "lat": row.lat,
        "long": row.long,
        "media_url": None,
    }


def _instant(raw: str | None, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{name} must be an ISO 8601 date-time") from exc
    return value if value.tzinfo else value.replace(tzinfo=SHANGHAI)


@router.get("/requests.{fmt}")
async def list_requests(fmt: str, session: SessionDep, principal: CurrentPrincipal,
                        service_request_id: str | None = None, service_code: str | None = None,
                        start_date: str | None = None, end_date: str | None = None, status: str | None = None):
    """The spec's query: ids (which override every other filter), or service, window and status."""
    if fmt not in FORMATS:
        return _error(404, "use requests.json or requests.xml", fmt="json")
    query = select(clues).where(clues.c.channel == "open311").order_by(clues.c.received_at.desc())
    if service_request_id:
        try:
            wanted = [uuid.UUID(part.strip()) for part in service_request_id.split(",") if part.strip()]
        except ValueError:
            return _error(400, "service_request_id must be a comma-separated list of request ids", fmt)
        if len(wanted) > MAX_RESULTS:
            return _error(400, f"ask for at most {MAX_RESULTS} ids", fmt)
        query = query.where(clues.c.id.in_(wanted))
    else:
        try:
            start, end = _instant(start_date, "start_date"), _instant(end_date, "end_date")
        except ValueError as exc:
            return _error(400, str(exc), fmt)
        end = end or (start + MAX_WINDOW if start else datetime.now(UTC))
        start = start or end - MAX_WINDOW
        if start > end or end - start > MAX_WINDOW:
            return _error(400, "start_date must precede end_date, at most 90 days apart", fmt)
        query = query.where(clues.c.received_at >= start, clues.c.received_at <= end)
        if service_code:
            query = query.where(clues.c.category_hint == service_code)
        if status == "closed":
            query = query.where(clues.c.status.in_(_CLOSED))
        elif status == "open":
            query = query.where(clues.c.status.not_in(_CLOSED))
        elif status:
            return _error(400, "status is open or closed", fmt)
    rows = (await session.execute(query.limit(MAX_RESULTS))).all()
    return _answer([_view(row) for row in rows], fmt, root="service_requests", item="request")


@router.get("/requests/{request_id}.{fmt}")
async def get_request(request_id: str, fmt: str, session: SessionDep, principal: CurrentPrincipal):
    if fmt not in FORMATS:
        return _error(404, "use .json or .xml", fmt="json")
    try:
        clue_id = uuid.UUID(request_id)
    except ValueError:
        return _error(404, "no such service request", fmt)
    row = (await session.execute(select(clues).where(clues.c.id == clue_id, clues.c.channel == "open311"))).first()
    if row is None:
        return _error(404, "no such service request", fmt)
    return _answer([_view(row)], fmt, root="service_requests", item="request")


@router.get("/tokens/{token}.{fmt}")
async def get_token(token: str, fmt: str, principal: CurrentPrincipal):
    # Every request gets its id at once (never a token), so no token ever needs resolving.
    return _error(404, "this endpoint issues service_request_id at once, never tokens", fmt if fmt in FORMATS else "json")
