"""Accountability's tables (schema ``accountability``). No reporter identity is ever stored here."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Sequence,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from services.common.app import service_tables
from services.common.audit import audit_table, checkpoint_table
from services.common.db import service_metadata

metadata = service_metadata("accountability")
outbox, inbox = service_tables(metadata)
audit_log = audit_table(metadata)
audit_checkpoints = checkpoint_table(metadata)

case_number_seq = Sequence("case_number_seq", metadata=metadata)

cases = Table(
    "cases",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("case_number", Text, nullable=False, unique=True),
    Column("state", Text, nullable=False),
    Column("source", Text, nullable=False),  # domain.ORIGINS: clue | evaluation | inspection | officer | import
    # What opened it, for idempotent creation from events (e.g. "evaluation:<campaign>:<kind>:<unit>").
    Column("origin_key", Text, unique=True),
    Column("title", Text, nullable=False),
    Column("summary", Text),
    Column("unit_id", Text),
    Column("unit_name", Text),
    Column("region", Text),
    Column("problem_family", Text),
    Column("problem_type", Text),
    Column("serious", Boolean, nullable=False, server_default="false"),
    Column("unit_problem", Boolean, nullable=False, server_default="false"),
    Column("finding", Text),
    Column("finding_summary", Text),
    Column("outcome_summary", Text),
    Column("concluded_on", Date),
    Column("opened_by", Text, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("closed_at", DateTime(timezone=True)),
    # Who leads it (R-AC-10): commission | organization; its officers file, find, decide and close.
    Column("lead_body", Text, nullable=False, server_default="commission"),
    Column("must_investigate", Boolean, nullable=False, server_default="false"),  # 五必查
    Column("tags", ARRAY(Text), nullable=False, server_default="{}"),  # the clues' tags (四风, 八项规定…)
    Column("campaign", Text),  # the evaluation campaign or supervision campaign it belongs to
    Column("due_on", Date),  # 快查快结: the finding is due by then
    # 诬告陷害: an unfounded case referred for a false accusation (the accused is cleared separately).
    Column("referral", Text),
    Column("referral_reason", Text),
    Index("ix_cases_unit_id", "unit_id"),
    Index("ix_cases_concluded_on", "concluded_on"),
    Index("ix_cases_source", "source"),
    Index("ix_cases_tags", "tags", postgresql_using="gin"),
)

case_clues = Table(
    "case_clues",
    metadata,
    # A clue belongs to one case at most: a re-delivered or re-triaged clue never opens a second case.
    Column("clue_id", Uuid, primary_key=True),
    Column("case_id", Uuid, ForeignKey("cases.id"), nullable=False, index=True),
    Column("tracking_number", Text),
    Column("problem_type", Text),
    Column("channel", Text),
    Column("must_investigate", Boolean, nullable=False, server_default="false"),
    Column("attached_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Every clue-triaged event handled, so a repeat (合并) that arrives before its original can wait for it:
# events of different clues are not ordered relative to each other (different partitions).
triaged_clues = Table(
    "triaged_clues",
    metadata,
    Column("clue_id", Uuid, primary_key=True),
    Column("merged_into", Uuid, index=True),
    Column("waiting", Boolean, nullable=False, server_default="false"),  # a repeat whose original is not yet seen
    Column("tracking_number", Text),
    Column("problem_type", Text),
    Column("channel", Text),
    Column("must_investigate", Boolean, nullable=False, server_default="false"),
    Column("handled_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

persons = Table(
    "persons",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("case_id", Uuid, ForeignKey("cases.id"), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("post", Text),
    Column("unit_id", Text),
    Column("unit_name", Text),
    Column("rank", Text),
    Column("party_member", Boolean, nullable=False),
    Column("responsibility", Text),
    Column("leader_role", Text),
    Column("management", Text),  # 管理权限 (domain.MANAGEMENT)
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

measures = Table(
    "measures",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("case_id", Uuid, ForeignKey("cases.id"), nullable=False, index=True),
    Column("person_id", Uuid, ForeignKey("persons.id"), nullable=False, index=True),
    Column("family", Text, nullable=False),
    Column("code", Text, nullable=False),
    Column("form", SmallInteger, nullable=False),
    Column("transferred_for_prosecution", Boolean, nullable=False, server_default="false"),
    Column("note", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("person_id", "code"),
)

exemptions = Table(
    "exemptions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("case_id", Uuid, ForeignKey("cases.id"), nullable=False, index=True),
    Column("person_id", Uuid, ForeignKey("persons.id"), nullable=False, unique=True),
    Column("kind", Text, nullable=False),
    Column("basis", Text, nullable=False, server_default="reform"),  # reform | minor (轻微责任豁免)
    Column("criteria", JSONB, nullable=False),
    Column("reasons", Text, nullable=False),
    Column("benchmark", Boolean, nullable=False, server_default="false"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# 一案双查: a reasoned finding that a unit leader bears no responsibility.
leader_clearances = Table(
    "leader_clearances",
    metadata,
    Column("case_id", Uuid, ForeignKey("cases.id"), primary_key=True),
    Column("leader_role", Text, primary_key=True),
    Column("leader_name", Text),
    Column("reason", Text, nullable=False),
    Column("recorded_by", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

rectifications = Table(
    "rectifications",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("case_id", Uuid, ForeignKey("cases.id"), nullable=False, index=True),
    Column("unit_id", Text, nullable=False, index=True),
    Column("task", Text, nullable=False),
    Column("deadline", Date, nullable=False),
    Column("responsible", Text),
    Column("status", Text, nullable=False, server_default="open"),
    Column("evidence", Text),
    Column("evidence_at", DateTime(timezone=True)),
    Column("signed_off_at", DateTime(timezone=True)),
    Column("signed_off_by", Text),
    # The deadline an overdue event was already sent for: one event per item and deadline.
    Column("overdue_for", Date),
    Column("look_backs", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_rectifications_due", "deadline", postgresql_where=text("status <> 'signed_off'")),
)

typical_cases = Table(
    "typical_cases",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("case_id", Uuid, ForeignKey("cases.id"), nullable=False, index=True),
    Column("kind", Text, nullable=False),  # typical | clarification
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("scope", Text, nullable=False),
    Column("unit_id", Text),
    Column("problem_type", Text),
    Column("published_at", DateTime(timezone=True), nullable=False),
)

# Read model of triage's unit directory (log-compacted ``triage.units``).
units = Table(
    "units",
    metadata,
    Column("unit_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("level", Text, nullable=False),
    Column("parent_id", Text),
    Column("region", Text),
    Column("category", Text),
    Column("principal_leader", Text),
    Column("leader_in_charge", Text),
    Column("key_section", Boolean, nullable=False, server_default="false"),
    Column("active", Boolean, nullable=False, server_default="true"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Consequences that arrive from evaluation (or reviews) wait here for the competent officer (R-AC-14).
proposals = Table(
    "proposals",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("origin_key", Text, nullable=False, unique=True),  # "evaluation:<campaign>:<kind>:<unit>"
    Column("source", Text, nullable=False),  # evaluation
    Column("kind", Text, nullable=False),
    Column("body", Text, nullable=False, index=True),  # whose queue (commission | organization)
    Column("status", Text, nullable=False, server_default="pending"),
    Column("campaign", Text),
    Column("unit_id", Text),
    Column("unit_name", Text),
    Column("title", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("suggested_measure", Text),
    Column("persons", JSONB, nullable=False, server_default="[]"),  # the leaders it names, to examine
    Column("held_to_account", Text),  # evaluation's words for whom (党政主要负责人 …), as sent
    Column("grounds", JSONB, nullable=False, server_default="[]"),  # the campaign rules it stands on
    Column("decided_by", Text),
    Column("decided_at", DateTime(timezone=True)),
    Column("decision_reason", Text),
    Column("case_id", Uuid, ForeignKey("cases.id")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_proposals_pending", "body", "id", postgresql_where=text("status = 'pending'")),
)

# 专题民主生活会 within 30 days of closing a major case (003); one per case.
follow_ups = Table(
    "follow_ups",
    metadata,
    Column("case_id", Uuid, ForeignKey("cases.id"), primary_key=True),
    Column("unit_id", Text),
    Column("due_on", Date, nullable=False),
    Column("status", Text, nullable=False, server_default="open"),
    Column("held_on", Date),
    Column("minutes", Text),
    Column("recorded_by", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# One row per import request: who, what file (its SHA-256), how many cases and rows were refused.
imports = Table(
    "imports",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("importer", Text, nullable=False),
    Column("format", Text, nullable=False),  # json | xlsx
    Column("file_name", Text),
    Column("sha256", Text, nullable=False),
    Column("cases_imported", Integer, nullable=False),
    Column("cases_refused", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# 取消评先评优: one flag per unit and year, whatever number of 五必查 cases.
award_ineligibility = Table(
    "award_ineligibility",
    metadata,
    Column("unit_id", Text, primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("case_id", Uuid, nullable=False),
    Column("rule", Text, nullable=False, server_default="must_investigate"),  # R-AC-9's own rule
    Column("flagged_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
