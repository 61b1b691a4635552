"""Notification's HTTP routes: the unit inbox, deliveries, public bulletins (JSON and Atom).

The rating link's routes (JSON and the reporter's page) are in ``rating_api``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import Row

from services.common.auth import CurrentPrincipal, Principal, require_roles
from services.common.db import SessionDep
from services.common.errors import Problem
from services.common.scope import scope_of

from . import service
from .catalog import BULLETIN_KINDS, CHANNELS, DELIVERY_STATUSES, enumerations
from .feeds import ATOM_MEDIA_TYPE, atom_feed
from .schemas import (
    BulletinList,
    BulletinPublish,
    BulletinRead,
    DeliveryList,
    DeliveryRead,
    InboxList,
    InboxMessageRead,
)

router = APIRouter(prefix="/api/v1/notification", tags=["notification"])

UnitHandler = Annotated[Principal, require_roles("unit_handler")]
# 作风办 officers review and publish the monthly bulletin (admin always passes).
BULLETIN_EDITORS = ("triage_officer", "org_officer")
Editor = Annotated[Principal, require_roles(*BULLETIN_EDITORS)]
Overseer = Annotated[Principal, require_roles("auditor")]  # admin always passes
Limit = Annotated[int, Query(ge=1, le=500)]


def _next(items: Sequence[Row[Any]], limit: int) -> str | None:
    return str(items[-1].id) if len(items) == limit else None


def _inbox_unit(principal: Principal, unit_id: str | None) -> str:
    """A unit handler reads its own unit's inbox; an admin names the unit."""
    scope = scope_of(principal)
    if scope.unit_id is not None:  # unit-bound: require_roles let through unit handlers and admins only
        scope.require(scope.sees_unit_record(unit_id or scope.unit_id), "单位信箱")
        return scope.unit_id
    if not unit_id:
        raise Problem(422, "请指明要查看哪个单位的站内信（unit_id）。", slug="unit-required")
    return unit_id


@router.get("/enumerations")
async def get_enumerations(principal: CurrentPrincipal) -> dict[str, dict[str, str]]:
    """Stages, channels, delivery statuses and bulletin kinds, with their Chinese labels."""
    return enumerations()


@router.get("/inbox", response_model=InboxList)
async def get_inbox(
    session: SessionDep, principal: UnitHandler, unit_id: str | None = None, unread: bool = False,
    cursor: uuid.UUID | None = None, limit: Limit = 50,
) -> InboxList:
    """站内信: the caller's unit's messages, newest first."""
    unit = _inbox_unit(principal, unit_id)
    rows = await service.list_inbox(session, unit_id=unit, after=cursor, limit=limit, unread_only=unread)
    return InboxList(items=[InboxMessageRead.model_validate(r) for r in rows], next_cursor=_next(rows, limit))


@router.post("/inbox/{message_id}/read", response_model=InboxMessageRead)
async def read_inbox_message(
    message_id: uuid.UUID, session: SessionDep, principal: UnitHandler, unit_id: str | None = None
) -> InboxMessageRead:
    row = await service.mark_read(session, unit_id=_inbox_unit(principal, unit_id), message_id=message_id)
    if row is None:
        raise Problem(404, "本单位站内信中没有这条消息。", slug="not-found")
    return InboxMessageRead.model_validate(row)


@router.get("/deliveries", response_model=DeliveryList)
async def get_deliveries(
    session: SessionDep, principal: Overseer,
    status: Literal[tuple(DELIVERY_STATUSES)] | None = None,  # type: ignore[valid-type]
    channel: Literal[tuple(CHANNELS)] | None = None,  # type: ignore[valid-type]
    clue_id: uuid.UUID | None = None, unit_id: str | None = None,
    cursor: uuid.UUID | None = None, limit: Limit = 100,
) -> DeliveryList:
    """Every message on every channel with its state (queued, sending, retrying, sent, failed)."""
    rows = await service.list_deliveries(session, after=cursor, limit=limit, status=status, channel=channel,
                                         clue_id=clue_id, unit_id=unit_id)
    return DeliveryList(items=[DeliveryRead.model_validate(r) for r in rows], next_cursor=_next(rows, limit))


def _wants_atom(request: Request, format: str | None) -> bool:
    if format is not None:
        return format == "atom"
    accept = request.headers.get("accept", "")
    return ATOM_MEDIA_TYPE in accept and "application/json" not in accept


@router.get("/bulletins", response_model=BulletinList, responses={200: {"content": {ATOM_MEDIA_TYPE: {}}}})
async def get_bulletins(
    request: Request, session: SessionDep, principal: CurrentPrincipal,
    kind: Literal[tuple(BULLETIN_KINDS)] | None = None,  # type: ignore[valid-type]
    format: Literal["json", "atom"] | None = None,
    cursor: uuid.UUID | None = None, limit: Limit = 50,
):
    """公开通报: typical cases, clarifications, rankings, monthly bulletins. Public; JSON, or Atom with
    ``?format=atom`` or ``Accept: application/atom+xml``."""
    rows = await service.list_bulletins(session, after=cursor, limit=limit, kind=kind)
    if _wants_atom(request, format):
        settings = request.app.state.settings
        # The address the public uses (the gateway's), never the service's own: request.url is internal.
        self_url = f"{settings.public_base_url.rstrip('/')}{request.url.path}"
        if request.url.query:
            self_url += f"?{request.url.query}"
        body = atom_feed(rows, self_url=self_url, title="作风建设监督公开通报", author=settings.supervising_office_name)
        return Response(body, media_type=ATOM_MEDIA_TYPE)
    return BulletinList(items=[BulletinRead.model_validate(r) for r in rows], next_cursor=_next(rows, limit))


@router.get("/bulletins/drafts", response_model=BulletinList)
async def get_bulletin_drafts(session: SessionDep, principal: Editor) -> BulletinList:
    """待审核的通报: monthly bulletins composed by the schedule, waiting for an officer to publish them."""
    return BulletinList(items=[BulletinRead.model_validate(r) for r in await service.list_drafts(session)])


@router.post("/bulletins/{bulletin_id}:publish", response_model=BulletinRead)
async def publish_bulletin_draft(bulletin_id: uuid.UUID, session: SessionDep, principal: Editor,
                                 body: BulletinPublish | None = None) -> BulletinRead:
    """审核发布: the officer publishes a draft, optionally with the title and text as reviewed."""
    edits = body or BulletinPublish()
    row = await service.publish_draft(session, bulletin_id=bulletin_id, published_by=principal.subject,
                                      title=edits.title, body=edits.body)
    if row is None:
        raise Problem(404, "没有这份待审核的通报（可能已发布）。", slug="not-found")
    return BulletinRead.model_validate(row)


@router.get("/bulletins/{bulletin_id}", response_model=BulletinRead)
async def get_bulletin(bulletin_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> BulletinRead:
    editor = principal.kind == "staff" and principal.has_role(*BULLETIN_EDITORS)
    row = await service.get_bulletin(session, bulletin_id=bulletin_id, drafts=editor)
    if row is None:
        raise Problem(404, "没有这份通报。", slug="not-found")
    return BulletinRead.model_validate(row)
