"""Open311 GeoReport v2 (JSON and XML) so an existing civic-tech client (FixMyStreet's, say) can discover
the endpoint, report with photos, and follow its request.

Mapping: problem families and the 涉企 lane → ``service_code``; the unit a report was transferred to (by
name) or else the commission → ``agency_responsible``; our fine-grained status → ``status_notes`` with
``status`` only open/closed. Personal fields (names, phone, e-mail) are reporter identity: sealed like any
named report and never echoed back, and the request text is not shown either (it may identify the
reporter); a misconduct report's place is shown only to its district. Errors, here and from the gateway
(429 included), use the spec's ``[{code, description}]`` shape in the requested format, not problem+json.
"""

from __future__ import annotations

import codecs
import math
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from xml.etree.ElementTree import Element, SubElement, tostring

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from starlette.datastructures import UploadFile

from services.common.auth import CurrentPrincipal
from services.common.calendar import SHANGHAI
from services.common.db import SessionDep
from services.common.errors import Problem

from . import catalog, service
from .api import _read_form, _stage_all
from .attachments import StagedFile
from .models import clues, unit_names
from .schemas import ReporterIdentity
from .service.hotline import expected_datetime

router = APIRouter(prefix="/open311/v2", tags=["open311"])
_SERVICES = {s["service_code"]: s for s in catalog.OPEN311_SERVICES}
_CLOSED = {"concluded", "closed", "set_aside"}
MAX_DESCRIPTION = 4000
MAX_ADDRESS = 500
MAX_MEDIA_URL = 2000
MAX_FORM_BYTES = 64 * 1024  # a form without files: 4000 characters of description and the rest
MAX_FIELDS = 60


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
    """Open311 服务列表: our problem families and the 涉企 lane as GeoReport services (json or xml)."""
    if fmt not in FORMATS:
        return _error(404, "use services.json or services.xml")
    offered = [{**s, "metadata": False, "type": "realtime"} for s in catalog.OPEN311_SERVICES]
    return _answer(offered, fmt, root="services", item="service")


@router.get("/services/{service_code}.{fmt}")
async def service_definition(service_code: str, fmt: str, principal: CurrentPrincipal):
    """Open311 服务定义: no service takes attributes (metadata false)."""
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
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError(name)
    return value


class Open311Error(Exception):
    """An answer in the spec's error shape (``[{code, description}]``), raised from anywhere below."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


async def _urlencoded(request: Request) -> dict[str, str]:
    """The form as the client wrote it. Starlette reads a raw (unescaped) UTF-8 body as Latin-1, which
    turned Chinese text into mojibake; here the body is decoded in its declared charset (UTF-8 by default)
    and a body that is not valid in it is refused, never guessed."""
    charset = "utf-8"
    for param in request.headers.get("content-type", "").split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "charset" and value:
            charset = value.strip('"').lower()
    try:
        codecs.lookup(charset)
    except LookupError:
        raise Open311Error(400, f"不支持的字符集 {charset[:40]}，请使用 UTF-8") from None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise Open311Error(413, f"表单超过 {MAX_FORM_BYTES // 1024} KiB")
    try:
        pairs = parse_qsl(body.decode(charset), keep_blank_values=True, encoding=charset, errors="strict",
                          max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError:
        raise Open311Error(400, f"表单不是有效的 {charset.upper()} 编码文本") from None
    except ValueError:
        raise Open311Error(400, f"表单字段过多（至多 {MAX_FIELDS} 个）") from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        fields.setdefault(key, value)
    return fields


async def _multipart(request: Request, settings) -> tuple[dict[str, str], list[StagedFile]]:
    """A form with photos (FixMyStreet uploads them as file parts, e.g. ``media``): every file part is an
    attachment, checked and cleaned like a QR report's."""
    try:
        form = await _read_form(request, settings)
    except Problem as problem:
        raise Open311Error(413 if problem.status == 413 else 400, "表单无法读取：请以 multipart/form-data 或 "
                           "application/x-www-form-urlencoded 提交") from None
    try:
        fields: dict[str, str] = {}
        for key, value in form.multi_items():
            if isinstance(value, str):
                fields.setdefault(key, value)
        files = [v for _, v in form.multi_items() if isinstance(v, UploadFile) and (v.filename or v.size)]
        if len(files) > settings.attachment_max_count:
            raise Open311Error(413, f"附件至多 {settings.attachment_max_count} 个")
        try:
            staged = await _stage_all(files, settings)
        except Problem as problem:
            raise Open311Error(413 if problem.status == 413 else 400, f"附件无法接收：{problem.detail}") from None
    finally:
        await form.close()
    return fields, staged


