"""Triage's HTTP routes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from services.common.auth import Principal, require_roles
from services.common.db import SessionDep

from . import service
from .schemas import ClueList

router = APIRouter(prefix="/api/v1/triage", tags=["triage"])

Officer = Annotated[Principal, require_roles("triage_officer", "investigator", "unit_handler")]


@router.get("/clues", response_model=ClueList)
async def get_clues(
    session: SessionDep,
    principal: Officer,
    cursor: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ClueList:
    """Clues triage holds. A unit handler sees only clues routed to its own unit."""
    unit_id = principal.unit_id if principal.roles == frozenset({"unit_handler"}) else None
    items = await service.list_clues(session, after=cursor, limit=limit, unit_id=unit_id)
    next_cursor = str(items[-1].id) if len(items) == limit else None
    return ClueList(items=items, next_cursor=next_cursor)
