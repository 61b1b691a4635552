"""Routes of the scheduled reviews (九月大检查、十二月回头看), under ``/api/v1/evaluation/reviews``.

The 督查考评办 (evaluation_admin) opens, decides and closes a round; auditors and org officers read it all;
a unit handler reads its own unit's part of it."""

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

from . import reviews

router = APIRouter(prefix="/api/v1/evaluation/reviews", tags=["self-check-reviews"])

Office = Annotated[Principal, require_roles("evaluation_admin")]
Reader = Annotated[Principal, require_roles("evaluation_admin", "auditor", "org_officer", "unit_handler")]


class RoundOpen(StorableModel):
    kind: Literal["september_check", "december_lookback"]
    year: int = Field(ge=2000, le=2100)
    due: date = Field(description="本轮检查完成时限")


class Decision(StorableModel):
    decision: Literal["sign_off", "return"]
    verdict: Literal["perfunctory", "superficial", "false"] | None = None
    refer_to: Literal["commission", "organization"] | None = Field(None, description="移送纪委监委或组织部")
    note: str | None = Field(None, max_length=2000)


@router.post("", status_code=201)
async def post_round(body: RoundOpen, session: SessionDep, principal: Office) -> dict[str, Any]:
    """开展大检查 / 回头看 across every unit's self-inspection list."""
    review_id = await reviews.open_round(session, kind=body.kind, year=body.year, due=body.due, by=principal.subject)
    return await reviews.view(session, review_id, scope_of(principal))


@router.get("")
async def get_rounds(session: SessionDep, principal: Reader) -> list[dict[str, Any]]:
    return await reviews.list_rounds(session)


@router.get("/{review_id}")
async def get_round(review_id: uuid.UUID, session: SessionDep, principal: Reader) -> dict[str, Any]:
    return await reviews.view(session, review_id, scope_of(principal))


@router.post("/{review_id}/items/{item_id}")
async def post_decision(review_id: uuid.UUID, item_id: uuid.UUID, body: Decision, request: Request,
                        session: SessionDep, principal: Office) -> dict[str, Any]:
    """销号 on evidence, or 退回 as 敷衍/表面/虚假整改, optionally referred (a proposal in accountability)."""
    return await reviews.decide(session, request.app.state.outbox, review_id=review_id, item_id=item_id,
                                decision=body.decision, verdict=body.verdict, refer_to=body.refer_to,
                                note=body.note, by=principal.subject)


@router.post("/{review_id}/close")
async def post_close(review_id: uuid.UUID, request: Request, session: SessionDep, principal: Office
                     ) -> dict[str, Any]:
    """结束本轮检查: its results are drafted as a 通报 in notification (待审核)."""
    await reviews.close(session, request.app.state.outbox, review_id=review_id, by=principal.subject)
    return await reviews.view(session, review_id, scope_of(principal))
