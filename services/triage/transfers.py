"""The transfer's way back (转办 → 办理结果 → 审核 → 反馈): use cases on a session, no HTTP.

A clue screened ``transfer`` is the unit's to handle. Its loop state lives in ``transfers``, created on
first touch from the clue itself (so the daily run stays as it is): the unit files its result, the officer
accepts it (the clue is concluded, the reporter told, asked to rate) or returns it with a reason and a new
deadline in working days. Every step is audited and published, in the same transaction.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Principal
from services.common.calendar import WorkCalendar
from services.common.contracts.transfers import TransferConcluded, TransferResultFiled, TransferReturned
from services.common.errors import Problem
from services.common.ids import new_id

from . import transfer_rules as rules
from .daily_run import SHANGHAI
from .models import audit_log, clues
from .transfer_models import transfer_results, transfers
from .transfer_schemas import (
    EvidenceRead,
    TransferRead,
    TransferResultFields,
    TransferResultRead,
    TransferReview,
    TransferStats,
    TransferUnitCount,
)



def _not_found() -> Problem:
    return Problem(404, "没有这条转办线索。", slug="transfer-not-found")


def today_in_city(moment: datetime | None = None) -> date:
    return (moment or datetime.now(UTC)).astimezone(SHANGHAI).date()


async def _current(session: AsyncSession, clue_id: uuid.UUID, *, lock: bool):
    """The clue and its loop state; the state row is made (or reset, after a re-routing) from the clue."""
    query = select(clues).where(clues.c.id == clue_id)
    clue = (await session.execute(query.with_for_update() if lock else query)).first()
    if clue is None or clue.decision != "transfer" or not clue.routed_unit_id:
        return None, None
    row = (await session.execute(select(transfers).where(transfers.c.clue_id == clue_id))).first()
    if row is None or row.unit_id != clue.routed_unit_id:
        if not lock:  # a read: show what the state would be, write nothing
            return clue, {"clue_id": clue.id, "tracking_number": clue.tracking_number,
                          "unit_id": clue.routed_unit_id, "state": "assigned", "round": 1,
                          "deadline": clue.deadline, "returns": 0, "concluded_at": None}
        values = {"tracking_number": clue.tracking_number, "unit_id": clue.routed_unit_id, "state": "assigned",
                  "round": 1, "deadline": clue.deadline, "returns": 0, "concluded_at": None,
                  "assigned_on": clue.run_date or today_in_city(), "updated_at": func.now()}
        await session.execute(pg_insert(transfers).values(clue_id=clue.id, **values).on_conflict_do_update(
            index_elements=["clue_id"], set_=values))
        row = (await session.execute(select(transfers).where(transfers.c.clue_id == clue_id))).one()
    return clue, dict(row._mapping)


def _result_read(row) -> TransferResultRead:
    data = dict(row._mapping)
    data["evidence"] = [EvidenceRead(index=i, name=e["name"], media_type=e["media_type"], size=e["size"])
                        for i, e in enumerate(row.evidence or [])]
    data["finding_label"] = rules.FINDING_LABELS.get(row.finding) if row.finding else None
    data["review_label"] = {"accepted": "审核通过", "returned": "退回重办"}.get(row.review) if row.review else None
    return TransferResultRead.model_validate(data)


async def _read(session: AsyncSession, clue, state: dict) -> TransferRead:
    results = (await session.execute(
        select(transfer_results).where(transfer_results.c.clue_id == clue.id)
        .order_by(transfer_results.c.round, transfer_results.c.filed_at))).all()
    return TransferRead(
        **{k: state[k] for k in ("clue_id", "tracking_number", "unit_id", "state", "round", "deadline",
                                 "returns", "concluded_at")},
        state_label=rules.STATE_LABELS[state["state"]], text=clue.text, subject=clue.subject, place=clue.place,
        received_at=clue.received_at, results=[_result_read(r) for r in results])


async def get_transfer(session: AsyncSession, *, clue_id: uuid.UUID, principal: Principal) -> TransferRead:
    clue, state = await _current(session, clue_id, lock=False)
    if clue is None or not rules.may_see_unit(principal, state["unit_id"]):
        raise _not_found()
    return await _read(session, clue, state)


async def list_transfers(
    session: AsyncSession, *, principal: Principal, unit_id: str | None, state: str | None,
    after: uuid.UUID | None, limit: int,
) -> list[TransferRead]:
    """The transfers of one unit (a unit handler: always its own), or all of them for officers."""
    if not (principal.roles & {"triage_officer", "investigator", "auditor", "admin"}):
        unit_id = principal.unit_id
        if unit_id is None:
            return []
    same_unit = and_(transfers.c.clue_id == clues.c.id, transfers.c.unit_id == clues.c.routed_unit_id)
    current_state = func.coalesce(transfers.c.state, "assigned")
    query = (select(clues, transfers.c.state.label("t_state"), transfers.c.round.label("t_round"),
                    transfers.c.deadline.label("t_deadline"), transfers.c.returns.label("t_returns"),
                    transfers.c.concluded_at.label("t_concluded_at"))
             .select_from(clues.outerjoin(transfers, same_unit))
             .where(clues.c.decision == "transfer", clues.c.routed_unit_id.is_not(None))
             .order_by(clues.c.id).limit(limit))
    if unit_id is not None:
        query = query.where(clues.c.routed_unit_id == unit_id)
    if state is not None:
        query = query.where(current_state == state)
    if after is not None:
        query = query.where(clues.c.id > after)
    items = []
    for row in (await session.execute(query)).all():
        st = {"clue_id": row.id, "tracking_number": row.tracking_number, "unit_id": row.routed_unit_id,
              "state": row.t_state or "assigned", "round": row.t_round or 1,
              "deadline": row.t_deadline if row.t_state else row.deadline, "returns": row.t_returns or 0,
              "concluded_at": row.t_concluded_at}
        items.append(TransferRead(**st, state_label=rules.STATE_LABELS[st["state"]], text=row.text,
                                  subject=row.subject, place=row.place, received_at=row.received_at))
    return items


async def file_result(
    session: AsyncSession, outbox, *, clue_id: uuid.UUID, principal: Principal, fields: TransferResultFields,
    evidence: list[dict[str, Any]], now: datetime | None = None,
) -> TransferRead:
    """办理结果报送 by the unit the clue was transferred to."""
    now = now or datetime.now(UTC)
    clue, state = await _current(session, clue_id, lock=True)
    if clue is None:
        raise _not_found()
    rules.ensure_handles_unit(principal, state["unit_id"])
    target = rules.next_state(state["state"], "file")
    in_time = rules.on_time(state["deadline"], today_in_city(now))
    result_id = new_id()
    await session.execute(pg_insert(transfer_results).values(
        id=result_id, clue_id=clue.id, unit_id=state["unit_id"], round=state["round"], actions=fields.actions,
        findings=fields.findings, finding=fields.finding, responsible=fields.responsible, evidence=evidence,
        filed_by=principal.subject, filed_at=now, deadline=state["deadline"], on_time=in_time))
    await session.execute(update(transfers).where(transfers.c.clue_id == clue.id)
                          .values(state=target, updated_at=now))
    await audit.record(session, audit_log, actor=principal, action="transfer.result-filed", entity_type="clue",
                       entity_id=str(clue.id), details={"result_id": str(result_id), "round": state["round"],
                                                        "on_time": in_time, "evidence": len(evidence)})
    await outbox.publish(session, TransferResultFiled(
        clue_id=clue.id, result_id=result_id, tracking_number=clue.tracking_number, unit_id=state["unit_id"],
        round=state["round"], deadline=state["deadline"], on_time=in_time, filed_at=now))
    return await _read(session, clue, {**state, "state": target})


async def review_result(
    session: AsyncSession, outbox, *, clue_id: uuid.UUID, principal: Principal, review: TransferReview,
    calendar: WorkCalendar, return_working_days: int, now: datetime | None = None,
) -> TransferRead:
    """审核: the officer accepts the unit's latest result, or returns it (退回重办) with a new deadline."""
    now = now or datetime.now(UTC)
    clue, state = await _current(session, clue_id, lock=True)
    if clue is None:
        raise _not_found()
    target = rules.next_state(state["state"], review.decision)
    latest = (await session.execute(
        select(transfer_results).where(transfer_results.c.clue_id == clue.id,
                                       transfer_results.c.round == state["round"],
                                       transfer_results.c.review.is_(None))
        .order_by(transfer_results.c.filed_at.desc()).limit(1))).first()
    if latest is None:  # filed without a result row cannot happen; refuse rather than guess
        raise Problem(409, "该转办线索没有待审核的办理结果。", slug="transfer-no-result")
    values: dict[str, Any] = {"state": target, "updated_at": now}
    if review.decision == "accept":
        values["concluded_at"] = now
        await session.execute(update(transfer_results).where(transfer_results.c.id == latest.id).values(
            review="accepted", outcome_summary=review.outcome_summary, reviewed_by=principal.subject,
            reviewed_at=now))
        event: Any = TransferConcluded(
            clue_id=clue.id, result_id=latest.id, tracking_number=clue.tracking_number, unit_id=state["unit_id"],
            finding=latest.finding, outcome_summary=review.outcome_summary, on_time=latest.on_time,
            rounds=state["round"], concluded_at=now)
    else:
        deadline = calendar.add_working_days(today_in_city(now), return_working_days)
        values |= {"round": state["round"] + 1, "deadline": deadline, "returns": state["returns"] + 1}
        await session.execute(update(transfer_results).where(transfer_results.c.id == latest.id).values(
            review="returned", review_reason=review.reason, reviewed_by=principal.subject, reviewed_at=now))
        event = TransferReturned(
            clue_id=clue.id, result_id=latest.id, tracking_number=clue.tracking_number, unit_id=state["unit_id"],
            round=state["round"] + 1, reason=review.reason, deadline=deadline, working_days=return_working_days,
            returned_at=now)
    await session.execute(update(transfers).where(transfers.c.clue_id == clue.id).values(**values))
    await audit.record(session, audit_log, actor=principal, action=f"transfer.{review.decision}",
                       entity_type="clue", entity_id=str(clue.id),
                       details={"result_id": str(latest.id), "round": state["round"], "reason": review.reason})
    await outbox.publish(session, event)
    return await _read(session, clue, {**state, **{k: v for k, v in values.items() if k != "updated_at"}})


