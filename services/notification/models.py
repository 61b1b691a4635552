"""Notification's tables (schema ``notification``).

No table holds a reporter's identity in clear: ``reporters`` keeps the contact exactly as intake sealed
it (AES-GCM, bound to the clue id) and it is opened only in memory, at the moment of sending.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from services.common.app import service_tables
from services.common.audit import audit_table, checkpoint_table
from services.common.db import service_metadata

metadata = service_metadata("notification")
outbox, inbox = service_tables(metadata)
# Every opening of a reporter's sealed contact is an entry here (service/core.py addresses_for).
audit_log = audit_table(metadata)
audit_checkpoints = checkpoint_table(metadata)

# Read model of triage's unit directory (names for messages, parents for escalation).
units = Table(
    "units",
    metadata,
    Column("unit_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("parent_id", Text),
    Column("level", Text),  # region / agency / section: a sector-scope notice goes to an agency's tree
    Column("contacts", JSONB, nullable=False, server_default=text("'{}'::jsonb")),  # official, not personal
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# 投诉人: one row per clue; the contact stays sealed as intake sealed it.
reporters = Table(
    "reporters",
    metadata,
    Column("clue_id", Uuid, primary_key=True),
    Column("tracking_number", Text, nullable=False),
    Column("anonymous", Boolean, nullable=False),
    Column("contact_kid", Text),
    Column("contact_nonce", Text),
    Column("contact_ciphertext", Text),
    Column("unit_id", Text),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

# Every message to every recipient on every channel; dedupe_key = (source event, recipient, channel).
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("dedupe_key", Text, nullable=False, unique=True),
    Column("source", Text, nullable=False),  # the event id, or the schedule's own key (reminders)
    Column("template", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("recipient", Text, nullable=False),  # a reference ("reporter:<clue>", "unit:<id>", "office")
    Column("clue_id", Uuid),
    Column("unit_id", Text),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("locked_until", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("provider_id", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_deliveries_due", "status", "next_attempt_at"),
    Index("ix_deliveries_clue", "clue_id"),
)

# The in-app inbox (站内信) of each unit.
inbox_messages = Table(
    "inbox_messages",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("unit_id", Text, nullable=False),
    Column("delivery_id", Uuid, nullable=False, unique=True),
    Column("template", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("read_at", DateTime(timezone=True)),
    Index("ix_inbox_messages_unit", "unit_id", "id"),
)

# 督办: deadlines being watched for reminders and escalation.
deadlines = Table(
    "deadlines",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("kind", Text, nullable=False),  # transfer | rectification
    Column("ref_id", Uuid, nullable=False),  # the clue (transfer) or the rectification
    Column("unit_id", Text, nullable=False),
    Column("clue_id", Uuid),
    Column("case_id", Uuid),
    Column("label", Text, nullable=False),  # tracking number or task, for the messages
    Column("deadline", Date, nullable=False),
    Column("reminded_on", Date),
    Column("escalated_on", Date),
    Column("resolved_at", DateTime(timezone=True)),
    # A transfer's round (退回重办 starts the next): a stale event of an earlier round never reopens it.
    Column("round", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("kind", "ref_id"),
    Index("ix_deadlines_open", "resolved_at", "deadline"),
)

# 满意度回访: one rating request per (clue, case); the link's token is stored only as its SHA-256.
ratings = Table(
    "ratings",
    metadata,
    Column("token_hash", Text, primary_key=True),
    Column("clue_id", Uuid, nullable=False),
    Column("case_id", Uuid),
    Column("case_number", Text),
    Column("unit_id", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("rating", SmallInteger),
    Column("answered_at", DateTime(timezone=True)),
    Column("comment", Text),  # the reporter's own words, optional
    Column("reminded_on", Date),  # 回访提醒 sent (once) when unrated after N working days
    UniqueConstraint("clue_id", "case_id"),
    # A transfer concluded without a case: one request per clue (NULLs are distinct in the constraint above).
    Index("ux_ratings_clue_without_case", "clue_id", unique=True, postgresql_where=text("case_id IS NULL")),
)

# Daily sheet totals, kept for the monthly bulletin.
daily_sheets = Table(
    "daily_sheets",
    metadata,
    Column("run_date", Date, primary_key=True),
    Column("total", Integer, nullable=False),
    Column("by_type", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("by_decision", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
)

# 公开通报: citywide typical cases and clarifications, rankings, the monthly bulletin. A monthly bulletin is
# composed as a ``draft`` for an officer to review and publish; the public sees ``published`` rows only.
bulletins = Table(
    "bulletins",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("source", Text, nullable=False, unique=True),
    Column("kind", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("period", Text),
    Column("unit_id", Text),
    Column("data", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("published_at", DateTime(timezone=True), nullable=False),  # for a draft: when it was composed
    Column("status", Text, nullable=False, server_default="published"),
    Column("composed_at", DateTime(timezone=True)),
    Column("published_by", Text),
    Index("ix_bulletins_published", "published_at"),
)
