"""Scores entered by the evaluation office (业务部门评议, 两代表一委员, 督促整改评议, 企业) and vetoes."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Principal
from services.common.errors import Problem

from ..models import audit_log, campaign_units, source_scores, vetoes
from ..schemas import ScoresIn
from ._shared import get_campaign, require_state


async def record_scores(session: AsyncSession, *, campaign_id: uuid.UUID, scores_in: ScoresIn,
                        actor: Principal) -> int:
    campaign = await get_campaign(session, campaign_id, lock="share")
    require_state(campaign, "open", "closed", doing="录入分数")
    known = set((await session.execute(
        select(campaign_units.c.unit_id).where(campaign_units.c.campaign_id == campaign_id))).scalars())
    unknown = sorted(set(scores_in.scores) - known)
    if unknown:
        raise Problem(422, f"这些单位不在本次测评中: {', '.join(unknown[:10])}。", slug="unknown-unit",
                      units=unknown)
    rows = [{"campaign_id": campaign_id, "unit_id": u, "source": scores_in.source, "scorer": scores_in.scorer,
             "score": s, "recorded_by": actor.subject} for u, s in scores_in.scores.items()]
    stmt = pg_insert(source_scores)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["campaign_id", "unit_id", "source", "scorer"],
        set_={"score": stmt.excluded.score, "recorded_by": stmt.excluded.recorded_by, "recorded_at": func.now()},
    ), rows)
    await audit.record(session, audit_log, actor=actor, action="scores.record", entity_type="campaign",
                       entity_id=str(campaign_id),
                       details={"source": scores_in.source, "scorer": scores_in.scorer, "units": len(rows)})
    return len(rows)


async def record_veto(session: AsyncSession, *, campaign_id: uuid.UUID, unit_id: str, reason: str,
                      actor: Principal) -> None:
    campaign = await get_campaign(session, campaign_id, lock="share")
    require_state(campaign, "draft", "open", "closed", doing="记录一票否决")
    exists = await session.scalar(select(campaign_units.c.ref).where(
        campaign_units.c.campaign_id == campaign_id, campaign_units.c.unit_id == unit_id))
    if exists is None:
        raise Problem(404, "该单位不在本次测评中。", slug="not-found")
    stmt = pg_insert(vetoes).values(campaign_id=campaign_id, unit_id=unit_id, reason=reason,
                                    recorded_by=actor.subject)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["campaign_id", "unit_id"], set_={"reason": reason, "recorded_by": actor.subject}))
    await audit.record(session, audit_log, actor=actor, action="veto.record", entity_type="campaign",
                       entity_id=str(campaign_id), details={"unit": unit_id, "reason": reason})
