"""Routes of higher-level feedback handed down (交办), under ``/api/v1/evaluation/feedback``.

The 督查考评办 (evaluation_admin) registers a 巡视反馈意见 or 专项督察通报 and hands its items down; auditors
and org officers read all; a unit handler reads the items it answers for. Progress is reported on each
item's task (``POST /api/v1/evaluation/drives/tasks/{task_id}/reports``)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import Field

from services.common.auth import Principal, require_roles
from services.common.db import SessionDep
from services.common.scope import scope_of
from services.common.text import StorableModel

from . import feedback

router = APIRouter(prefix="/api/v1/evaluation/feedback", tags=["feedback"])

Office = Annotated[Principal, require_roles("evaluation_admin")]
Reader = Annotated[Principal, require_roles("evaluation_admin", "auditor", "org_officer", "unit_handler")]
Unit = Annotated[str, Field(min_length=1, max_length=64)]


class FeedbackItem(StorableModel):
    text: str = Field(min_length=4, max_length=5000, description="反馈问题")
    requirement: str | None = Field(None, max_length=5000, description="整改要求")
    lead_unit: str = Field(min_length=1, max_length=64, description="牵头单位")
    responsible_units: list[Unit] = Field(default_factory=list, max_length=500, description="责任单位")
    deadline: date = Field(description="整改时限")


class FeedbackCreate(StorableModel):
    kind: Literal["inspection_tour", "supervision", "other"]
    title: str = Field(min_length=2, max_length=200)
    issued_by: str = Field(min_length=2, max_length=200, description="反馈单位，如省委第三巡视组")
    doc_number: str | None = Field(None, max_length=100, description="文号")
    received_on: date
    drive_id: uuid.UUID | None = Field(None, description="纳入的专项行动；不填则为本反馈单独建立")
    items: list[FeedbackItem] = Field(min_length=1, max_length=500)


class ItemsAdd(StorableModel):
    items: list[FeedbackItem] = Field(min_length=1, max_length=500)


@router.post("", status_code=201)
async def post_feedback(body: FeedbackCreate, request: Request, session: SessionDep, principal: Office
                        ) -> dict[str, Any]:
    """交办: register the feedback and hand each item down as a task with its deadline."""
    document_id = await feedback.register(session, request.app.state.outbox, body=body.model_dump(),
                                          by=principal.subject)
    return await feedback.view(session, document_id, scope_of(principal))


@router.get("")
async def get_feedback_list(session: SessionDep, principal: Reader) -> list[dict[str, Any]]:
    return await feedback.list_documents(session, scope_of(principal))


@router.get("/{document_id}")
async def get_feedback(document_id: uuid.UUID, session: SessionDep, principal: Reader) -> dict[str, Any]:
    return await feedback.view(session, document_id, scope_of(principal))


@router.post("/{document_id}/items", status_code=201)
async def post_items(document_id: uuid.UUID, body: ItemsAdd, request: Request, session: SessionDep,
                     principal: Office) -> dict[str, Any]:
    await feedback.add_items(session, request.app.state.outbox, document_id=document_id,
                             items=[i.model_dump() for i in body.items])
    return await feedback.view(session, document_id, scope_of(principal))