def _place(address: str | None, lat: float | None, long: float | None) -> str | None:
    """The place officers read (``place`` in the staff view): the address, or the coordinates."""
    if address:
        return address
    if lat is not None and long is not None:
        return f"坐标（WGS84）：北纬 {lat:.6f}，东经 {long:.6f}"
    return None


def _clue_from(fields: dict[str, str], settings, staged: list[StagedFile]) -> service.NewClue:
    if any("\x00" in key or "\x00" in value for key, value in fields.items()):
        raise Open311Error(400, "请求含有空字符（NUL），无法受理")
    api_key = fields.get("api_key", "")
    if not api_key or (settings.open311_api_keys and api_key not in settings.open311_api_keys):
        raise Open311Error(403, "api_key 缺失或无效")
    service_code = fields.get("service_code", "")
    if service_code not in _SERVICES:
        raise Open311Error(400, "service_code 缺失或未知，可用的服务见 services.json")
    try:
        lat, long = _float(fields, "lat"), _float(fields, "long")
    except ValueError:
        raise Open311Error(400, "lat 和 long 须为数字（WGS84 经纬度）") from None
    if (lat is None) != (long is None) or (
            lat is not None and long is not None and not (-90 <= lat <= 90 and -180 <= long <= 180)):
        raise Open311Error(400, "lat 和 long 须同时给出，且在有效范围内（WGS84）")
    address = (fields.get("address_string") or fields.get("address_id") or "").strip() or None
    if lat is None and not address:
        raise Open311Error(400, "须给出地点：lat 与 long、address_string 或 address_id")
    if address and len(address) > MAX_ADDRESS:
        raise Open311Error(400, f"address_string 至多 {MAX_ADDRESS} 个字符")
    description = (fields.get("description") or "").strip()
    if not description:
        raise Open311Error(400, "description（问题描述）为必填项")
    if len(description) > MAX_DESCRIPTION:
        raise Open311Error(400, f"description 至多 {MAX_DESCRIPTION} 个字符")
    media_url = (fields.get("media_url") or "").strip() or None
    if media_url and (len(media_url) > MAX_MEDIA_URL or urlsplit(media_url).scheme not in ("http", "https")
                      or not urlsplit(media_url).netloc):
        raise Open311Error(400, "media_url 须为 http(s) 网址")
    name = "".join(p for p in (fields.get("last_name"), fields.get("first_name")) if p) or None
    reporter = ReporterIdentity(name=name, phone=fields.get("phone") or None, email=fields.get("email") or None)
    return service.NewClue(
        channel="open311", text=description, recorded_by="open311", category_hint=service_code,
        enterprise_related=service_code in catalog.OPEN311_ENTERPRISE_SERVICES,
        reporter=None if reporter.is_empty() else reporter, lat=lat, long=long, address=address,
        place=_place(address, lat, long), media_url=media_url, attachments=staged,
    )


_FORM_FIELDS = {
    "api_key": {"type": "string", "description": "平台发放的 api_key（必填）"},
    "service_code": {"type": "string", "enum": list(_SERVICES), "description": "问题类别，见 services.json（必填）"},
    "lat": {"type": "number", "description": "纬度（WGS84），与 long 同时给出"},
    "long": {"type": "number", "description": "经度（WGS84）"},
    "address_string": {"type": "string", "maxLength": MAX_ADDRESS, "description": "地址；无经纬度时必填"},
    "address_id": {"type": "string"},
    "description": {"type": "string", "maxLength": MAX_DESCRIPTION, "description": "问题描述（必填）"},
    "media_url": {"type": "string", "format": "uri", "description": "照片等媒体的网址（http/https，不会被抓取）"},
    "email": {"type": "string"}, "phone": {"type": "string"}, "first_name": {"type": "string"},
    "last_name": {"type": "string"}, "device_id": {"type": "string"}, "account_id": {"type": "string"},
}
_REQUEST_BODY = {"requestBody": {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": _FORM_FIELDS,
                                                     "required": ["api_key", "service_code", "description"]}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        **_FORM_FIELDS, "media": {"type": "array", "items": {"type": "string", "format": "binary"},
                                  "description": "照片等附件（任意文件字段名均可；至多 9 个）"}}}},
}}, "responses": {"200": {"description": "[{service_request_id, service_notice, account_id}]"},
                  "400": {"description": "[{code, description}]：请求有误"},
                  "403": {"description": "[{code, description}]：api_key 缺失或无效"},
                  "413": {"description": "[{code, description}]：表单或附件过大"},
                  "429": {"description": "[{code, description}]：请求过于频繁（网关）"}}}


