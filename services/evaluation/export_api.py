"""Evaluation's office outputs and the leaders' ranking movement between two campaigns.

Both read the rankings through ``service.rankings``, so they answer what GET …/rankings answers the caller:
a published campaign's frozen results, or the office's live preview before publication.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from services.common import office
from services.common.auth import CurrentPrincipal, Principal, require_roles
from services.common.db import SessionDep
from services.common.errors import Problem

from . import charts, service

router = APIRouter(prefix="/api/v1/evaluation", tags=["evaluation"])

Leader = Annotated[Principal, require_roles(
    "triage_officer", "investigator", "org_officer", "evaluation_admin", "auditor", "admin")]


@router.get("/campaigns/{campaign_id}/rankings.xlsx", response_class=Response,
            responses=office.binary_response(office.XLSX_TYPE, "测评排名 (xlsx, 中文表头)"))
async def get_rankings_xlsx(campaign_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> Response:
    """The rankings as a workbook: the same columns as rankings.csv, one sheet for all categories."""
    results = await service.rankings(session, campaign_id=campaign_id, principal=principal)
    sheet = office.Sheet("测评排名", charts.RANKING_HEADERS, charts.rankings_rows(results))
    data = await run_in_threadpool(office.xlsx, sheet)
    return office.xlsx_response(data, f"rankings-{campaign_id}.xlsx", "测评排名.xlsx")


def _ranks(results: dict) -> dict[str, tuple[str, int | None]]:
    """unit → (name, rank within its category); a unit with too few ballots has no rank."""
    ranks: dict[str, tuple[str, int | None]] = {}
    for cat in results["categories"]:
        for u in cat["ranking"]:
            ranks[u["unit_id"]] = (u["unit_name"], u["rank"])
        for u in cat.get("insufficient_data", []):
            ranks.setdefault(u["unit_id"], (u["unit_name"], None))
    return ranks


class UnitMovement(BaseModel):
    unit_id: str
    unit_name: str | None
    from_rank: int | None
    to_rank: int | None
    change: int | None


class RankingMovement(BaseModel):
    from_campaign: str
    to_campaign: str
    units: list[UnitMovement]


@router.get("/rankings/movement", response_model=RankingMovement)
async def get_ranking_movement(
    session: SessionDep, principal: Leader,
    from_campaign: Annotated[uuid.UUID | None, Query(description="前一次测评的编号")] = None,
    to_campaign: Annotated[uuid.UUID | None, Query(description="后一次测评的编号")] = None,
) -> dict:
    """名次变化: each unit's rank (within its category) in two campaigns; ``change`` is positive when the unit
    moved up (from 8th to 3rd: +5), null when it has no rank in one of them."""
    if from_campaign is None or to_campaign is None:
        raise Problem(422, "请同时给出 from_campaign（前一次测评）和 to_campaign（后一次测评）。",
                      slug="campaigns-required")
    if from_campaign == to_campaign:
        raise Problem(422, "前后两次测评不能是同一次。", slug="same-campaign")
    before = _ranks(await service.rankings(session, campaign_id=from_campaign, principal=principal))
    after = _ranks(await service.rankings(session, campaign_id=to_campaign, principal=principal))
    units = []
    for unit_id in [*after, *(u for u in before if u not in after)]:
        name, to_rank = after.get(unit_id, (None, None))
        old_name, from_rank = before.get(unit_id, (None, None))
        units.append({"unit_id": unit_id, "unit_name": name or old_name, "from_rank": from_rank,
                      "to_rank": to_rank,
                      "change": from_rank - to_rank if from_rank is not None and to_rank is not None else None})
    units.sort(key=lambda u: (u["to_rank"] is None, u["to_rank"] or 0, u["unit_id"]))
    return {"from_campaign": str(from_campaign), "to_campaign": str(to_campaign), "units": units}
