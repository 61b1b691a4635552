"""Intake's HTTP routes: parse, authorise, call the service, shape the response."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Any, Literal

import orjson
import qrcode
import qrcode.image.svg
from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from services.common import audit
from services.common.auth import CurrentPrincipal, Principal, require_roles
from services.common.db import SessionDep, session_scope
from services.common.errors import Problem
from services.common.scope import Scope, scope_of
from services.common.text import ensure_storable

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
    ClueForUnit,
    ClueRead,
    HotlineTicketStatus,
    IdentityRevealed,
    IdentityRevealRequest,
    PosterCreate,
    PosterPage,
    PosterRead,
    PosterUpdate,
    QrFormFields,
    ReceiptStatus,
    RevealApprovalCreate,
    RevealApprovalRead,
    StaffReportCreate,
)

router = APIRouter(prefix="/api/v1/intake", tags=["intake"])

HotlineLine = Literal["12388", "12345", "12380"]
READERS = ("triage_officer", "investigator", "org_officer", "auditor", "unit_handler")
StaffReader = Annotated[Principal, require_roles(*READERS)]
StaffIntake = Annotated[Principal, require_roles(*catalog.STAFF_INTAKE_ROLES)]
PosterKeeper = Annotated[Principal, require_roles("triage_officer")]
# Revealing a reporter is for investigators alone: admin is not let through (R-IN-4).
Investigator = Annotated[Principal, require_roles("investigator", admin_passes=False)]


def _authorise_feed(principal: Principal, line: str) -> None:
    """Feeds are for the line's own hotline key, and for triage officers entering a line's ticket by hand.

    No other staff role: a unit handler re-pushing another unit's ticket id would get that clue's id and
    status back as the duplicate answer. A duplicate is found per line (the channel is the line's), so the
    answer only ever goes to a caller of the line that owns the ticket."""
    if principal.kind == "hotline":
        if principal.line != line:
            raise Problem(403, f"此密钥只能推送 {principal.line} 热线的工单。", slug="forbidden-line")
        return
    if principal.kind == "staff" and "triage_officer" in principal.roles and "unit_handler" not in principal.roles:
        return
    raise Problem(403, f"{line} 热线推送接口只供该热线系统及线索分办人员使用。", slug="forbidden-kind")


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


@router.get("/feeds/{line}/reports/{external_id}", response_model=HotlineTicketStatus)
async def get_hotline_report(line: HotlineLine, external_id: str, session: SessionDep,
                             principal: CurrentPrincipal) -> HotlineTicketStatus:
    """热线回告 by pull: a line asks by its own ticket id what became of it (signed like the push). A line
    sees only its own tickets; staff only the triage officer."""
    if principal.kind == "hotline":
        if principal.line != line:
            raise Problem(403, f"此密钥只能查询 {principal.line} 线路的工单。", slug="forbidden-line")
    elif not (principal.kind == "staff" and principal.has_role("triage_officer")):
        raise Problem(403, "工单状态只向报送该工单的热线系统开放。", slug="forbidden-kind")
    if "\x00" in external_id or len(external_id) > 200:
        raise Problem(400, "工单编号无效。", slug="ticket-id-invalid")
    found = await service.ticket_status(session, line=line, external_id=external_id)
    if found is None:
        raise Problem(404, f"本线路没有编号为 {external_id} 的工单。", slug="unknown-ticket")
    return HotlineTicketStatus.model_validate(found)


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


async def _visible_clue(session, principal: Principal, clue_id: uuid.UUID) -> tuple[Scope, Any]:
    """The clue if the caller may see it (a unit handler: only one transferred to its unit), else 404."""
    scope = scope_of(principal)
    row = await service.get_clue(session, clue_id=clue_id)
    scope.require(row is not None and scope.sees_clue(row.unit_id, transferred=row.status == "transferred"),
                  "线索")
    return scope, row


@router.get("/clues/{clue_id}", response_model=ClueDetail | ClueForUnit)
async def get_clue(clue_id: uuid.UUID, session: SessionDep,
                   principal: StaffReader) -> ClueDetail | ClueForUnit:
    """A clue as staff see it; never the reporter's identity (and to a unit, not even whether it is named
    or who recorded it)."""
    scope, row = await _visible_clue(session, principal, clue_id)
    if scope.unit_bound:
        return ClueForUnit.model_validate(scope.redact(dict(row._mapping)))
    return ClueDetail.model_validate(row._mapping)


@router.get("/clues/{clue_id}/attachments", response_model=list[AttachmentRead])
async def list_attachments(clue_id: uuid.UUID, session: SessionDep,
                           principal: StaffReader) -> list[AttachmentRead]:
    """A clue's attachments for staff (never served to the public)."""
    await _visible_clue(session, principal, clue_id)
    return [AttachmentRead.model_validate(a._mapping) for a in await service.list_attachments(session, clue_id=clue_id)]