@router.post("/requests.{fmt}", openapi_extra=_REQUEST_BODY)
async def create_request(fmt: str, request: Request, session: SessionDep, principal: CurrentPrincipal):
    """Open311 提交问题 (GeoReport v2 POST Service Request): form-encoded in UTF-8, or multipart with photos.
    ``fmt`` is ``json`` or ``xml``. Personal fields are sealed as the reporter's identity, never echoed."""
    if fmt not in FORMATS:
        return _error(404, "请提交到 requests.json 或 requests.xml")
    settings = request.app.state.settings
    content_type = request.headers.get("content-type", "")
    staged: list[StagedFile] = []
    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            fields = await _urlencoded(request)
        elif content_type.startswith("multipart/form-data"):
            fields, staged = await _multipart(request, settings)
        else:
            raise Open311Error(400, "请以 application/x-www-form-urlencoded 或 multipart/form-data 提交")
        clue = _clue_from(fields, settings, staged)
        for file in staged:
            await request.app.state.blobs.put(file)
        [outcome] = await service.accept_clues(session, request.app.state.outbox, settings, new=[clue])
    except Open311Error as error:
        return _error(error.status, error.description, fmt)
    except Problem as problem:
        return _error(400 if problem.status == 422 else problem.status, problem.detail, fmt)
    finally:
        for file in staged:
            file.path.unlink(missing_ok=True)
    return _answer([{
        "service_request_id": str(outcome.clue.id),
        "service_notice": f"已登记，受理编号 {outcome.clue.tracking_number}；是否立项由纪检监察机关研判决定",
        "account_id": None,
    }], fmt, root="service_requests", item="request")


# A district (区/县/旗), optionally after its province and city, at the head of a Chinese address; street
# words and digits cannot be part of it (so "…路1号小区" is not taken for a district).
_DISTRICT = re.compile(r"^(?:[^\d路街道号巷弄村组栋楼室]{1,10}?(?:省|自治区))?(?:[^\d路街道号巷弄村组栋楼室]{1,10}?市)?"
                       r"[^\d路街道号巷弄村组栋楼室]{1,8}?(?:区|县|旗)")


def coarse_address(address: str | None) -> str | None:
    """The district of an address, or nothing when none can be read off it."""
    match = _DISTRICT.match((address or "").strip())
    return match.group(0) if match else None


def _misconduct(row) -> bool:
    return row.category_hint == "misconduct" or row.family == "misconduct"


def _view(row, settings) -> dict[str, Any]:
    """A request as the public sees it. The text is never shown (it may identify the reporter); for a
    misconduct report (乱作为) the place is coarsened to the district and the coordinates and media left
    out, since they point at whoever stood there. Staff read the full place in the staff view."""
    offered = _SERVICES.get(row.category_hint or "", {})
    hidden = _misconduct(row)
    # received, kept or set aside: the commission answers for it, and no kept unit is named
    agency = row.unit_name if row.transferred and row.unit_id else settings.supervising_agency_name
    return {
        "service_request_id": str(row.id),
        "status": "closed" if row.status in _CLOSED else "open",
        "status_notes": catalog.STATUS_LABELS.get(row.status, row.status),
        "service_name": offered.get("service_name"),
        "service_code": row.category_hint,
        "description": None,
        "agency_responsible": agency,
        "service_notice": f"受理编号 {row.tracking_number}",
        "requested_datetime": _iso(row.received_at),
        "updated_datetime": _iso(row.updated_at or row.received_at),
        "expected_datetime": expected_datetime(row.deadline),
        "address": coarse_address(row.address) if hidden else row.address,
        "address_id": None,
        "zipcode": None,
        "lat": None if hidden else row.lat,
        "long": None if hidden else row.long,
        "media_url": None if hidden else row.media_url,
    }


def _requests():
    return (select(clues, unit_names.c.name.label("unit_name"))
            .outerjoin(unit_names, unit_names.c.unit_id == clues.c.unit_id)
            .where(clues.c.channel == "open311"))


