"""Triage's tables (schema ``triage``)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Identity,
    Index,
    Integer,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from services.common.app import service_tables
from services.common.audit import audit_table, checkpoint_table
from services.common.db import service_metadata

metadata = service_metadata("triage")
outbox, inbox = service_tables(metadata)
audit_log = audit_table(metadata)
audit_checkpoints = checkpoint_table(metadata)

# Triage's own copy of every clue, fed by intake's clue-received events, and the result of screening it.
clues = Table(
    "clues",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tracking_number", Text, nullable=False, unique=True),
    Column("channel", Text, nullable=False),
    Column("subject", Text),
    Column("text", Text, nullable=False),
    Column("unit_id", Text),  # as intake pre-routed it (QR poster's unit, or named by the hotline)
    Column("place", Text),
    Column("poster_code", Text),
    Column("enterprise_related", Boolean, nullable=False, server_default="false"),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("state", Text, nullable=False, server_default="pending"),  # pending → triaged | review
    Column("stored_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # 分类 (classification) with its evidence
    Column("family", Text),
    Column("type_code", Text),
    Column("tags", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("confidence", Float, nullable=False, server_default="0"),
    Column("evidence", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    # 五必查
    Column("must_investigate", Boolean, nullable=False, server_default="false"),
    Column("triggers", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    # 分办 (routing) and 筛选 (screening)
    Column("routed_unit_id", Text),
    Column("route_reason", Text),
    Column("decision", Text),
    Column("reason", Text),
    Column("deadline", Date),
    Column("merged_into", Uuid),
    # every clue merged into this one: [{clue_id, tracking_number, channel, received_at}]
    Column("sources", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("run_date", Date),
    Column("triaged_at", DateTime(timezone=True)),
    Column("overridden", Boolean, nullable=False, server_default="false"),
    # the learned classifier: which model version classified it (on arrival, then in the run), and whether
    # it reads as a conduct complaint at all
    Column("model_version", Text),
    Column("conduct", Boolean),
    Column("classified_at", DateTime(timezone=True)),
    # Only pending clues are ever looked up by arrival for a run; a partial index is not touched when the
    # run moves 100,000 rows out of 'pending'.
    Index("ix_triage_clues_pending_received", "received_at", postgresql_where=text("state = 'pending'")),
    Index("ix_triage_clues_run_date", "run_date"),
    Index("ix_triage_clues_routed_unit", "routed_unit_id"),
)

# 单位名录: region → agency → section/station.
units = Table(
    "units",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("level", Text, nullable=False),  # region | agency | section
    Column("parent_id", Text),
    Column("region", Text),
    Column("category", Text),  # evaluation category: 机关科室, 基层站所, 科教文卫事业单位, 公共服务企业
    Column("principal_leader", Text),
    Column("leader_in_charge", Text),
    Column("key_section", Boolean, nullable=False, server_default="false"),
    Column("aliases", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("active", Boolean, nullable=False, server_default="true"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# One row per daily run (一天一梳理): its window, its sheet, and the officer's confirmation.
daily_runs = Table(
    "daily_runs",
    metadata,
    Column("run_date", Date, primary_key=True),
    Column("window_end", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("total", Integer, nullable=False),
    Column("sheet", JSONB, nullable=False),
    Column("triggered_by", Text, nullable=False),
    Column("confirmed_by", Text),
    Column("confirmed_at", DateTime(timezone=True)),
)

# 标杆案例 offered as precedent: from accountability's events, or seeded from data.
benchmark_cases = Table(
    "benchmark_cases",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("problem_type", Text),
    Column("tags", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("source", Text, nullable=False),  # accountability | seed
    Column("published_at", DateTime(timezone=True), nullable=False),
)

# Officers teach the classifier: every override becomes a labelled example (and ``zuofeng triage train``
# retrains from the shipped corpus plus these).
training_examples = Table(
    "training_examples",
    metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column("clue_id", Uuid),
    Column("text", Text, nullable=False),
    Column("conduct", Boolean, nullable=False),
    Column("family", Text),
    Column("type_code", Text),
    Column("triggers", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("enterprise", Boolean, nullable=False, server_default="false"),
    Column("tags", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("channel", Text),
    Column("source", Text, nullable=False),  # override
    Column("reason", Text),
    Column("labelled_by", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_triage_training_examples_clue", "clue_id"),
)
