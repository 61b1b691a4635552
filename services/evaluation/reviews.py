"""Scheduled reviews (R-SU-4) as objects: the September 大检查 and the December 回头看, one per kind and year,
across every unit's self-inspection list.

A round covers the items as they stood when it opened: the 大检查 every item not yet signed off, the 回头看
every item (it also looks back at those signed off, since a 虚假整改 shows after its 销号). Each decision in
a round is recorded on the round's entry and applied to the item by :func:`self_checks.review`; a return
referred to the commission or the organization department travels as ``self-check-referred`` (with the
round's id) and becomes a proposal in accountability. A closed round takes no more decisions."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.drives import ReviewUnitCount, SelfCheckReviewClosed
from services.common.errors import Problem
from services.common.ids import new_id
from services.common.outbox import Outbox
from services.common.scope import Scope

from . import self_checks
from .drive_models import self_check_items, self_check_review_entries, self_check_reviews

STATE_LABELS = {"open": "检查中", "closed": "已结束"}
DECISION_LABELS = {None: "待检查", "sign_off": "销号", "return": "退回重改"}


def title_of(kind: str, year: int) -> str:
    return f"{year}年{self_checks.REVIEW_LABELS[kind]}"


async def open_round(session: AsyncSession, *, kind: str, year: int, due: date, by: str) -> uuid.UUID:
    review_id = new_id()
    title = title_of(kind, year)
    try:
        async with session.begin_nested():
            await session.execute(insert(self_check_reviews).values(
                id=review_id, kind=kind, year=year, title=title, due=due, opened_by=by))
    except IntegrityError:
        raise Problem(409, f"{title}已经开始，不能重复开展。", slug="review-exists") from None
    covered = select(self_check_items.c.id, self_check_items.c.unit_id, self_check_items.c.state)
    if kind == "september_check":
        covered = covered.where(self_check_items.c.state != "signed_off")
    rows = (await session.execute(covered)).all()
    if rows:
        await session.execute(insert(self_check_review_entries), [
            {"review_id": review_id, "item_id": r.id, "unit_id": r.unit_id, "state_at_open": r.state} for r in rows])
    return review_id


async def get_round(session: AsyncSession, review_id: uuid.UUID, *, lock: bool = False):
    statement = select(self_check_reviews).where(self_check_reviews.c.id == review_id)
    row = (await session.execute(statement.with_for_update() if lock else statement)).first()
    if row is None:
        raise Problem(404, "没有这一轮检查。", slug="not-found")
    return row


def _round_read(r) -> dict[str, Any]:
    return {"id": r.id, "kind": r.kind, "kind_label": self_checks.REVIEW_LABELS[r.kind], "year": r.year,
            "title": r.title, "due": r.due, "state": r.state, "state_label": STATE_LABELS[r.state],
            "opened_at": r.opened_at, "closed_at": r.closed_at}


async def list_rounds(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.execute(select(self_check_reviews).order_by(self_check_reviews.c.year.desc(),
                                                                     self_check_reviews.c.kind))
    return [_round_read(r) for r in rows]


async def view(session: AsyncSession, review_id: uuid.UUID, scope: Scope) -> dict[str, Any]:
    """The round with, per unit, how far it got (销号, 退回 by verdict, 移送, 待检查) and its entries. A unit
    sees its own part only."""
    out = _round_read(await get_round(session, review_id))
    statement = (select(self_check_review_entries, self_check_items.c.problem, self_check_items.c.level,
                        self_check_items.c.state.label("item_state"))
                 .join(self_check_items, self_check_items.c.id == self_check_review_entries.c.item_id)
                 .where(self_check_review_entries.c.review_id == review_id)
                 .order_by(self_check_review_entries.c.unit_id, self_check_items.c.deadline))
    if scope.unit_bound:
        statement = statement.where(self_check_review_entries.c.unit_id == scope.unit_id)
    entries: list[dict[str, Any]] = []
    units: dict[str, dict[str, Any]] = {}
    for e in (await session.execute(statement)).all():
        entries.append({
            "item_id": e.item_id, "unit_id": e.unit_id, "problem": e.problem,
            "level_label": self_checks.LEVEL_LABELS[e.level],
            "state_at_open_label": self_checks.STATE_LABELS[e.state_at_open],
            "item_state_label": self_checks.STATE_LABELS[e.item_state],
            "decision": e.decision, "decision_label": DECISION_LABELS[e.decision],
            "verdict_label": self_checks.VERDICT_LABELS.get(e.verdict or ""),
            "refer_to_label": self_checks.REFER_LABELS.get(e.refer_to or ""), "note": e.note,
            "reviewed_at": e.reviewed_at})
        u = units.setdefault(e.unit_id, {"unit_id": e.unit_id, "items": 0, "signed_off": 0, "returned": 0,
                                         "referred": 0, "pending": 0, "verdicts": {}})
        u["items"] += 1
        if e.decision is None:
            u["pending"] += 1
        elif e.decision == "sign_off":
            u["signed_off"] += 1
        else:
            u["returned"] += 1
            label = self_checks.VERDICT_LABELS[e.verdict]
            u["verdicts"][label] = u["verdicts"].get(label, 0) + 1
            u["referred"] += e.refer_to is not None
    out["units"] = list(units.values())
    out["entries"] = entries
    return out


async def decide(session: AsyncSession, outbox: Outbox, *, review_id: uuid.UUID, item_id: uuid.UUID,
                 decision: str, verdict: str | None, refer_to: str | None, note: str | None, by: str
                 ) -> dict[str, Any]:
    round_ = await get_round(session, review_id, lock=True)
    if round_.state != "open":
        raise Problem(409, f"{round_.title}已结束，不能再作检查结论。", slug="review-closed")
    entry = (await session.execute(select(self_check_review_entries).where(
        self_check_review_entries.c.review_id == review_id, self_check_review_entries.c.item_id == item_id)
        .with_for_update())).first()
    if entry is None:
        raise Problem(404, f"{round_.title}不含这条自查问题。", slug="not-in-review")
    if entry.decision is not None:
        raise Problem(409, f"这条问题在{round_.title}中已作结论（{DECISION_LABELS[entry.decision]}）。",
                      slug="already-decided")
    item = await self_checks.review(session, outbox, item_id=item_id, decision=decision, review=round_.kind,
                                    verdict=verdict, note=note, by=by, refer_to=refer_to, round_title=round_.title,
                                    review_id=review_id)
    await session.execute(update(self_check_review_entries).where(
        self_check_review_entries.c.review_id == review_id, self_check_review_entries.c.item_id == item_id)
        .values(decision=decision, verdict=verdict, refer_to=refer_to, note=note, reviewed_by=by,
                reviewed_at=datetime.now(UTC)))
    return item


async def close(session: AsyncSession, outbox: Outbox, *, review_id: uuid.UUID, by: str) -> None:
    """End the round; its per-unit results go to notification, which drafts the round's 通报 for review."""
    round_ = await get_round(session, review_id, lock=True)
    if round_.state != "open":
        raise Problem(409, f"{round_.title}已经结束。", slug="review-closed")
    closed_at = datetime.now(UTC)
    await session.execute(update(self_check_reviews).where(self_check_reviews.c.id == review_id)
                          .values(state="closed", closed_by=by, closed_at=closed_at))
    units = (await view(session, review_id, Scope()))["units"]
    await outbox.publish(session, SelfCheckReviewClosed(
        review_id=review_id, kind=round_.kind, title=round_.title, closed_at=closed_at,
        units=[ReviewUnitCount(**{k: u[k] for k in ("unit_id", "items", "signed_off", "returned", "pending",
                                                     "verdicts")}) for u in units]))
