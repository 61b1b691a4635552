"""Key projects (重点项目, R-SU-5): the register (四个一: 一个重点项目、一名领导、一套班子、一抓到底), regular
phone checks with the owner (电话询问: 是否存在故意刁难、推诿拖延、吃拿卡要), and the project's clues and cases.

A bad answer is published (``key-project-checked`` with problems); intake turns it into a clue the commission
keeps, and :func:`link_arriving_clue` ties that clue to the project when its ``clue-received`` comes back.
A case opened on a linked clue is linked to the project too (:func:`link_case`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.accountability import CaseOpened
from services.common.contracts.intake import ClueReceived
from services.common.contracts.projects import KeyProjectChecked, KeyProjectRegistered
from services.common.errors import Problem
from services.common.ids import new_id
from services.common.outbox import Outbox

from .models import clues
from .project_models import key_projects, project_checks, project_links

LEVEL_LABELS = {"provincial": "省级重点项目", "city": "市级重点项目", "county": "县级重点项目"}
PROBLEM_LABELS = {"obstruction": "故意刁难", "delay": "推诿拖延", "extortion": "吃拿卡要", "other": "其他作风问题"}
SOURCE_LABELS = {"manual": "人工关联", "phone_check": "电话询问发现", "case_of_clue": "关联线索立案",
                 "mention": "线索提及项目"}


async def register(session: AsyncSession, outbox: Outbox, *, body: dict[str, Any], by: str) -> uuid.UUID:
    project_id = new_id()
    registered_at = datetime.now(UTC)
    try:
        async with session.begin_nested():
            await session.execute(insert(key_projects).values(id=project_id, registered_by=by,
                                                               registered_at=registered_at, **body))
    except IntegrityError:
        raise Problem(409, f"项目编号 {body['code']} 已登记。", slug="project-exists") from None
    await outbox.publish(session, KeyProjectRegistered(
        project_id=project_id, code=body["code"], name=body["name"], level=body["level"], leader=body["leader"],
        approval_units=body["approval_units"], registered_at=registered_at))
    return project_id


async def get(session: AsyncSession, project_id: uuid.UUID):
    row = (await session.execute(select(key_projects).where(key_projects.c.id == project_id))).first()
    if row is None:
        raise Problem(404, "没有这个重点项目。", slug="not-found")
    return row


def project_read(p) -> dict[str, Any]:
    return {"id": p.id, "code": p.code, "name": p.name, "level": p.level, "level_label": LEVEL_LABELS[p.level],
            "owner": p.owner, "owner_contact": p.owner_contact, "leader": p.leader, "team": list(p.team),
            "approval_units": list(p.approval_units), "milestones": p.milestones,
            "registered_at": p.registered_at}


async def list_projects(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.execute(select(key_projects).order_by(key_projects.c.code))
    return [project_read(p) for p in rows]


async def log_check(session: AsyncSession, outbox: Outbox, *, project_id: uuid.UUID, body: dict[str, Any],
                    by: str) -> dict[str, Any]:
    """电话询问: the answers as logged; any yes (or a problem the caller noted) makes it a bad answer."""
    project = await get(session, project_id)
    answers = body["answers"]
    problems = [k for k in ("obstruction", "delay", "extortion") if answers.get(k)]
    if body.get("other_problem"):
        problems.append("other")
    unit_id = body.get("unit_id")
    if unit_id is not None and unit_id not in project.approval_units:
        raise Problem(422, f"单位 {unit_id} 不是本项目的审批服务单位。", slug="unit-not-involved")
    check_id = new_id()
    checked_at = body.get("checked_at") or datetime.now(UTC)
    await session.execute(insert(project_checks).values(
        id=check_id, project_id=project_id, checked_at=checked_at, called_by=by, spoke_with=body["spoke_with"],
        answers=answers, problems=problems, unit_id=unit_id, account=body.get("account") or ""))
    await outbox.publish(session, KeyProjectChecked(
        check_id=check_id, project_id=project_id, project_code=project.code, project_name=project.name,
        checked_at=checked_at, problems=problems, unit_id=unit_id,
        account=body.get("account")))
    return check_read((await session.execute(select(project_checks).where(project_checks.c.id == check_id))).one())


def check_read(c) -> dict[str, Any]:
    return {"id": c.id, "project_id": c.project_id, "checked_at": c.checked_at, "called_by": c.called_by,
            "spoke_with": c.spoke_with, "answers": c.answers, "problems": list(c.problems),
            "problem_labels": [PROBLEM_LABELS[p] for p in c.problems], "unit_id": c.unit_id, "account": c.account,
            "outcome_label": "发现问题，已转为线索" if c.problems else "未反映问题", "clue_id": c.clue_id}


async def _link(session: AsyncSession, *, project_id: uuid.UUID, kind: str, target_id: uuid.UUID,
                label: str | None, source: str, by: str) -> bool:
    done = await session.execute(pg_insert(project_links).values(
        project_id=project_id, kind=kind, target_id=target_id, label=label, source=source, linked_by=by)
        .on_conflict_do_nothing().returning(project_links.c.target_id))
    return done.first() is not None


async def link_clue(session: AsyncSession, *, project_id: uuid.UUID, clue_id: uuid.UUID, by: str) -> None:
    await get(session, project_id)
    tracking = await session.scalar(select(clues.c.tracking_number).where(clues.c.id == clue_id))
    if tracking is None:
        raise Problem(422, "没有这条线索（或线索尚未到达分办）。", slug="clue-unknown")
    await _link(session, project_id=project_id, kind="clue", target_id=clue_id, label=tracking, source="manual",
                by=by)


async def link_case_by_hand(session: AsyncSession, *, project_id: uuid.UUID, case_id: uuid.UUID,
                            case_number: str | None, by: str) -> None:
    await get(session, project_id)
    await _link(session, project_id=project_id, kind="case", target_id=case_id, label=case_number,
                source="manual", by=by)


async def link_arriving_clue(session: AsyncSession, event: ClueReceived) -> None:
    """The clue intake made of a bad phone check: its ``external_id`` is the check's id."""
    if event.channel != "project_check" or not event.external_id:
        return
    try:
        check_id = uuid.UUID(event.external_id)
    except ValueError:
        return
    found = await session.execute(update(project_checks).where(project_checks.c.id == check_id)
                                  .values(clue_id=event.clue_id).returning(project_checks.c.project_id))
    row = found.first()
    if row is not None:
        await _link(session, project_id=row.project_id, kind="clue", target_id=event.clue_id,
                    label=event.tracking_number, source="phone_check", by="system")


