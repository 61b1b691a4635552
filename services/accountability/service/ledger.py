"""整改台账: rectification tasks with deadlines, evidence, sign-off (销号), overdue detection, 回头看."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import Row, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Principal
from services.common.contracts.accountability import RectificationAssigned, RectificationOverdue
from services.common.errors import Problem
from services.common.ids import new_id
from services.common.outbox import Outbox

from .. import domain
from ..models import audit_log, cases, rectifications
from .cases import Actor, _move, get_case_row, today_in_city

OPEN_STATUSES = ("open", "submitted")


async def assign_rectification(
    session: AsyncSession, outbox: Outbox, *, case_id: uuid.UUID, task: str, deadline: date,
    responsible: str | None, unit_id: str | None, actor: Actor,
) -> uuid.UUID:
    """A task for a unit; a decided case moves into 整改 with its first task."""
    case = await get_case_row(session, case_id, lock=True)
    if case.state not in ("decided", "rectifying"):
        raise Problem(409, f"整改须在作出处理决定之后; 案件当前为{domain.STATES[case.state]}。",
                      slug="invalid-state", state=case.state)
    unit_id = unit_id or case.unit_id
    if not unit_id:
        raise Problem(422, "请指明整改单位 (案件未关联单位)。", slug="unit-required")
    if deadline < today_in_city():
        raise Problem(422, "整改期限不能早于今天。", slug="deadline-in-past")
    if case.state == "decided":
        await _move(session, case, "rectify", actor=actor, reason="整改任务下达")
    rectification_id = new_id()
    await session.execute(rectifications.insert().values(
        id=rectification_id, case_id=case_id, unit_id=unit_id, task=task, deadline=deadline,
        responsible=responsible))
    await audit.record(session, audit_log, actor=actor, action="rectification.assigned",
                       entity_type="rectification", entity_id=str(rectification_id),
                       details={"case_id": str(case_id), "unit_id": unit_id, "deadline": deadline.isoformat()})
    await outbox.publish(session, RectificationAssigned(
        rectification_id=rectification_id, case_id=case_id, unit_id=unit_id, task=task, deadline=deadline,
        responsible=responsible, case_number=case.case_number))
    return rectification_id


async def get_rectification(session: AsyncSession, rectification_id: uuid.UUID, *, lock: bool = False) -> Row:
    query = (select(rectifications, cases.c.case_number)
             .join(cases, cases.c.id == rectifications.c.case_id)
             .where(rectifications.c.id == rectification_id))
    if lock:
        query = query.with_for_update(of=rectifications)
    row = (await session.execute(query)).first()
    if row is None:
        raise Problem(404, "没有这项整改任务。", slug="rectification-not-found")
    return row


async def submit_evidence(
    session: AsyncSession, *, rectification_id: uuid.UUID, evidence: str, actor: Actor
) -> None:
    """The unit reports what it did (整改材料); sign-off still needs an officer."""
    item = await get_rectification(session, rectification_id, lock=True)
    if item.status == "signed_off":
        raise Problem(409, "该整改任务已销号; 可通过回头看重新打开。", slug="already-signed-off")
    await session.execute(update(rectifications).where(rectifications.c.id == rectification_id).values(
        evidence=evidence, evidence_at=datetime.now(UTC), status="submitted"))
    await audit.record(session, audit_log, actor=actor, action="rectification.evidence",
                       entity_type="rectification", entity_id=str(rectification_id), details={})


async def sign_off(session: AsyncSession, *, rectification_id: uuid.UUID, actor: Actor) -> None:
    """销号: only with evidence on file."""
    item = await get_rectification(session, rectification_id, lock=True)
    if item.status == "signed_off":
        raise Problem(409, "已经销号。", slug="already-signed-off")
    if not item.evidence:
        raise Problem(409, "销号前须有单位报送的整改材料。", slug="evidence-required")
    await session.execute(update(rectifications).where(rectifications.c.id == rectification_id).values(
        status="signed_off", signed_off_at=datetime.now(UTC),
        signed_off_by=actor.subject if isinstance(actor, Principal) else actor))
    await audit.record(session, audit_log, actor=actor, action="rectification.signed-off",
                       entity_type="rectification", entity_id=str(rectification_id), details={})


async def look_back(
    session: AsyncSession, *, rectification_id: uuid.UUID, reason: str, deadline: date, actor: Actor
) -> None:
    """回头看: a signed-off item that did not hold reopens with a new deadline; a closed case reopens too."""
    item = await get_rectification(session, rectification_id, lock=True)
    if item.status != "signed_off":
        raise Problem(409, "只有已销号的整改任务才能回头看重新打开。", slug="not-signed-off")
    if deadline < today_in_city():
        raise Problem(422, "整改期限不能早于今天。", slug="deadline-in-past")
    case = await get_case_row(session, item.case_id, lock=True)
    if case.state == "closed":
        await _move(session, case, "reopen", actor=actor, reason=reason)
    await session.execute(update(rectifications).where(rectifications.c.id == rectification_id).values(
        status="open", deadline=deadline, evidence=None, evidence_at=None, signed_off_at=None,
        signed_off_by=None, look_backs=rectifications.c.look_backs + 1))
    await audit.record(session, audit_log, actor=actor, action="rectification.look-back",
                       entity_type="rectification", entity_id=str(rectification_id),
                       details={"reason": reason, "deadline": deadline.isoformat()})


async def detect_overdue(session: AsyncSession, outbox: Outbox, *, today: date | None = None,
                         limit: int = 500) -> int:
    """Emit ``rectification-overdue`` once per item and deadline; safe to run from several replicas."""
    today = today or today_in_city()
    rows = (await session.execute(
        select(rectifications).where(
            rectifications.c.status.in_(OPEN_STATUSES),
            rectifications.c.deadline < today,
            or_(rectifications.c.overdue_for.is_(None), rectifications.c.overdue_for != rectifications.c.deadline),
        ).order_by(rectifications.c.deadline).limit(limit).with_for_update(skip_locked=True)
    )).all()
    now = datetime.now(UTC)
    for row in rows:
        await session.execute(update(rectifications).where(rectifications.c.id == row.id)
                              .values(overdue_for=row.deadline))
        await audit.record(session, audit_log, actor="overdue-detector", action="rectification.overdue",
                           entity_type="rectification", entity_id=str(row.id),
                           details={"deadline": row.deadline.isoformat()})
        await outbox.publish(session, RectificationOverdue(
            rectification_id=row.id, case_id=row.case_id, unit_id=row.unit_id, task=row.task,
            deadline=row.deadline, detected_at=now))
    return len(rows)


async def list_rectifications(
    session: AsyncSession, *, after: uuid.UUID | None, limit: int, unit_id: str | None = None,
    case_id: uuid.UUID | None = None, status: str | None = None, overdue_only: bool = False,
) -> list[dict]:
    today = today_in_city()
    query = (select(rectifications, cases.c.case_number).join(cases, cases.c.id == rectifications.c.case_id)
             .order_by(rectifications.c.id).limit(limit))
    if after is not None:
        query = query.where(rectifications.c.id > after)
    if unit_id is not None:
        query = query.where(rectifications.c.unit_id == unit_id)
    if case_id is not None:
        query = query.where(rectifications.c.case_id == case_id)
    if status is not None:
        query = query.where(rectifications.c.status == status)
    if overdue_only:
        query = query.where(and_(rectifications.c.status.in_(OPEN_STATUSES), rectifications.c.deadline < today))
    return [as_read(row, today) for row in (await session.execute(query)).all()]


def as_read(row: Row, today: date | None = None) -> dict:
    today = today or today_in_city()
    data = dict(row._mapping)
    data["overdue"] = data["status"] in OPEN_STATUSES and data["deadline"] < today
    return data
