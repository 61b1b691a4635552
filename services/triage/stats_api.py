"""The leaders' dashboard figures from triage: clues per city day by channel and family, unit × problem type.

City-wide views, so for the commission's and the organization department's staff, never a unit handler
(whose scope is its own transferred clues). The organization department counts over its own matters
only, as its daily sheet does. Each answer is one GROUP BY over the clues, whatever the period's size.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from services.common.auth import Principal, require_roles
from services.common.calendar import SHANGHAI
from services.common.db import SessionDep
from services.common.errors import Problem

from .competence import organization_matter, organization_only
from .models import clues, units
from .taxonomy import default_taxonomy

router = APIRouter(prefix="/api/v1/triage/stats", tags=["triage"])

Leader = Annotated[Principal, require_roles(
    "triage_officer", "investigator", "org_officer", "evaluation_admin", "auditor", "admin")]
From = Annotated[date | None, Query(alias="from", description="起始日期 (含), YYYY-MM-DD; 缺省为截止日期前29天")]
To = Annotated[date | None, Query(description="截止日期 (含), YYYY-MM-DD; 缺省为今天 (北京时间)")]
MAX_DAYS = 366
UNCLASSIFIED, UNROUTED = "unclassified", "unrouted"

# The words intake shows for its channels (services/intake/catalog.py; a test keeps the two equal).
CHANNEL_LABELS: dict[str, str] = {
    "hotline_12388": "12388 纪检监察举报电话",
    "hotline_12345": "12345 政务服务便民热线",
    "hotline_12380": "12380 组织部举报电话",
    "qr_code": "扫码随手拍",
    "petition": "信访",
    "media": "新闻媒体",
    "online": "网络平台",
    "walk_in": "现场举报投诉台",
    "inspection": "明察暗访",
    "mayor_line": "市长专线",
    "open311": "Open311 接口",
    "project_check": "重点项目电话询问",
}


class DayCounts(BaseModel):
    date: str
    by_channel: dict[str, int]
    by_family: dict[str, int]


class DailyLabels(BaseModel):
    channel: dict[str, str]
    family: dict[str, str]


class DailyCounts(BaseModel):
    from_: str = Field(alias="from")
    to: str
    days: list[DayCounts]
    labels: DailyLabels


class HeatUnit(BaseModel):
    id: str
    name: str


class HeatType(BaseModel):
    code: str
    label: str


class Heatmap(BaseModel):
    from_: str = Field(alias="from")
    to: str
    units: list[HeatUnit]
    types: list[HeatType]
    cells: list[tuple[int, int, int]] = Field(description="[unit_index, type_index, count], non-zero only")


def period(from_: date | None, to: date | None) -> tuple[date, date]:
    until = to or datetime.now(SHANGHAI).date()
    since = from_ or until - timedelta(days=29)
    if since > until:
        raise Problem(422, f"起始日期 {since.isoformat()} 晚于截止日期 {until.isoformat()}。", slug="bad-period")
    if (until - since).days + 1 > MAX_DAYS:
        raise Problem(422, f"统计期间最长 {MAX_DAYS} 天，请缩短起止日期。", slug="period-too-long")
    return since, until


def _where(principal: Principal, since: date, until: date) -> list:
    # Bounds as instants of the city's midnight, so the received_at index serves the range.
    start = datetime.combine(since, time.min, SHANGHAI)
    end = datetime.combine(until + timedelta(days=1), time.min, SHANGHAI)
    where = [clues.c.received_at >= start, clues.c.received_at < end]
    if organization_only(principal):
        where.append(organization_matter())
    return where


@router.get("/daily", response_model=DailyCounts, response_model_by_alias=True)
async def get_daily_clue_counts(session: SessionDep, principal: Leader, from_: From = None, to: To = None) -> dict:
    """每日线索量: clues received per city day (Asia/Shanghai), by channel and by family (不作为/慢作为/乱作为);
    every day of the period is listed, an empty one with empty counts."""
    since, until = period(from_, to)
    day = func.date(func.timezone("Asia/Shanghai", clues.c.received_at)).label("day")
    family = func.coalesce(clues.c.family, UNCLASSIFIED).label("family")
    rows = (await session.execute(
        select(day, clues.c.channel, family, func.count().label("n"))
        .where(*_where(principal, since, until)).group_by(day, clues.c.channel, family))).all()
    days: dict[date, tuple[dict[str, int], dict[str, int]]] = {
        since + timedelta(days=i): ({}, {}) for i in range((until - since).days + 1)}
    for row in rows:
        by_channel, by_family = days[row.day]
        by_channel[row.channel] = by_channel.get(row.channel, 0) + row.n
        by_family[row.family] = by_family.get(row.family, 0) + row.n
    taxonomy = default_taxonomy()
    families = {code: fam["label"] for code, fam in taxonomy.families.items()} | {UNCLASSIFIED: "未分类"}
    seen_channels = {c for by_channel, _ in days.values() for c in by_channel}
    return {
        "from": since.isoformat(), "to": until.isoformat(),
        "days": [{"date": d.isoformat(), "by_channel": c, "by_family": f} for d, (c, f) in days.items()],
        "labels": {"channel": {code: CHANNEL_LABELS.get(code, code)
                               for code in [*CHANNEL_LABELS, *sorted(seen_channels - set(CHANNEL_LABELS))]},
                   "family": families},
    }


@router.get("/heatmap", response_model=Heatmap, response_model_by_alias=True)
async def get_unit_type_heatmap(session: SessionDep, principal: Leader, from_: From = None, to: To = None) -> dict:
    """单位 × 问题类型: clues received in the period per responsible unit (where triage routed it, else where
    intake pre-routed it) and problem type; ``cells`` are ``[unit_index, type_index, count]``, non-zero only."""
    since, until = period(from_, to)
    unit = func.coalesce(clues.c.routed_unit_id, clues.c.unit_id, UNROUTED).label("unit")
    type_code = func.coalesce(clues.c.type_code, UNCLASSIFIED).label("type_code")
    counted = (select(unit, type_code, func.count().label("n")).where(*_where(principal, since, until))
               .group_by(unit, type_code).subquery())
    rows = (await session.execute(
        select(counted.c.unit, units.c.name, counted.c.type_code, counted.c.n)
        .select_from(counted.outerjoin(units, units.c.id == counted.c.unit))
        .order_by(counted.c.unit, counted.c.type_code))).all()
    taxonomy = default_taxonomy()
    type_labels = {code: typ["label"] for code, typ in taxonomy.types.items()}
    present = {r.type_code for r in rows}
    types = [code for code in type_labels] + sorted(present - set(type_labels))
    unit_names: dict[str, str] = {}
    for row in rows:
        unit_names.setdefault(row.unit, row.name or ("未分办" if row.unit == UNROUTED else row.unit))
    unit_index = {u: i for i, u in enumerate(unit_names)}
    type_index = {t: i for i, t in enumerate(types)}
    return {
        "from": since.isoformat(), "to": until.isoformat(),
        "units": [{"id": u, "name": name} for u, name in unit_names.items()],
        "types": [{"code": t, "label": type_labels.get(t, "未分类" if t == UNCLASSIFIED else t)} for t in types],
        "cells": [[unit_index[r.unit], type_index[r.type_code], r.n] for r in rows],
    }
