"""Intake's HTTP routes: parse, authorise, call the service, shape the response."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import orjson
import qrcode
import qrcode.image.svg
from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from services.common import audit
from services.common.auth import CurrentPrincipal, Principal, ensure_unit_scope, require_roles
from services.common.db import SessionDep, session_scope
from services.common.errors import Problem

from . import catalog, citizen_pages, service
from .attachments import StagedFile, stage_upload, staging_dir
from .models import audit_log
from .pages import render_receipt_page, wants_html
from .schemas import (
    AttachmentRead,
    BatchCreate,
    BatchResult,
    ClueAccepted,
    ClueDetail,
    ClueRead,
    IdentityRevealed,
    IdentityRevealRequest,
    PosterCreate,
    PosterPage,
    PosterRead,
    PosterUpdate,
    QrFormFields,
    ReceiptStatus,
    StaffReportCreate,
)

router = APIRouter(prefix="/api/v1/intake", tags=["intake"])

HotlineLine = Literal["12388", "12345", "12380"]
READERS = ("triage_officer", "investigator", "org_officer", "auditor", "unit_handler")
StaffReader = Annotated[Principal, require_roles(*READERS)]
StaffIntake = Annotated[Principal, require_roles(*catalog.STAFF_INTAKE_ROLES)]
PosterKeeper = Annotated[Principal, require_roles("triage_officer")]
Investigator = Annotated[Principal, require_roles("investigator")]


def _authorise_feed(principal: Principal, line: str) -> None:
    if principal.kind == "hotline":
        if principal.line != line:
            raise Problem(403, f"This key may push to line {principal.line} only.", slug="forbidden-line")
    elif principal.kind != "staff":
        raise Problem(403, "Hotline feeds are for hotline systems.", slug="forbidden-kind")


@router.get("/catalog")
async def get_catalog(principal: CurrentPrincipal) -> dict[str, Any]:
    """Channels, statuses and their transitions, hotline field mappings, attachment types."""
    return catalog.catalog()


@router.post("/feeds/{line}/reports", response_model=ClueRead, status_code=201)
async def post_hotline_report(
    line: HotlineLine, payload: Annotated[dict[str, Any], Body()], request: Request, response: Response,
    session: SessionDep, principal: CurrentPrincipal,
) -> ClueRead:
    """A hotline system pushes one ticket. Re-pushing the same ticket id returns the original (200)."""
    _authorise_feed(principal, line)
    report = service.parse_hotline_report(line, payload)
    [outcome] = await service.accept_clues(
        session, request.app.state.outbox, request.app.state.settings,
        new=[service.hotline_clue(line, report, principal.subject)])
    if not outcome.created:
        response.status_code = 200
    response.headers["Location"] = f"/api/v1/intake/clues/{outcome.clue.id}"
    return outcome.read()


@router.post("/feeds/{line}/reports:batch", response_model=BatchResult)
async def post_hotline_batch(
    line: HotlineLine, batch: BatchCreate, request: Request, session: SessionDep, principal: CurrentPrincipal,
) -> BatchResult:
    """Up to 500 tickets; each gets its own result, and invalid ones never hold back the valid ones."""
    _authorise_feed(principal, line)
    results = await service.accept_hotline_batch(
        session, request.app.state.outbox, request.app.state.settings,
        line=line, payloads=batch.reports, recorded_by=principal.subject)
    counts = {o: sum(1 for r in results if r["outcome"] == o) for o in ("created", "duplicate", "rejected")}
    # Serialised directly: the items are built by the service in BatchResult's shape, and validating 500 of
    # them twice more (model, then response_model) is a visible share of a batch's time.
    return Response(orjson.dumps({"created": counts["created"], "duplicates": counts["duplicate"],
                                  "rejected": counts["rejected"], "results": results}, default=str),
                    media_type="application/json")  # type: ignore[return-value]


@router.post("/reports", response_model=ClueAccepted, status_code=201)
async def post_staff_report(
    report: StaffReportCreate, request: Request, response: Response, session: SessionDep,
    principal: StaffIntake,
) -> ClueAccepted:
    """Staff enter a clue from a petition, the media, an online platform, the desk, an inspection or the
    mayor's line; the staff member is recorded as ``recorded_by``."""
    clue = service.NewClue(
        channel=report.channel, text=report.text, recorded_by=f"staff:{principal.subject}",
        subject=report.subject, unit_id=report.unit_id, place=report.place,
        enterprise_related=report.enterprise_related, external_id=report.external_id,
        category_hint=report.category_hint, reporter=report.reporter, issue_receipt=report.issue_receipt,
    )
    [outcome] = await service.accept_clues(session, request.app.state.outbox, request.app.state.settings, new=[clue])
    if not outcome.created:
        response.status_code = 200
    response.headers["Location"] = f"/api/v1/intake/clues/{outcome.clue.id}"
    return ClueAccepted(**outcome.read().model_dump(), receipt_code=outcome.receipt_code)


