"""Routes of the transfer's way back: the unit files its result, the officer reviews it, both read it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from services.common.auth import Principal, require_roles
from services.common.calendar import default_calendar
from services.common.db import SessionDep
from services.common.errors import Problem

from . import transfers as service
from .evidence import evidence_root, read_evidence, store_evidence
from .transfer_schemas import TransferList, TransferRead, TransferResultFields, TransferReview, TransferStats

router = APIRouter(prefix="/api/v1/triage/transfers", tags=["triage: transfers"])

Reader = Annotated[Principal, require_roles("triage_officer", "investigator", "auditor", "unit_handler")]
UnitHandler = Annotated[Principal, require_roles("unit_handler")]
Officer = Annotated[Principal, require_roles("triage_officer")]
StatsReader = Annotated[Principal, require_roles("triage_officer", "investigator", "auditor")]
State = Literal["assigned", "filed", "returned", "concluded"]


async def _limited(stream: AsyncIterator[bytes], limit: int) -> AsyncGenerator[bytes, None]:
    """Refuse a body as soon as it grows past ``limit`` (through the gateway it streams, without a length)."""
    seen = 0
    async for chunk in stream:
        seen += len(chunk)
        if seen > limit:
            raise Problem(413, "办理结果连同佐证材料过大。", slug="result-too-large")
        yield chunk


@router.get("", response_model=TransferList)
async def get_transfers(session: SessionDep, principal: Reader, unit: str | None = None,
                        state: State | None = None, cursor: uuid.UUID | None = None,
                        limit: Annotated[int, Query(ge=1, le=500)] = 100) -> TransferList:
    """转办件: a unit handler sees its own unit's, officers all (filter by ``unit`` and ``state``)."""
    items = await service.list_transfers(session, principal=principal, unit_id=unit, state=state, after=cursor,
                                         limit=limit)
    return TransferList(items=items, next_cursor=str(items[-1].clue_id) if len(items) == limit else None)


@router.get("/stats", response_model=TransferStats)
async def get_transfer_stats(session: SessionDep, principal: StatsReader, since: date | None = None,
                             until: date | None = None) -> TransferStats:
    """转办统计 over the clues screened in a period (default: the last 30 days)."""
    today = service.today_in_city()
    until = until or today
    since = since or until - timedelta(days=30)
    if since > until:
        raise Problem(422, "统计起始日期不能晚于截止日期。", slug="period-invalid")
    return await service.transfer_stats(session, since=since, until=until, today=today)


@router.get("/{clue_id}", response_model=TransferRead)
async def get_transfer(clue_id: uuid.UUID, session: SessionDep, principal: Reader) -> TransferRead:
    return await service.get_transfer(session, clue_id=clue_id, principal=principal)


@router.post("/{clue_id}/results", response_model=TransferRead, status_code=201)
async def post_transfer_result(clue_id: uuid.UUID, request: Request, session: SessionDep,
                               principal: UnitHandler) -> TransferRead:
    """办理结果报送 (multipart/form-data: ``actions``, ``findings``, ``finding``, ``responsible``, and
    ``evidence`` files), by a handler of the unit the clue was transferred to."""
    settings = request.app.state.settings
    content_type = request.headers.get("content-type", "")
    body_limit = settings.evidence_max_count * settings.evidence_max_bytes + 1024 * 1024
    stream = _limited(request.stream(), body_limit)
    try:
        if content_type.startswith("multipart/form-data"):
            form = await MultiPartParser(request.headers, stream, max_files=settings.evidence_max_count,
                                         max_fields=20, max_part_size=256 * 1024).parse()
        elif content_type.startswith("application/x-www-form-urlencoded"):
            form = await FormParser(request.headers, stream).parse()
        else:
            raise Problem(415, "办理结果请以 multipart/form-data 表单提交。", slug="unsupported-media-type")
    except MultiPartException as exc:
        raise Problem(413 if "Too many" in str(exc) else 422, f"表单无法读取：{exc}", slug="form-invalid") from None
    try:
        try:
            fields = TransferResultFields.model_validate(
                {k: v for k, v in form.multi_items() if isinstance(v, str) and v != ""})
        except ValidationError as exc:
            raise Problem(422, "办理结果不完整：须填写办理情况、核查结论和责任人。", slug="validation",
                          errors=[{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]) from None
        files = [f for f in form.getlist("evidence") if isinstance(f, UploadFile) and f.filename]
        root = evidence_root(settings.data_dir)
        evidence = [await store_evidence(f.file, root=root, max_bytes=settings.evidence_max_bytes,
                                          name=f.filename or "")
                    for f in files]
    finally:
        await form.close()
    return await service.file_result(session, request.app.state.outbox, clue_id=clue_id, principal=principal,
                                     fields=fields, evidence=evidence)


@router.post("/{clue_id}/review", response_model=TransferRead)
async def post_transfer_review(clue_id: uuid.UUID, review: TransferReview, request: Request, session: SessionDep,
                               principal: Officer) -> TransferRead:
    """审核: ``accept`` concludes the clue (the reporter is told ``outcome_summary``), ``return`` sends it
    back to the unit with ``reason`` and a new deadline (退回重办)."""
    return await service.review_result(
        session, request.app.state.outbox, clue_id=clue_id, principal=principal, review=review,
        calendar=default_calendar(), return_working_days=request.app.state.settings.return_working_days)


@router.get("/{clue_id}/results/{result_id}/evidence/{index}")
async def get_evidence(clue_id: uuid.UUID, result_id: uuid.UUID, index: int, request: Request,
                       session: SessionDep, principal: Reader) -> Response:
    item = await service.evidence_of(session, clue_id=clue_id, result_id=result_id, index=index,
                                     principal=principal)
    data = await read_evidence(evidence_root(request.app.state.settings.data_dir), item["sha256"])
    return Response(data, media_type=item["media_type"], headers={
        "Cache-Control": "private, no-store", "Content-Disposition": "attachment",
        "X-Content-Type-Options": "nosniff"})
