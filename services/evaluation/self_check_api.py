"""Routes of self-inspection lists (自查清单), under ``/api/v1/evaluation/self-checks``.

A unit handler lists and rectifies its own unit's items only; the 督查考评办 (evaluation_admin) reviews and
signs off (销号) across every unit; auditors and org officers read."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import Field

from services.common.auth import Principal, require_roles
from services.common.db import SessionDep
from services.common.errors import Problem
from services.common.scope import scope_of
from services.common.text import StorableModel

from . import self_checks

router = APIRouter(prefix="/api/v1/evaluation/self-checks", tags=["self-checks"])

Office = Annotated[Principal, require_roles("evaluation_admin")]
Reader = Annotated[Principal, require_roles("evaluation_admin", "auditor", "org_officer", "unit_handler")]
Level = Literal["leadership", "middle", "staff"]
Mirror = Literal[tuple(self_checks.MIRRORS)]  # type: ignore[valid-type]


class ItemCreate(StorableModel):
    level: Level
    mirror: Mirror  # type: ignore[valid-type]
    problem: str = Field(min_length=4, max_length=5000)
    plan: str = Field(min_length=4, max_length=5000, description="任务书：整改措施")
    deadline: date = Field(description="时间表：完成时限")
    responsible: str = Field(min_length=1, max_length=100, description="责任人")
    drive_id: uuid.UUID | None = None
    unit_id: str | None = Field(None, max_length=64, description="督查考评办代录时填写")


class Rectified(StorableModel):
    evidence: str = Field(min_length=4, max_length=5000, description="整改佐证")


class Review(StorableModel):
    decision: Literal["sign_off", "return"]
    review: Literal["september_check", "december_lookback"]
    verdict: Literal["perfunctory", "superficial", "false"] | None = None
    refer_to: Literal["commission", "organization"] | None = Field(None, description="移送纪委监委或组织部")
    note: str | None = Field(None, max_length=2000)


@router.post("", status_code=201)
async def post_item(body: ItemCreate, session: SessionDep, principal: Reader) -> dict[str, Any]:
    scope = scope_of(principal)
    if scope.unit_bound:
        unit_id = scope.unit_id
    elif principal.has_role("evaluation_admin") and body.unit_id:
        unit_id = body.unit_id
    else:
        raise Problem(403, "自查问题由本单位填报；督查考评办代录须写明单位（unit_id）。", slug="forbidden-role")
    item_id = await self_checks.add(session, unit_id=unit_id,  # type: ignore[arg-type]
                                    item=body.model_dump(exclude={"unit_id"}))
    return self_checks.read(await self_checks.get(session, item_id, scope), date.today())


@router.get("")
async def get_items(session: SessionDep, principal: Reader, unit_id: Annotated[str | None, Query()] = None,
                    level: Annotated[Level | None, Query()] = None) -> list[dict[str, Any]]:
    return await self_checks.list_items(session, scope=scope_of(principal), unit_id=unit_id, level=level)


@router.post("/{item_id}/rectified")
async def post_rectified(item_id: uuid.UUID, body: Rectified, session: SessionDep, principal: Reader
                         ) -> dict[str, Any]:
    scope = scope_of(principal)
    if not scope.unit_bound and not principal.has_role("evaluation_admin"):
        raise Problem(403, "整改情况由责任单位报送。", slug="forbidden-role")
    return await self_checks.rectified(session, item_id=item_id, evidence=body.evidence, scope=scope)


@router.post("/{item_id}/review")
async def post_review(item_id: uuid.UUID, body: Review, request: Request, session: SessionDep, principal: Office
                      ) -> dict[str, Any]:
    """大检查 / 回头看: sign off (销号) on evidence, or return it as 敷衍/表面/虚假整改, optionally referred to
    the commission or the organization department (as a proposal there)."""
    return await self_checks.review(session, request.app.state.outbox, item_id=item_id, decision=body.decision,
                                    review=body.review, verdict=body.verdict, note=body.note, by=principal.subject,
                                    refer_to=body.refer_to)