@router.get("/clues/{clue_id}", response_model=ClueDetail)
async def get_clue(clue_id: uuid.UUID, session: SessionDep,
                   principal: StaffReader) -> ClueDetail:
    """A clue as staff see it; never the reporter's identity."""
    row = await service.get_clue(session, clue_id=clue_id)
    if row is None:
        raise Problem(404, "No such clue.", slug="not-found")
    ensure_unit_scope(principal, row.unit_id)
    return ClueDetail.model_validate(row._mapping)


@router.get("/clues/{clue_id}/attachments", response_model=list[AttachmentRead])
async def list_attachments(clue_id: uuid.UUID, session: SessionDep,
                           principal: StaffReader) -> list[AttachmentRead]:
    """A clue's attachments for staff (never served to the public)."""
    clue = await service.get_clue(session, clue_id=clue_id)
    if clue is None:
        raise Problem(404, "No such clue.", slug="not-found")
    ensure_unit_scope(principal, clue.unit_id)
    return [AttachmentRead.model_validate(a._mapping) for a in await service.list_attachments(session, clue_id=clue_id)]


@router.get("/clues/{clue_id}/attachments/{attachment_id}")
async def get_attachment(clue_id: uuid.UUID, attachment_id: uuid.UUID, request: Request, session: SessionDep,
                         principal: StaffReader) -> Response:
    clue = await service.get_clue(session, clue_id=clue_id)
    if clue is None:
        raise Problem(404, "No such clue.", slug="not-found")
    ensure_unit_scope(principal, clue.unit_id)
    found = [a for a in await service.list_attachments(session, clue_id=clue_id) if a.id == attachment_id]
    if not found:
        raise Problem(404, "No such attachment.", slug="not-found")
    content = await request.app.state.blobs.get(found[0].sha256)
    return Response(content, media_type=found[0].media_type, headers={
        "Content-Disposition": "attachment", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


@router.post("/clues/{clue_id}/identity:reveal", response_model=IdentityRevealed)
async def reveal_identity(
    clue_id: uuid.UUID, body: IdentityRevealRequest, request: Request,
    principal: Investigator,
) -> IdentityRevealed:
    """查看实名举报人身份: investigators only, with a reason; the audit entry commits before the answer."""
    async with session_scope(request.app.state.sessions) as session:
        identity = await service.open_identity(session, request.app.state.settings, clue_id=clue_id)
        if identity is None:
            raise Problem(404, "This clue has no named reporter.", slug="no-identity")
        await audit.record(session, audit_log, actor=principal, action="reveal_identity", entity_type="clue",
                           entity_id=str(clue_id), details={"reason": body.reason})
    return IdentityRevealed(clue_id=clue_id, **identity)


# ---- posters -------------------------------------------------------------------------------------------


def _poster_read(row, settings) -> PosterRead:
    return PosterRead(**row._mapping, page_url=f"{settings.public_base_url.rstrip('/')}/qr/{row.code}")


@router.post("/posters", response_model=PosterRead, status_code=201)
async def post_poster(body: PosterCreate, request: Request, session: SessionDep,
                      principal: PosterKeeper) -> PosterRead:
    if body.code and await service.get_poster(session, code=body.code):
        raise Problem(409, f"Poster code {body.code} is taken.", slug="poster-exists")
    row = await service.create_poster(session, code=body.code, unit_id=body.unit_id, place=body.place,
                                      title=body.title, created_by=principal.subject)
    await audit.record(session, audit_log, actor=principal, action="create_poster", entity_type="poster",
                       entity_id=row.code, details={"unit_id": body.unit_id})
    return _poster_read(row, request.app.state.settings)


@router.patch("/posters/{code}", response_model=PosterRead)
async def patch_poster(code: str, body: PosterUpdate, request: Request, session: SessionDep,
                       principal: PosterKeeper) -> PosterRead:
    """Move a poster to another unit or place, or withdraw it (its page then says the code is invalid)."""
    changes = body.model_dump(exclude_unset=True)
    row = await service.update_poster(session, code=code, changes=changes)
    if row is None:
        raise Problem(404, "No such poster.", slug="unknown-poster")
    await audit.record(session, audit_log, actor=principal, action="update_poster", entity_type="poster",
                       entity_id=code, details=changes)
    return _poster_read(row, request.app.state.settings)


@router.get("/posters", response_model=PosterPage)
async def list_posters(request: Request, session: SessionDep, principal: StaffReader,
                       cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> PosterPage:
    unit = principal.unit_id if principal.roles == frozenset({"unit_handler"}) else None
    rows, next_cursor = await service.list_posters(session, after=cursor, limit=limit, unit_id=unit)
    return PosterPage(items=[_poster_read(r, request.app.state.settings) for r in rows], next_cursor=next_cursor)


async def _poster_for(session, principal: Principal, code: str):
    row = await service.get_poster(session, code=code)
    if row is None:
        raise Problem(404, "No such poster.", slug="unknown-poster")
    ensure_unit_scope(principal, row.unit_id)
    return row


@router.get("/posters/{code}", response_model=PosterRead)
async def get_poster(code: str, request: Request, session: SessionDep,
                     principal: StaffReader) -> PosterRead:
    return _poster_read(await _poster_for(session, principal, code), request.app.state.settings)


@router.get("/posters/{code}/qr.{fmt}")
async def get_poster_qr(code: str, fmt: Literal["svg", "png"], request: Request, session: SessionDep,
                        principal: StaffReader) -> Response:
    """The QR code to print on the poster; it opens ``GET /qr/{code}``."""
    row = await _poster_for(session, principal, code)
    url = _poster_read(row, request.app.state.settings).page_url
    if fmt == "svg":
        image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=4)
        return Response(image.to_string(encoding="unicode"), media_type="image/svg+xml")
    buffer = io.BytesIO()
    qrcode.make(url, box_size=10, border=4).save(buffer)
    return Response(buffer.getvalue(), media_type="image/png")


# ---- QR reports (随手拍) --------------------------------------------------------------------------------


async def _limited(stream: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """Refuse a body as soon as it grows past ``limit`` (the gateway streams, so no Content-Length)."""
    seen = 0
    async for chunk in stream:
        seen += len(chunk)
        if seen > limit:
            raise Problem(413, "The report with its attachments is too large.", slug="report-too-large")
        yield chunk


async def _read_form(request: Request, settings) -> FormData:
    content_type = request.headers.get("content-type", "")
    body_limit = settings.attachment_max_count * settings.attachment_max_bytes + 1024 * 1024
    stream = _limited(request.stream(), body_limit)
    try:
        if content_type.startswith("multipart/form-data"):
            return await MultiPartParser(request.headers, stream, max_files=settings.attachment_max_count,
                                         max_fields=20, max_part_size=256 * 1024).parse()
        if content_type.startswith("application/x-www-form-urlencoded"):
            return await FormParser(request.headers, stream).parse()
    except MultiPartException as exc:
        raise Problem(413 if "Too many" in str(exc) else 422, f"The form could not be read: {exc}",
                      slug="form-invalid") from None
    raise Problem(415, "Send the report as multipart/form-data.", slug="unsupported-media-type")


async def _stage_all(files: list[UploadFile], settings) -> list[StagedFile]:
    staged: list[StagedFile] = []
    try:
        for upload in files:
            staged.append(await asyncio.to_thread(
                stage_upload, upload.file, staging_dir=staging_dir(settings),
                max_bytes=settings.attachment_max_bytes))
    except BaseException:
        for s in staged:
            s.path.unlink(missing_ok=True)
        raise
    return staged


@router.post("/qr/{poster_code}/reports", response_model=ClueAccepted, status_code=201)
async def post_qr_report(poster_code: str, request: Request, session: SessionDep,
                         principal: CurrentPrincipal) -> Response | ClueAccepted:
    """A report from a poster's page (multipart: text fields + ``attachments``), pre-routed to its unit."""
    settings = request.app.state.settings
    # A short transaction of its own: no pooled connection is held while a phone uploads a video.
    async with session_scope(request.app.state.sessions) as lookup:
        poster = await service.get_poster(lookup, code=poster_code, active_only=True)
    if poster is None:
        raise Problem(404, "This poster code is unknown or withdrawn.", slug="unknown-poster")
    form = await _read_form(request, settings)
    form_token = form.get("form_token") if wants_html(request) else None
    form_token = form_token if isinstance(form_token, str) and 16 <= len(form_token) <= 64 else None
    try:
        try:
            fields = QrFormFields.model_validate({k: v for k, v in form.multi_items() if isinstance(v, str)})
        except ValidationError as exc:
            raise Problem(422, "The report is incomplete.", slug="validation",
                          errors=service.safe_errors(exc)) from None
        files = [f for f in form.getlist("attachments") if isinstance(f, UploadFile) and (f.filename or f.size)]
        if len(files) > settings.attachment_max_count:
            raise Problem(413, f"At most {settings.attachment_max_count} attachments.", slug="too-many-attachments")
        staged = await _stage_all(files, settings)
    finally:
        await form.close()
    try:
        for s in staged:
            await request.app.state.blobs.put(s)
    finally:
        for s in staged:
            s.path.unlink(missing_ok=True)
    clue = service.NewClue(
        channel="qr_code", text=fields.text, recorded_by="public", subject=fields.subject,
        unit_id=poster.unit_id, place=poster.place, poster_code=poster.code,
        enterprise_related=fields.enterprise_related, reporter=fields.reporter(), issue_receipt=True,
        attachments=staged,
    )
    # Post/Redirect/Get: the form's one-time token files once; a reload or a resubmission is redirected.
    if form_token is not None and not await citizen_pages.reserve(session, token=form_token, poster_code=poster.code):
        return citizen_pages.qr_done_redirect(poster.code, form_token)
    [outcome] = await service.accept_clues(session, request.app.state.outbox, settings, new=[clue])
    accepted = ClueAccepted(**outcome.read().model_dump(), receipt_code=outcome.receipt_code)
    if form_token is not None:
        await citizen_pages.remember(session, settings, token=form_token, clue_id=accepted.id,
                                     tracking_number=accepted.tracking_number, receipt_code=outcome.receipt_code)
        return citizen_pages.qr_done_redirect(poster.code, form_token)
    if wants_html(request):
        return render_receipt_page(request, accepted, poster)
    return accepted


# ---- receipts ------------------------------------------------------------------------------------------


@router.get("/receipts/{code}", response_model=ReceiptStatus)
async def get_receipt(code: str, request: Request, session: SessionDep, principal: CurrentPrincipal) -> ReceiptStatus:
    """进度查询 by receipt code: status and the feedback messages; rate limited per client."""
    client = principal.client or principal.subject
    if not request.app.state.receipt_limiter.allow(client):
        raise Problem(429, "Too many receipt lookups; try again in a minute.", slug="rate-limited",
                      headers={"Retry-After": "60"})
    clue_id = await service.find_receipt_clue(session, request.app.state.settings, code=code)
    if clue_id is None:
        raise Problem(404, "No report has this receipt code.", slug="unknown-receipt")
    return ReceiptStatus.model_validate(await service.receipt_status(session, clue_id=clue_id))
