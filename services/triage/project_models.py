"""Key projects (重点项目): the register, phone checks with owners, and links to clues and cases.

Same metadata as ``models.py``. The owner's contact is the commission's working data for phone checks
(电话询问) and is never published; events carry only what the owner said."""

from __future__ import annotations

from sqlalchemy import ARRAY, Column, DateTime, ForeignKey, Table, Text, Uuid, func, text
from sqlalchemy.dialects.postgresql import JSONB

from .models import metadata

key_projects = Table(
    "key_projects",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("code", Text, nullable=False, unique=True),  # the register's own number
    Column("name", Text, nullable=False),
    # other names clues use for it (简称): matched like the name, by the in-memory matcher (project_match.py)
    Column("aliases", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("level", Text, nullable=False),  # provincial 省级 | city 市级 | county 县级
    Column("owner", Text, nullable=False),  # 项目业主 (the investor / enterprise)
    Column("owner_contact", Text),  # who the commission phones, and how
    Column("leader", Text, nullable=False),  # 一名领导
    Column("team", ARRAY(Text), nullable=False),  # 一套班子
    Column("approval_units", ARRAY(Text), nullable=False),  # units involved in approval (审批服务)
    Column("milestones", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("registered_by", Text, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

project_checks = Table(
    "project_checks",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("project_id", Uuid, ForeignKey("key_projects.id"), nullable=False, index=True),
    Column("checked_at", DateTime(timezone=True), nullable=False),
    Column("called_by", Text, nullable=False),
    Column("spoke_with", Text, nullable=False),
    Column("answers", JSONB, nullable=False),  # {obstruction, delay, extortion: bool}
    Column("problems", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("unit_id", Text),
    Column("account", Text, nullable=False, server_default=""),
    Column("clue_id", Uuid),  # the clue a bad answer became, once intake has accepted it
)

project_links = Table(
    "project_links",
    metadata,
    Column("project_id", Uuid, ForeignKey("key_projects.id"), primary_key=True),
    Column("kind", Text, primary_key=True),  # clue | case
    Column("target_id", Uuid, primary_key=True),
    Column("label", Text),  # tracking number or case number
    Column("source", Text, nullable=False),  # manual | phone_check | case_of_clue | mention
    Column("matched", Text),  # the name, alias or number the clue used
    # project 五必查 triggers the clue raised when linked (项目迟迟不落地 …); the view also reads the clue's own
    Column("triggers", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("linked_by", Text, nullable=False),
    Column("linked_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
