"""查看实名举报人身份: a two-person rule. An investigator reveals a named reporter only with an approval
that another investigator gave for that investigator, that clue and a named case, unused and current.
Every approval and every reveal is in the audit chain; ``admin`` takes no part (R-IN-4)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import Problem
from services.common.ids import new_id

from ..models import reporter_identities, reveal_approvals


async def approve_reveal(session: AsyncSession, *, clue_id: uuid.UUID, investigator: str, case_number: str,
                         reason: str, approved_by: str, valid_hours: float):
    if investigator == approved_by:
        raise Problem(403, "不能批准自己查看举报人身份：须由另一名调查人员审批。", slug="reveal-self-approval")
    named = await session.scalar(select(exists().where(reporter_identities.c.clue_id == clue_id)))
    if not named:
        raise Problem(404, "这条线索没有实名举报人。", slug="no-identity")
    now = datetime.now(UTC)
    return (await session.execute(reveal_approvals.insert().values(
        id=new_id(), clue_id=clue_id, investigator=investigator, case_number=case_number, reason=reason,
        approved_by=approved_by, approved_at=now, expires_at=now + timedelta(hours=valid_hours),
    ).returning(reveal_approvals))).one()


async def claim_approval(session: AsyncSession, *, clue_id: uuid.UUID, investigator: str):
    """Use up the investigator's current approval for this clue (each approval opens the identity once)."""
    now = datetime.now(UTC)
    row = (await session.execute(
        select(reveal_approvals)
        .where(reveal_approvals.c.clue_id == clue_id, reveal_approvals.c.investigator == investigator,
               reveal_approvals.c.used_at.is_(None), reveal_approvals.c.expires_at > now)
        .order_by(reveal_approvals.c.approved_at).limit(1).with_for_update(skip_locked=True))).first()
    if row is None:
        raise Problem(403, "查看举报人身份须先经另一名调查人员针对本线索和案件审批（审批仅可使用一次，且有时效）。",
                      slug="reveal-not-approved")
    await session.execute(update(reveal_approvals).where(reveal_approvals.c.id == row.id).values(used_at=now))
    return row
