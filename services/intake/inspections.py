"""Inspections (明察暗访, 作风巡查, 巡察) as a channel of intake (R-SU-1).

An inspection team finds problems itself; what it finds is a clue like any other (tracking number,
``clue-received``), on channel ``inspection`` and marked ``kept_by_commission``: triage accepts it for the
commission at once and never transfers it to the inspected unit, which must not learn of a covert visit
through its own inbox. The window hall's 现场举报投诉台 hands walk-in reports to the team the same way
(直接移交市明查暗访组,以现查直报), not to the next daily run.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import holidays
from services.common.calendar import default_calendar
from services.common.contracts.inspections import (
    InspectionFindingRecorded,
    InspectionPlanned,
    InspectionResultReported,
)
from services.common.errors import Problem
from services.common.ids import new_id
from services.common.outbox import Outbox

from . import service
from .attachments import StagedFile
from .inspection_models import (
    inspection_evidence,
    inspection_findings,
    inspection_plans,
    inspection_themes,
    inspection_visits,
)
from .service.accepting import SHANGHAI
from .settings import IntakeSettings

KIND_LABELS: dict[str, str] = {"open": "明察", "covert": "暗访", "style_patrol": "作风巡查", "circuit": "巡察"}
SOURCE_LABELS: dict[str, str] = {"visit": "检查发现", "walk_in": "现场举报投诉台移交"}
STATE_LABELS: dict[str, str] = {
    "planned": "未开始", "under_way": "检查中", "awaiting_report": "待报送结果",
    "reported": "已按期报送结果", "reported_late": "逾期报送结果", "overdue": "逾期未报送结果",
}
# 限期报送结果: unless the plan says otherwise, results are due five working days after the last day.
REPORT_WORKING_DAYS = 5
WALK_IN_RECOMMENDATION = "现场举报，移交明察暗访组以现查直报"


def today() -> date:
    return datetime.now(SHANGHAI).date()


def plan_state(plan, on: date) -> str:
    if plan.reported_on is not None:
        return "reported" if plan.reported_on <= plan.report_due else "reported_late"
    if on < plan.starts_on:
        return "planned"
    if on <= plan.ends_on:
        return "under_way"
    return "awaiting_report" if on <= plan.report_due else "overdue"


# ---- monthly theme (一月一主题) --------------------------------------------------------------------------


async def set_theme(session: AsyncSession, *, month: str, theme: str, by: str) -> dict[str, Any]:
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    statement = pg_insert(inspection_themes).values(month=month, theme=theme, set_by=by)
    await session.execute(statement.on_conflict_do_update(
        index_elements=["month"], set_={"theme": theme, "set_by": by, "updated_at": func.now()}))
    return {"month": month, "theme": theme}


async def theme_of(session: AsyncSession, month: str) -> str | None:
    return await session.scalar(select(inspection_themes.c.theme).where(inspection_themes.c.month == month))


async def list_themes(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.execute(select(inspection_themes).order_by(inspection_themes.c.month.desc()))
    return [{"month": r.month, "theme": r.theme} for r in rows]


# ---- plans ---------------------------------------------------------------------------------------------


@dataclass
class PlanInput:
    kind: str
    target_units: list[str]
    team: list[str]
    leader: str
    theme: str | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    holiday: str | None = None
    report_due: date | None = None


def plan_dates(p: PlanInput, *, on: date) -> tuple[date, date, str | None]:
    """The plan's first and last day and the holiday it checks around (节日期间), from the calendar's data."""
    if p.holiday is not None:
        year = (p.starts_on or on).year
        found = holidays.find(p.holiday, year)
        if p.starts_on is None and found is not None and found.last < on:
            found = holidays.find(p.holiday, year + 1)  # the next one: this year's is past
        if found is None:
            raise Problem(422, f"工作日历中没有 {year} 年的{p.holiday}，请直接填写检查起止日期。",
                          slug="holiday-unknown")
        first, last = found.around()
        starts_on, ends_on = p.starts_on or first, p.ends_on or last
        if not (starts_on <= last and first <= ends_on):
            raise Problem(422, f"节日检查的日期须在{found.name}（{found.first}至{found.last}）前后。",
                          slug="holiday-dates")
        return starts_on, ends_on, found.name
    if p.starts_on is None or p.ends_on is None:
        raise Problem(422, "请填写检查起止日期，或选择要检查的节日。", slug="dates-required")
    near = holidays.overlapping(p.starts_on, p.ends_on)
    return p.starts_on, p.ends_on, near.name if near else None


async def create_plan(session: AsyncSession, outbox: Outbox, *, plan: PlanInput, by: str) -> uuid.UUID:
    starts_on, ends_on, holiday = plan_dates(plan, on=today())
    if ends_on < starts_on:
        raise Problem(422, "检查结束日期不能早于开始日期。", slug="dates-order")
    month = f"{starts_on:%Y-%m}"
    theme = plan.theme or await theme_of(session, month)
    if not theme:
        raise Problem(422, f"请填写检查主题，或先设定 {month} 的月度主题（一月一主题）。", slug="theme-required")
    report_due = plan.report_due or default_calendar().add_working_days(ends_on, REPORT_WORKING_DAYS)
    if report_due < ends_on:
        raise Problem(422, "结果报送期限不能早于检查结束日期。", slug="report-due-order")
    plan_id = new_id()
    team = sorted(set(plan.team) | {plan.leader})
    await session.execute(insert(inspection_plans).values(
        id=plan_id, kind=plan.kind, theme=theme, month=month, target_units=plan.target_units, team=team,
        leader=plan.leader, starts_on=starts_on, ends_on=ends_on, report_due=report_due, holiday=holiday,
        created_by=by))
    await outbox.publish(session, InspectionPlanned(
        plan_id=plan_id, kind=plan.kind, theme=theme, month=month,
        target_units=plan.target_units, starts_on=starts_on, ends_on=ends_on, report_due=report_due,
        holiday=holiday))
    return plan_id


async def get_plan(session: AsyncSession, plan_id: uuid.UUID, *, lock: bool = False):
    statement = select(inspection_plans).where(inspection_plans.c.id == plan_id)
    row = (await session.execute(statement.with_for_update() if lock else statement)).first()
    if row is None:
        raise Problem(404, "没有这项检查计划。", slug="not-found")
    return row


def require_member(plan, subject: str) -> None:
    """Visits and findings are recorded by the plan's own team (检查组成员), not by any staff member."""
    if subject not in plan.team:
        raise Problem(403, "只有本计划的检查组成员可以登记检查情况。", slug="not-team-member")


