"""A self-inspection item whose rectification a review found 敷衍、表面 or 虚假 (R-SU-4), referred by the
督查考评办: a proposal in the chosen body's queue, like an evaluation consequence, never a decided measure."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.contracts.drives import SelfCheckReferred
from services.common.ids import new_id

from .. import domain
from ..models import audit_log, proposals
from .cases import get_unit

ACTOR = "evaluation"


async def propose_from_self_check(session: AsyncSession, event: SelfCheckReferred) -> bool:
    kind = "sham_rectification" if event.refer_to == "commission" else "sham_rectification_org"
    rule = domain.CONSEQUENCES[kind]
    unit = await get_unit(session, event.unit_id)
    unit_name = getattr(unit, "name", None) or event.unit_id
    named = [{"leader_role": role, "name": getattr(unit, role, None) if unit else None,
              "post": domain.LEADER_ROLES[role]} for role in rule.leader_roles]
    proposal_id = await session.scalar(pg_insert(proposals).values(
        id=new_id(), origin_key=f"self-check:{event.item_id}:{event.review_label}", source="evaluation", kind=kind,
        body=rule.body, unit_id=event.unit_id, unit_name=unit_name,
        title=f"{event.review_label} {unit_name}: {event.verdict_label}",
        reason=f"{event.level_label}自查问题“{event.problem}”（责任人：{event.responsible}）经{event.review_label}"
               f"认定为{event.verdict_label}。",
        suggested_measure=rule.suggested_measure, persons=named,
    ).on_conflict_do_nothing(index_elements=["origin_key"]).returning(proposals.c.id))
    if proposal_id is None:
        return False
    await audit.record(session, audit_log, actor=ACTOR, action="proposal.received", entity_type="proposal",
                       entity_id=str(proposal_id), details={"kind": kind, "body": rule.body, "unit_id": event.unit_id})
    return True
