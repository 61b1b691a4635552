"""Proposals (处理建议): consequences that arrive from evaluation wait for the competent officer (R-AC-14).

Nothing here records a measure or moves a case past 初核: accepting opens a case, with the leaders the
consequence names, and the officer then files, finds and decides it the usual way. Declining needs a reason.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.competence import BODIES
from services.common.contracts.evaluation import ResultsPublished
from services.common.errors import Problem
from services.common.ids import new_id
from services.common.outbox import Outbox

from .. import domain
from ..models import audit_log, proposals
from .cases import Actor, get_unit, open_case
from .persons import add_person

ACTOR = "evaluation"


async def propose_from_evaluation(session: AsyncSession, event: ResultsPublished) -> int:
    """One proposal per (campaign, kind, unit); a replay or a re-publication adds nothing. Exemplars
    (树标杆) are not accountability matters."""
    made = 0
    for consequence in event.consequences:
        rule = domain.CONSEQUENCES.get(consequence.kind)
        if rule is None:
            continue
        unit = await get_unit(session, consequence.unit_id)
        # Evaluation's own words say why and whom (R-EV-7); the rule's wording only for an older event.
        named = [{"leader_role": role, "name": getattr(unit, role, None) if unit and role else None, "post": post}
                 for role, post in domain.held_to_account(consequence.held_to_account, rule.leader_roles)]
        proposal_id = await session.scalar(
            pg_insert(proposals).values(
                id=new_id(), origin_key=f"evaluation:{event.campaign_id}:{consequence.kind}:{consequence.unit_id}",
                source="evaluation", kind=consequence.kind, body=rule.body, campaign=str(event.campaign_id),
                unit_id=consequence.unit_id, unit_name=consequence.unit_name,
                title=f"{event.name} {consequence.unit_name}: {consequence.title or rule.about}",
                reason=consequence.reason, suggested_measure=rule.suggested_measure, persons=named,
                held_to_account=consequence.held_to_account, grounds=list(consequence.grounds),
            ).on_conflict_do_nothing(index_elements=["origin_key"]).returning(proposals.c.id))
        if proposal_id is None:
            continue
        made += 1
        await audit.record(session, audit_log, actor=ACTOR, action="proposal.received", entity_type="proposal",
                           entity_id=str(proposal_id), details={"kind": consequence.kind, "body": rule.body,
                                                                "unit_id": consequence.unit_id})
    return made


async def get_proposal(session: AsyncSession, proposal_id: uuid.UUID, *, lock: bool = False) -> Row:
    query = select(proposals).where(proposals.c.id == proposal_id)
    row = (await session.execute(query.with_for_update() if lock else query)).first()
    if row is None:
        raise Problem(404, "没有这条处理建议。", slug="proposal-not-found")
    return row


async def list_proposals(session: AsyncSession, *, after: uuid.UUID | None, limit: int,
                         bodies: frozenset[str] | None, status: str | None) -> list[Row]:
    query = select(proposals).order_by(proposals.c.id).limit(limit)
    if after is not None:
        query = query.where(proposals.c.id > after)
    if bodies is not None:
        query = query.where(proposals.c.body.in_(bodies))
    if status is not None:
        query = query.where(proposals.c.status == status)
    return list((await session.execute(query)).all())


def ensure_competent(proposal: Row, bodies: frozenset[str] | None) -> None:
    if bodies is not None and proposal.body not in bodies:
        raise Problem(403, f"这条处理建议由{BODIES[proposal.body]}研判。", slug="not-competent-body")


async def decide_proposal(
    session: AsyncSession, outbox: Outbox, *, proposal_id: uuid.UUID, decision: str, reason: str | None,
    changes: dict[str, Any], bodies: frozenset[str] | None, actor: Actor,
) -> Row:
    """采纳 (accept), 调整后采纳 (modify: another suggested measure, title or body) or 不予采纳 (decline)."""
    proposal = await get_proposal(session, proposal_id, lock=True)
    ensure_competent(proposal, bodies)
    if proposal.status != "pending":
        raise Problem(409, f"这条处理建议已{domain.PROPOSAL_STATUSES[proposal.status]}, 不能再次研判。",
                      slug="proposal-decided", proposal_status=proposal.status)
    if decision in ("modify", "decline") and not reason:
        raise Problem(422, "调整或不予采纳处理建议须说明理由。", slug="reason-required")
    values: dict[str, Any] = {"decided_by": actor.subject if hasattr(actor, "subject") else actor,
                              "decided_at": datetime.now(UTC), "decision_reason": reason}
    if decision == "decline":
        values["status"] = "declined"
    else:
        measure = changes.get("suggested_measure", proposal.suggested_measure)
        if measure is not None and measure not in domain.MEASURES_BY_CODE:
            raise Problem(422, f"未知的处理措施代码 {measure!r}。", slug="unknown-measure")
        body = changes.get("body") or proposal.body
        title = changes.get("title") or proposal.title
        values.update(status="accepted" if decision == "accept" else "modified", suggested_measure=measure,
                      body=body, title=title)
        values["case_id"] = await _open_case(session, outbox, proposal, title=title, body=body, measure=measure,
                                             actor=actor)
    await session.execute(update(proposals).where(proposals.c.id == proposal_id).values(**values))
    await audit.record(session, audit_log, actor=actor, action=f"proposal.{decision}", entity_type="proposal",
                       entity_id=str(proposal_id), details={"reason": reason, "case_id": str(values.get("case_id")),
                                                            **{k: v for k, v in changes.items() if v is not None}})
    return await get_proposal(session, proposal_id)


async def _open_case(session: AsyncSession, outbox: Outbox, proposal: Row, *, title: str, body: str,
                     measure: str | None, actor: Actor) -> uuid.UUID:
    rule = domain.CONSEQUENCES[proposal.kind]
    suggestion = f"; 建议措施: {domain.MEASURES_BY_CODE[measure].name}" if measure else ""
    held = f"; 问责对象: {proposal.held_to_account}" if proposal.held_to_account else ""
    case_id = await open_case(
        session, outbox, actor=actor, source=proposal.source, origin_key=proposal.origin_key, title=title,
        summary=f"{proposal.reason}{suggestion}{held}", unit_id=proposal.unit_id, unit_problem=rule.unit_problem,
        lead_body=body, campaign=proposal.campaign)
    if case_id is None:  # opened before (by an earlier version that made cases directly)
        raise Problem(409, "这条处理建议对应的案件已存在。", slug="case-exists")
    for named in proposal.persons:
        role, post = named.get("leader_role"), named.get("post") or domain.LEADER_ROLES[named["leader_role"]]
        await add_person(session, case_id=case_id, actor=actor, name=named.get("name") or f"{proposal.unit_name}{post}",
                         post=post, unit_id=proposal.unit_id, rank=None, party_member=False,
                         responsibility=domain.LEADER_RESPONSIBILITY[role] if role else None, leader_role=role)
    return case_id