async def evidence_of(session: AsyncSession, *, clue_id: uuid.UUID, result_id: uuid.UUID, index: int,
                      principal: Principal) -> dict:
    row = (await session.execute(select(transfer_results).where(
        transfer_results.c.id == result_id, transfer_results.c.clue_id == clue_id))).first()
    if row is None or not rules.may_see_unit(principal, row.unit_id) or not 0 <= index < len(row.evidence):
        raise Problem(404, "没有这份佐证材料。", slug="evidence-not-found")
    return row.evidence[index]


async def transfer_stats(session: AsyncSession, *, since: date, until: date, today: date) -> TransferStats:
    """转办统计 for the clues screened in [since, until]: made, results filed (on time / late), returned,
    concluded, and those still open past their deadline."""
    made = (await session.execute(
        select(clues.c.routed_unit_id, func.count())
        .where(clues.c.decision == "transfer", clues.c.routed_unit_id.is_not(None),
               clues.c.run_date.between(since, until))
        .group_by(clues.c.routed_unit_id))).all()
    in_period = select(clues.c.id).where(clues.c.run_date.between(since, until)).scalar_subquery()
    r = transfer_results.c
    filed = (await session.execute(
        select(r.unit_id, func.count(), func.count().filter(r.on_time), func.count().filter(~r.on_time),
               func.count().filter(r.review == "returned"), func.count().filter(r.review == "accepted"))
        .where(r.clue_id.in_(in_period)).group_by(r.unit_id))).all()
    deadline = func.coalesce(transfers.c.deadline, clues.c.deadline)
    overdue = await session.scalar(
        select(func.count()).select_from(clues.outerjoin(transfers, transfers.c.clue_id == clues.c.id))
        .where(clues.c.decision == "transfer", clues.c.run_date.between(since, until), deadline < today,
               func.coalesce(transfers.c.state, "assigned").in_(("assigned", "returned"))))
    units: dict[str, dict[str, int]] = {}
    for unit, count in made:
        units.setdefault(unit, {})["transfers"] = count
    for unit, n, ok, late, returned, concluded in filed:
        units.setdefault(unit, {}).update(results_filed=n, on_time=ok, late=late, returned=returned,
                                          concluded=concluded)
    keys = ("transfers", "results_filed", "on_time", "late", "returned", "concluded")
    by_unit = [TransferUnitCount(unit_id=u, **{k: c.get(k, 0) for k in keys}) for u, c in sorted(units.items())]
    totals = {k: sum(getattr(u, k) for u in by_unit) for k in keys}
    rate = round(totals["on_time"] / totals["results_filed"], 4) if totals["results_filed"] else None
    return TransferStats(since=since, until=until, **totals, overdue_open=overdue or 0, on_time_rate=rate,
                         by_unit=by_unit, labels={
                             "transfers": "转办件数", "results_filed": "报送办理结果", "on_time": "按期报送",
                             "late": "逾期报送", "returned": "退回重办", "concluded": "审核办结",
                             "overdue_open": "逾期未报送", "on_time_rate": "按期报送率"})


