"""Inspections (明察暗访, 作风巡查, 巡察): plans, visits, on-site evidence, findings, monthly themes.

Same metadata as ``models.py``. A finding points at the clue it became (channel ``inspection``); on-site
evidence is stored like a QR report's attachments (cleaned, content-addressed), per visit."""

from __future__ import annotations

from sqlalchemy import ARRAY, Column, Date, DateTime, ForeignKey, Integer, Table, Text, Uuid, func, text

from .models import metadata

inspection_themes = Table(
    "inspection_themes",
    metadata,
    Column("month", Text, primary_key=True),  # YYYY-MM: 一月一主题
    Column("theme", Text, nullable=False),
    Column("set_by", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

inspection_plans = Table(
    "inspection_plans",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("kind", Text, nullable=False),  # open 明察 | covert 暗访 | style_patrol 作风巡查 | circuit 巡察
    Column("theme", Text, nullable=False),
    Column("month", Text, nullable=False),
    Column("target_units", ARRAY(Text), nullable=False),
    Column("team", ARRAY(Text), nullable=False),  # staff subjects of the inspection team
    Column("leader", Text, nullable=False),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=False),
    Column("report_due", Date, nullable=False),
    Column("holiday", Text),
    Column("reported_on", Date),
    Column("report_summary", Text),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

inspection_visits = Table(
    "inspection_visits",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("plan_id", Uuid, ForeignKey("inspection_plans.id"), nullable=False, index=True),
    Column("unit_id", Text, nullable=False),
    Column("place", Text, nullable=False),
    Column("visited_at", DateTime(timezone=True), nullable=False),
    Column("notes", Text, nullable=False, server_default=""),
    Column("evidence_count", Integer, nullable=False, server_default="0"),
    Column("recorded_by", Text, nullable=False),
)

inspection_evidence = Table(
    "inspection_evidence",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("visit_id", Uuid, ForeignKey("inspection_visits.id"), nullable=False, index=True),
    Column("sha256", Text, nullable=False),
    Column("media_type", Text, nullable=False),
    Column("size", Integer, nullable=False),
)

inspection_findings = Table(
    "inspection_findings",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("plan_id", Uuid, ForeignKey("inspection_plans.id"), nullable=False, index=True),
    Column("visit_id", Uuid, ForeignKey("inspection_visits.id")),
    Column("clue_id", Uuid, nullable=False, unique=True),
    Column("unit_id", Text),
    Column("source", Text, nullable=False),  # visit | walk_in (现场举报投诉台 handed to the team)
    Column("text", Text, nullable=False),
    Column("recommendation", Text, nullable=False),
    Column("tags", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("recorded_by", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