# Instants PostgreSQL and Python both hold, with room for the 90-day window on either side.
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _instant(raw: str | None, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{name} 须为 ISO 8601 日期时间，例如 2026-11-01T00:00:00+08:00") from exc
    value = value if value.tzinfo else value.replace(tzinfo=SHANGHAI)
    if not _EARLIEST <= value <= _LATEST:
        raise ValueError(f"{name} 超出可查询的日期范围（1970 年至 9000 年）")
    return value


@router.get("/requests.{fmt}")
async def list_requests(fmt: str, request: Request, session: SessionDep, principal: CurrentPrincipal,
                        service_request_id: str | None = None, service_code: str | None = None,
                        start_date: str | None = None, end_date: str | None = None, status: str | None = None):
    """Open311 查询请求: ids (which override every other filter), or service_code, start_date/end_date
    (ISO 8601, at most 90 days apart) and status (open/closed). A misconduct report shows only its district."""
    if fmt not in FORMATS:
        return _error(404, "请使用 requests.json 或 requests.xml", fmt="json")
    if any("\x00" in value for value in request.query_params.values()):
        return _error(400, "查询参数含有空字符（NUL）", fmt)
    query = _requests().order_by(clues.c.received_at.desc())
    if service_request_id:
        try:
            wanted = [uuid.UUID(part.strip()) for part in service_request_id.split(",") if part.strip()]
        except ValueError:
            return _error(400, "service_request_id 须为以逗号分隔的请求编号", fmt)
        if len(wanted) > MAX_RESULTS:
            return _error(400, f"一次至多查询 {MAX_RESULTS} 个编号", fmt)
        query = query.where(clues.c.id.in_(wanted))
    else:
        try:
            start, end = _instant(start_date, "start_date"), _instant(end_date, "end_date")
        except ValueError as exc:
            return _error(400, str(exc), fmt)
        end = end or (start + MAX_WINDOW if start else datetime.now(UTC))
        start = start or end - MAX_WINDOW
        if start > end or end - start > MAX_WINDOW:
            return _error(400, "start_date 须早于 end_date，且相隔不超过 90 天", fmt)
        query = query.where(clues.c.received_at >= start, clues.c.received_at <= end)
        if service_code:
            query = query.where(clues.c.category_hint == service_code)
        if status == "closed":
            query = query.where(clues.c.status.in_(_CLOSED))
        elif status == "open":
            query = query.where(clues.c.status.not_in(_CLOSED))
        elif status:
            return _error(400, "status 只能是 open 或 closed", fmt)
    rows = (await session.execute(query.limit(MAX_RESULTS))).all()
    settings = request.app.state.settings
    return _answer([_view(row, settings) for row in rows], fmt, root="service_requests", item="request")


@router.get("/requests/{request_id}.{fmt}")
async def get_request(request_id: str, fmt: str, request: Request, session: SessionDep,
                      principal: CurrentPrincipal):
    """Open311 单个请求: status open/closed with the fine state in status_notes, the agency by name."""
    if fmt not in FORMATS:
        return _error(404, "请使用 .json 或 .xml", fmt="json")
    try:
        clue_id = uuid.UUID(request_id)
    except ValueError:
        return _error(404, "没有这个服务请求", fmt)
    row = (await session.execute(_requests().where(clues.c.id == clue_id))).first()
    if row is None:
        return _error(404, "没有这个服务请求", fmt)
    return _answer([_view(row, request.app.state.settings)], fmt, root="service_requests", item="request")


@router.get("/tokens/{token}.{fmt}")
async def get_token(token: str, fmt: str, principal: CurrentPrincipal):
    """Open311 token 查询: always 404, since ids are issued at once."""
    # Every request gets its id at once (never a token), so no token ever needs resolving.
    return _error(404, "本接口提交后即给出 service_request_id，不发放 token", fmt if fmt in FORMATS else "json")


# ---- discovery (the spec's service discovery document) ---------------------------------------------------

discovery_router = APIRouter(prefix="/open311", tags=["open311"])
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-01T00:00:00+08:00"  # when the endpoint's offer last changed


def discovery(settings) -> dict[str, Any]:
    base = settings.public_base_url.rstrip("/")
    return {
        "changeset": CHANGESET,
        "contact": settings.open311_contact,
        "key_service": settings.open311_key_service,
        "endpoints": [{
            "specification": SPECIFICATION,
            "url": f"{base}/open311/v2",
            "changeset": CHANGESET,
            "type": "production" if settings.environment == "production" else "test",
            "formats": ["text/xml", "application/json"],
        }],
    }


def _discovery_xml(document: dict[str, Any]) -> bytes:
    top = Element("discovery")
    for key in ("changeset", "contact", "key_service"):
        SubElement(top, key).text = document[key]
    endpoints = SubElement(top, "endpoints")
    for entry in document["endpoints"]:
        node = SubElement(endpoints, "endpoint")
        for key in ("specification", "url", "changeset", "type"):
            SubElement(node, key).text = entry[key]
        formats = SubElement(node, "formats")
        for media_type in entry["formats"]:
            SubElement(formats, "format").text = media_type
    return b'<?xml version="1.0" encoding="utf-8"?>' + tostring(top, encoding="unicode").encode()


@discovery_router.get("/discovery.{fmt}")
@discovery_router.get("/v2/discovery.{fmt}")
async def get_discovery(fmt: str, request: Request, principal: CurrentPrincipal):
    """服务发现: where the GeoReport v2 endpoint is and which formats it speaks (public)."""
    if fmt not in FORMATS:
        return _error(404, "请使用 discovery.json 或 discovery.xml")
    document = discovery(request.app.state.settings)
    if fmt == "xml":
        return Response(_discovery_xml(document), media_type="text/xml; charset=utf-8")
    return JSONResponse(document)