async def link_by_mention(session: AsyncSession, event: ClueReceived) -> None:
    """A clue that names a registered project (by its full name or register number) is linked to it, so
    that 项目迟迟不落地 or 审批服务不到位 complaints reach the project's view without waiting for an officer."""
    if event.channel == "project_check":
        return
    text = event.text
    rows = await session.execute(select(key_projects.c.id).where(
        or_(func.strpos(text, key_projects.c.name) > 0, func.strpos(text, key_projects.c.code) > 0)))
    for (project_id,) in rows.all():
        await _link(session, project_id=project_id, kind="clue", target_id=event.clue_id,
                    label=event.tracking_number, source="mention", by="system")


async def link_case(session: AsyncSession, event: CaseOpened) -> None:
    """A case opened on a clue linked to a project belongs to the project too."""
    if not event.clue_ids:
        return
    rows = await session.execute(select(project_links.c.project_id).distinct().where(
        project_links.c.kind == "clue", project_links.c.target_id.in_(event.clue_ids)))
    for (project_id,) in rows.all():
        await _link(session, project_id=project_id, kind="case", target_id=event.case_id, label=event.case_number,
                    source="case_of_clue", by="system")


async def view(session: AsyncSession, project_id: uuid.UUID) -> dict[str, Any]:
    """项目视图: the project with its phone checks, clues (and how each was screened) and cases."""
    project = project_read(await get(session, project_id))
    checks = await session.execute(select(project_checks).where(project_checks.c.project_id == project_id)
                                   .order_by(project_checks.c.checked_at))
    links = (await session.execute(select(project_links).where(project_links.c.project_id == project_id)
                                   .order_by(project_links.c.linked_at))).all()
    clue_ids = [link.target_id for link in links if link.kind == "clue"]
    screened = {r.id: r for r in (await session.execute(
        select(clues.c.id, clues.c.state, clues.c.decision, clues.c.reason).where(clues.c.id.in_(clue_ids)))).all()
    } if clue_ids else {}
    project["checks"] = [check_read(c) for c in checks]
    project["clues"] = [{
        "clue_id": link.target_id, "tracking_number": link.label, "source": link.source,
        "source_label": SOURCE_LABELS[link.source],
        "state": getattr(screened.get(link.target_id), "state", None),
        "decision": getattr(screened.get(link.target_id), "decision", None),
        "reason": getattr(screened.get(link.target_id), "reason", None)} for link in links if link.kind == "clue"]
    project["cases"] = [{"case_id": link.target_id, "case_number": link.label, "source": link.source,
                         "source_label": SOURCE_LABELS[link.source]} for link in links if link.kind == "case"]
    return project