@router.get("/clues/{clue_id}/attachments/{attachment_id}")
async def get_attachment(clue_id: uuid.UUID, attachment_id: uuid.UUID, request: Request, session: SessionDep,
                         principal: StaffReader) -> Response:
    await _visible_clue(session, principal, clue_id)
    found = [a for a in await service.list_attachments(session, clue_id=clue_id) if a.id == attachment_id]
    if not found:
        raise Problem(404, "No such attachment.", slug="not-found")
    content = await request.app.state.blobs.get(found[0].sha256)
    return Response(content, media_type=found[0].media_type, headers={
        "Content-Disposition": "attachment", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


@router.post("/clues/{clue_id}/identity:approvals", response_model=RevealApprovalRead, status_code=201)
async def approve_identity_reveal(
    clue_id: uuid.UUID, body: RevealApprovalCreate, request: Request, session: SessionDep, principal: Investigator,
) -> RevealApprovalRead:
    """审批查看举报人身份: another investigator approves one reveal, for one investigator and a named case."""
    row = await service.approve_reveal(
        session, clue_id=clue_id, investigator=body.investigator, case_number=body.case_number,
        reason=body.reason, approved_by=principal.subject,
        valid_hours=request.app.state.settings.reveal_approval_hours)
    await audit.record(session, audit_log, actor=principal, action="approve_identity_reveal", entity_type="clue",
                       entity_id=str(clue_id), details={"approval_id": str(row.id), "investigator": body.investigator,
                                                         "case_number": body.case_number, "reason": body.reason})
    return RevealApprovalRead.model_validate(row._mapping)


@router.post("/clues/{clue_id}/identity:reveal", response_model=IdentityRevealed)
async def reveal_identity(
    clue_id: uuid.UUID, body: IdentityRevealRequest, request: Request,
    principal: Investigator,
) -> IdentityRevealed:
    """查看实名举报人身份: an investigator, with a reason and another investigator's approval for this clue
    (used up by the reveal); the audit entry commits before the answer."""
    async with session_scope(request.app.state.sessions) as session:
        identity = await service.open_identity(session, request.app.state.settings, clue_id=clue_id)
        if identity is None:
            raise Problem(404, "This clue has no named reporter.", slug="no-identity")
        approval = await service.claim_approval(session, clue_id=clue_id, investigator=principal.subject)
        await audit.record(session, audit_log, actor=principal, action="reveal_identity", entity_type="clue",
                           entity_id=str(clue_id), details={
                               "reason": body.reason, "approval_id": str(approval.id),
                               "approved_by": approval.approved_by, "case_number": approval.case_number})
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
    ensure_storable(cursor, name="cursor")
    unit = scope_of(principal).unit_id
    rows, next_cursor = await service.list_posters(session, after=cursor, limit=limit, unit_id=unit)
    return PosterPage(items=[_poster_read(r, request.app.state.settings) for r in rows], next_cursor=next_cursor)


async def _poster_for(session, principal: Principal, code: str):
    row = await service.get_poster(session, code=code)
    if row is None:
        raise Problem(404, "No such poster.", slug="unknown-poster")
    scope = scope_of(principal)
    scope.require(scope.sees_unit_record(row.unit_id), "宣传画")
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


async def _limited(stream: AsyncIterator[bytes], limit: int) -> AsyncGenerator[bytes, None]:
    """Refuse a body as soon as it grows past ``limit`` (the gateway streams, so no Content-Length)."""
    seen = 0
    async for chunk in stream:
        seen += len(chunk)
        if seen > limit:
            raise Problem(413, "举报内容连同附件过大。", slug="report-too-large")
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
        raise Problem(413 if "Too many" in str(exc) else 422, f"无法读取提交的表单：{exc}",
                      slug="form-invalid") from None
    raise Problem(415, "请以 multipart/form-data 表单提交举报。", slug="unsupported-media-type")


async def _stage_all(files: list[UploadFile], settings) -> list[StagedFile]:
    staged: list[StagedFile] = []
    try:
        for upload in files:
            staged.append(await asyncio.to_thread(
                stage_upload, upload.file, staging_dir=staging_dir(settings),
                max_bytes=settings.attachment_max_bytes, max_pixels=settings.image_max_pixels,
                concurrency=settings.media_concurrency))
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
        raise Problem(404, "该二维码不存在或已停用。", slug="unknown-poster")
    form = await _read_form(request, settings)
    form_token = form.get("form_token") if wants_html(request) else None
    form_token = form_token if isinstance(form_token, str) and 16 <= len(form_token) <= 64 else None
    try:
        try:
            fields = QrFormFields.model_validate({k: v for k, v in form.multi_items() if isinstance(v, str)})
        except ValidationError as exc:
            errors = service.safe_errors(exc)
            raise Problem(422, service.invalid_detail(errors, "举报内容不完整，请填写问题描述。"), slug="validation",
                          errors=errors) from None
        files = [f for f in form.getlist("attachments") if isinstance(f, UploadFile) and (f.filename or f.size)]
        if len(files) > settings.attachment_max_count:
            raise Problem(413, f"最多上传 {settings.attachment_max_count} 个附件。", slug="too-many-attachments")
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
