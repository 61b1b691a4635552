"""Self-inspection lists (自查清单, R-SU-3) and their review (R-SU-4): each unit lists its problems per level
against a yardstick, each with 任务书、时间表和责任人; the unit reports it rectified with evidence; the
督查考评办 signs it off (销号) or sends it back as 敷衍整改、表面整改 or 虚假整改 in the September 大检查 or
the December 回头看."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.drives import SelfCheckReferred
from services.common.errors import Problem
from services.common.ids import new_id
from services.common.outbox import Outbox
from services.common.scope import Scope

from .drive_models import self_check_items

LEVEL_LABELS = {"leadership": "领导班子", "middle": "中层干部", "staff": "一般干部"}
# Wenzhou's four mirrors and Ezhou's 不敢为/不想为/不会为 and 四客, as the yardsticks a problem is listed under.
MIRRORS = {
    "mirror_rules": "对照党章党规", "mirror_duty": "对照岗位职责", "mirror_public": "对照群众期盼",
    "mirror_models": "对照先进典型",
    "dare_not": "不敢为", "want_not": "不想为", "know_not": "不会为",
    "four_guests": "四客（掮客、政客、看客、过客）",
}
STATE_LABELS = {"open": "整改中", "rectified": "已报整改待销号", "signed_off": "已销号", "returned": "退回重改"}
VERDICT_LABELS = {"perfunctory": "敷衍整改", "superficial": "表面整改", "false": "虚假整改"}
REVIEW_LABELS = {"september_check": "九月大检查", "december_lookback": "十二月回头看"}
REFER_LABELS = {"commission": "纪委监委", "organization": "组织部"}


def read(row, on: date) -> dict[str, Any]:
    overdue = row.state in ("open", "returned") and row.deadline < on
    return {"id": row.id, "unit_id": row.unit_id, "drive_id": row.drive_id, "level": row.level,
            "level_label": LEVEL_LABELS[row.level], "mirror": row.mirror, "mirror_label": MIRRORS[row.mirror],
            "problem": row.problem, "plan": row.plan, "deadline": row.deadline, "responsible": row.responsible,
            "state": row.state, "state_label": STATE_LABELS[row.state] + ("（已逾期）" if overdue else ""),
            "overdue": overdue, "evidence": row.evidence, "review_note": row.review_note,
            "signed_off_at": row.signed_off_at}


async def add(session: AsyncSession, *, unit_id: str, item: dict[str, Any]) -> uuid.UUID:
    item_id = new_id()
    await session.execute(insert(self_check_items).values(id=item_id, unit_id=unit_id, **item))
    return item_id


async def get(session: AsyncSession, item_id: uuid.UUID, scope: Scope, *, lock: bool = False):
    statement = select(self_check_items).where(self_check_items.c.id == item_id)
    row = (await session.execute(statement.with_for_update() if lock else statement)).first()
    scope.require(row is not None and scope.sees_unit_record(row.unit_id), "自查问题")
    return row


async def list_items(session: AsyncSession, *, scope: Scope, unit_id: str | None, level: str | None
                     ) -> list[dict[str, Any]]:
    statement = select(self_check_items).order_by(self_check_items.c.unit_id, self_check_items.c.deadline)
    unit = scope.unit_id if scope.unit_bound else unit_id
    if unit:
        statement = statement.where(self_check_items.c.unit_id == unit)
    if level:
        statement = statement.where(self_check_items.c.level == level)
    on = datetime.now(UTC).date()
    return [read(r, on) for r in (await session.execute(statement)).all()]


async def rectified(session: AsyncSession, *, item_id: uuid.UUID, evidence: str, scope: Scope) -> dict[str, Any]:
    row = await get(session, item_id, scope, lock=True)
    if row.state not in ("open", "returned"):
        raise Problem(409, f"该问题当前为“{STATE_LABELS[row.state]}”，不能再报整改。", slug="item-state")
    await session.execute(update(self_check_items).where(self_check_items.c.id == item_id)
                          .values(state="rectified", evidence=evidence))
    return read(await get(session, item_id, scope), datetime.now(UTC).date())


async def review(session: AsyncSession, outbox: Outbox, *, item_id: uuid.UUID, decision: str, review: str,
                 verdict: str | None, note: str | None, by: str, refer_to: str | None = None) -> dict[str, Any]:
    scope = Scope()
    row = await get(session, item_id, scope, lock=True)
    if row.state != "rectified":
        raise Problem(409, "只有已报整改（附佐证）的问题才能销号或退回。", slug="item-state")
    label = REVIEW_LABELS[review]
    if decision == "sign_off" and refer_to:
        raise Problem(422, "销号的问题无需移送。", slug="refer-on-sign-off")
    if decision == "sign_off":
        values = {"state": "signed_off", "signed_off_by": by, "signed_off_at": datetime.now(UTC),
                  "review_note": f"{label}：销号" + (f"。{note}" if note else "")}
    else:
        if verdict is None:
            raise Problem(422, "退回时须认定整改问题：敷衍整改、表面整改或虚假整改。", slug="verdict-required")
        referred = f"，移送{REFER_LABELS[refer_to]}" if refer_to else ""
        values = {"state": "returned", "review_note": f"{label}：认定为{VERDICT_LABELS[verdict]}，退回重改{referred}"
                  + (f"。{note}" if note else "")}
        if refer_to:
            await outbox.publish(session, SelfCheckReferred(
                item_id=item_id, unit_id=row.unit_id, level_label=LEVEL_LABELS[row.level], problem=row.problem,
                responsible=row.responsible, verdict=verdict, verdict_label=VERDICT_LABELS[verdict],
                review_label=label, refer_to=refer_to, referred_at=datetime.now(UTC)))
    await session.execute(update(self_check_items).where(self_check_items.c.id == item_id).values(**values))
    return read(await get(session, item_id, scope), datetime.now(UTC).date())
