"""Campaign drives (专项行动: 大起底…大评议, 三年行动, 28 项重点工作): phases, tasks, progress reports.

Same metadata as ``models.py``; kept apart from the 万人评机关 campaigns and ballots, which are scoring."""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from .models import metadata

drives = Table(
    "drives",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("title", Text, nullable=False),
    Column("phases", JSONB, nullable=False),  # [{name, starts_on, ends_on}] in order
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

drive_tasks = Table(
    "drive_tasks",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("drive_id", Uuid, ForeignKey("drives.id"), nullable=False, index=True),
    Column("phase", Text),
    Column("title", Text, nullable=False),
    Column("lead_unit", Text, nullable=False),  # 牵头单位
    Column("responsible_units", ARRAY(Text), nullable=False),  # 责任单位 (the lead unit among them)
    Column("deadline", Date, nullable=False),  # 完成时限
    Column("handed_down_from", Text),  # 巡视反馈意见 / 专项督察通报 (交办)
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

task_reports = Table(
    "drive_task_reports",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("task_id", Uuid, ForeignKey("drive_tasks.id"), nullable=False, index=True),
    Column("unit_id", Text, nullable=False),
    Column("progress", Text, nullable=False),
    Column("percent", Integer, nullable=False),
    Column("done", Boolean, nullable=False),
    Column("reported_by", Text, nullable=False),
    Column("reported_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# 自查清单: a unit's own problems per level, each with its 任务书、时间表和责任人, signed off (销号) on evidence.
self_check_items = Table(
    "self_check_items",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("unit_id", Text, nullable=False, index=True),
    Column("drive_id", Uuid, ForeignKey("drives.id")),
    Column("level", Text, nullable=False),  # leadership 领导班子 | middle 中层干部 | staff 一般干部
    Column("mirror", Text, nullable=False),  # the yardstick the problem is measured against (不敢为 …)
    Column("problem", Text, nullable=False),
    Column("plan", Text, nullable=False),  # 任务书: the rectification measures
    Column("deadline", Date, nullable=False),  # 时间表
    Column("responsible", Text, nullable=False),  # 责任人
    Column("state", Text, nullable=False, server_default="open"),  # open | rectified | signed_off
    Column("evidence", Text),
    Column("review_note", Text),
    Column("signed_off_by", Text),
    Column("signed_off_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# 大检查 / 回头看 as objects (R-SU-4): one per kind and year, covering every unit's list as it stood when the
# round opened, with what the round found on each item.
self_check_reviews = Table(
    "self_check_reviews",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("kind", Text, nullable=False),  # september_check 九月大检查 | december_lookback 十二月回头看
    Column("year", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("due", Date, nullable=False),  # by when the round is to be done
    Column("state", Text, nullable=False, server_default="open"),  # open | closed
    Column("opened_by", Text, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("closed_by", Text),
    Column("closed_at", DateTime(timezone=True)),
    UniqueConstraint("kind", "year", name="uq_self_check_reviews_kind_year"),
)

self_check_review_entries = Table(
    "self_check_review_entries",
    metadata,
    Column("review_id", Uuid, ForeignKey("self_check_reviews.id"), primary_key=True),
    Column("item_id", Uuid, ForeignKey("self_check_items.id"), primary_key=True),
    Column("unit_id", Text, nullable=False),
    Column("state_at_open", Text, nullable=False),
    Column("decision", Text),  # sign_off | return; None: not yet reviewed in this round
    Column("verdict", Text),  # perfunctory | superficial | false
    Column("refer_to", Text),  # commission | organization
    Column("note", Text),
    Column("reviewed_by", Text),
    Column("reviewed_at", DateTime(timezone=True)),
    Index("ix_self_check_review_entries_unit", "review_id", "unit_id"),
)

# 巡视反馈意见 / 专项督察通报 handed down (交办): the document, and each of its items as a drive task.
feedback_documents = Table(
    "feedback_documents",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("kind", Text, nullable=False),  # inspection_tour 巡视反馈意见 | supervision 专项督察通报 | other
    Column("title", Text, nullable=False),
    Column("issued_by", Text, nullable=False),  # e.g. 省委第三巡视组
    Column("doc_number", Text),  # 文号
    Column("received_on", Date, nullable=False),
    Column("drive_id", Uuid, ForeignKey("drives.id"), nullable=False),  # the tasks' drive (made for it if none)
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

feedback_items = Table(
    "feedback_items",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("document_id", Uuid, ForeignKey("feedback_documents.id"), nullable=False),
    Column("seq", Integer, nullable=False),  # 第 n 条
    Column("text", Text, nullable=False),  # the problem as the feedback states it
    Column("requirement", Text),  # 整改要求
    Column("task_id", Uuid, ForeignKey("drive_tasks.id"), nullable=False),
    UniqueConstraint("document_id", "seq", name="uq_feedback_items_document_seq"),
)