def plan_read(plan, *, on: date, visits: int = 0, findings: int = 0) -> dict[str, Any]:
    state = plan_state(plan, on)
    return {
        "id": plan.id, "kind": plan.kind, "kind_label": KIND_LABELS[plan.kind], "theme": plan.theme,
        "month": plan.month, "target_units": list(plan.target_units), "team": list(plan.team),
        "leader": plan.leader, "starts_on": plan.starts_on, "ends_on": plan.ends_on, "holiday": plan.holiday,
        "report_due": plan.report_due, "reported_on": plan.reported_on, "report_summary": plan.report_summary,
        "state": state, "state_label": STATE_LABELS[state], "visits": visits, "findings": findings,
    }


async def _counts(session: AsyncSession, table, plan_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not plan_ids:
        return {}
    rows = await session.execute(select(table.c.plan_id, func.count()).where(table.c.plan_id.in_(plan_ids))
                                 .group_by(table.c.plan_id))
    return dict(rows.all())


async def list_plans(session: AsyncSession, *, month: str | None = None) -> list[dict[str, Any]]:
    statement = select(inspection_plans).order_by(inspection_plans.c.starts_on.desc())
    if month:
        statement = statement.where(inspection_plans.c.month == month)
    plans = (await session.execute(statement)).all()
    ids = [p.id for p in plans]
    visits, findings = await _counts(session, inspection_visits, ids), await _counts(session, inspection_findings, ids)
    on = today()
    return [plan_read(p, on=on, visits=visits.get(p.id, 0), findings=findings.get(p.id, 0)) for p in plans]


async def plan_detail(session: AsyncSession, plan_id: uuid.UUID) -> dict[str, Any]:
    plan = await get_plan(session, plan_id)
    visit_rows = (await session.execute(select(inspection_visits).where(inspection_visits.c.plan_id == plan_id)
                                        .order_by(inspection_visits.c.visited_at))).all()
    finding_rows = (await session.execute(select(inspection_findings)
                                          .where(inspection_findings.c.plan_id == plan_id)
                                          .order_by(inspection_findings.c.recorded_at))).all()
    read = plan_read(plan, on=today(), visits=len(visit_rows), findings=len(finding_rows))
    read["visit_list"] = [visit_read(v) for v in visit_rows]
    read["finding_list"] = [finding_read(f) for f in finding_rows]
    return read


def visit_read(v) -> dict[str, Any]:
    return {"id": v.id, "plan_id": v.plan_id, "unit_id": v.unit_id, "place": v.place, "visited_at": v.visited_at,
            "notes": v.notes, "evidence_count": v.evidence_count, "recorded_by": v.recorded_by}


def finding_read(f) -> dict[str, Any]:
    return {"id": f.id, "plan_id": f.plan_id, "visit_id": f.visit_id, "clue_id": f.clue_id, "unit_id": f.unit_id,
            "source": f.source, "source_label": SOURCE_LABELS[f.source], "text": f.text,
            "recommendation": f.recommendation, "recorded_by": f.recorded_by, "recorded_at": f.recorded_at}


# ---- visits with on-site evidence ----------------------------------------------------------------------


async def record_visit(session: AsyncSession, *, plan, unit_id: str, place: str, visited_at: datetime | None,
                       notes: str, evidence: list[StagedFile], by: str) -> dict[str, Any]:
    if unit_id not in plan.target_units:
        raise Problem(422, f"单位 {unit_id} 不在本计划的检查对象之中。", slug="unit-not-targeted")
    visit_id = new_id()
    row = {"id": visit_id, "plan_id": plan.id, "unit_id": unit_id, "place": place,
           "visited_at": visited_at or datetime.now(UTC), "notes": notes, "evidence_count": len(evidence),
           "recorded_by": by}
    await session.execute(insert(inspection_visits).values(**row))
    if evidence:
        await session.execute(insert(inspection_evidence), [
            {"id": new_id(), "visit_id": visit_id, "sha256": e.sha256, "media_type": e.media_type, "size": e.size}
            for e in evidence])
    return {**row, "evidence_count": len(evidence)}


async def visit_evidence(session: AsyncSession, visit_id: uuid.UUID) -> list[StagedFile]:
    """A visit's stored evidence as attachment rows for the clue a finding becomes (already in the store)."""
    rows = await session.execute(select(inspection_evidence).where(inspection_evidence.c.visit_id == visit_id))
    return [StagedFile(Path(), r.sha256, r.size, r.media_type) for r in rows]


# ---- findings become clues the commission keeps --------------------------------------------------------


async def record_finding(
    session: AsyncSession, outbox: Outbox, settings: IntakeSettings, *, plan, text: str, recommendation: str,
    unit_id: str | None, subject: str | None, place: str | None, visit_id: uuid.UUID | None, source: str,
    by: str, reporter=None,
) -> dict[str, Any]:
    evidence: list[StagedFile] = []
    if visit_id is not None:
        visit = (await session.execute(select(inspection_visits).where(
            inspection_visits.c.id == visit_id, inspection_visits.c.plan_id == plan.id))).first()
        if visit is None:
            raise Problem(422, "这次检查记录不属于本计划。", slug="visit-unknown")
        unit_id, place = unit_id or visit.unit_id, place or visit.place
        evidence = await visit_evidence(session, visit_id)
    channel = "walk_in" if source == "walk_in" else "inspection"
    [outcome] = await service.accept_clues(session, outbox, settings, new=[service.NewClue(
        channel=channel, text=text, recorded_by=f"staff:{by}", subject=subject, unit_id=unit_id, place=place,
        reporter=reporter, issue_receipt=source == "walk_in", attachments=evidence, kept_by_commission=True)])
    finding_id = new_id()
    await session.execute(insert(inspection_findings).values(
        id=finding_id, plan_id=plan.id, visit_id=visit_id, clue_id=outcome.clue.id, unit_id=unit_id,
        source=source, text=text, recommendation=recommendation, recorded_by=by))
    recorded_at = datetime.now(UTC)
    await outbox.publish(session, InspectionFindingRecorded(
        finding_id=finding_id, plan_id=plan.id, clue_id=outcome.clue.id,
        tracking_number=outcome.clue.tracking_number, unit_id=unit_id, theme=plan.theme,
        source=source, recommendation=recommendation, recorded_at=recorded_at))
    return {"id": finding_id, "plan_id": plan.id, "clue_id": outcome.clue.id,
            "tracking_number": outcome.clue.tracking_number, "source": source, "source_label": SOURCE_LABELS[source],
            "recommendation": recommendation, "receipt_code": outcome.receipt_code}


async def active_plan(session: AsyncSession, *, on: date):
    """The plan a walk-in report goes to: one under way today, the most recently started first."""
    row = (await session.execute(select(inspection_plans).where(
        inspection_plans.c.starts_on <= on, inspection_plans.c.ends_on >= on,
        inspection_plans.c.reported_on.is_(None)).order_by(inspection_plans.c.starts_on.desc()).limit(1))).first()
    if row is None:
        raise Problem(409, "今天没有进行中的明察暗访计划，无法直接移交；请按普通现场举报登记。",
                      slug="no-active-inspection")
    return row


# ---- results by deadline (限期报送结果) and the count per unit and theme ----------------------------------


async def report_results(session: AsyncSession, outbox: Outbox, *, plan_id: uuid.UUID, summary: str
                         ) -> dict[str, Any]:
    plan = await get_plan(session, plan_id, lock=True)
    if plan.reported_on is not None:
        raise Problem(409, f"本计划的检查结果已于 {plan.reported_on} 报送。", slug="already-reported")
    on = today()
    if on < plan.starts_on:
        raise Problem(409, "检查尚未开始，不能报送结果。", slug="not-started")
    await session.execute(update(inspection_plans).where(inspection_plans.c.id == plan_id)
                          .values(reported_on=on, report_summary=summary))
    counts = (await _counts(session, inspection_visits, [plan_id]),
              await _counts(session, inspection_findings, [plan_id]))
    await outbox.publish(session, InspectionResultReported(
        plan_id=plan_id, theme=plan.theme, report_due=plan.report_due, reported_on=on,
        on_time=on <= plan.report_due, visits=counts[0].get(plan_id, 0), findings=counts[1].get(plan_id, 0)))
    return await plan_detail(session, plan_id)


async def stats(session: AsyncSession, *, month: str | None) -> dict[str, Any]:
    """检查情况统计: findings and visits per unit and per theme; plans by result state (按期/逾期)."""
    plans = await list_plans(session, month=month)
    ids = [p["id"] for p in plans]
    themes = {p["id"]: p["theme"] for p in plans}
    by_unit: dict[str, dict[str, int]] = {}
    by_theme: dict[str, dict[str, int]] = {}
    for table, key in ((inspection_visits, "visits"), (inspection_findings, "findings")):
        if not ids:
            break
        rows = await session.execute(select(table.c.plan_id, table.c.unit_id, func.count())
                                     .where(table.c.plan_id.in_(ids)).group_by(table.c.plan_id, table.c.unit_id))
        for plan_id, unit_id, n in rows:
            unit = by_unit.setdefault(unit_id or "未确定单位", {"visits": 0, "findings": 0})
            unit[key] += n
            theme = by_theme.setdefault(themes[plan_id], {"visits": 0, "findings": 0})
            theme[key] += n
    states: dict[str, int] = {}
    for p in plans:
        states[p["state"]] = states.get(p["state"], 0) + 1
    return {
        "month": month, "plans": len(plans),
        "by_unit": [{"unit_id": u, **c} for u, c in sorted(by_unit.items())],
        "by_theme": [{"theme": t, **c} for t, c in sorted(by_theme.items())],
        "by_state": [{"state": s, "state_label": STATE_LABELS[s], "count": n} for s, n in sorted(states.items())],
    }


def stats_csv(counts: dict[str, Any]) -> str:
    """一月一通报 material as CSV (Chinese headers; cells neutralised against spreadsheet formulas)."""
    import io

    from services.common import csvsafe

    out = io.StringIO()
    writer = csvsafe.writer(out)
    writer.writerow(["月份", "维度", "名称", "检查次数", "发现问题"])
    month = counts["month"] or "全部"
    for row in counts["by_unit"]:
        writer.writerow([month, "被检查单位", row["unit_id"], row["visits"], row["findings"]])
    for row in counts["by_theme"]:
        writer.writerow([month, "检查主题", row["theme"], row["visits"], row["findings"]])
    for row in counts["by_state"]:
        writer.writerow([month, "结果报送", row["state_label"], "", row["count"]])
    return out.getvalue()
