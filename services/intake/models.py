"""Intake's tables (schema ``intake``).

Reporter identity lives in its own table (sealed), never on ``clues``, so no query that lists or shows
clues can carry it by accident.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)

from sqlalchemy.dialects.postgresql import JSONB

from services.common.app import service_tables
from services.common.audit import audit_table, checkpoint_table
from services.common.db import service_metadata

metadata = service_metadata("intake")
outbox, inbox = service_tables(metadata)
audit_log = audit_table(metadata)
audit_checkpoints = checkpoint_table(metadata)

clues = Table(
    "clues",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tracking_number", Text, nullable=False, unique=True),
    Column("channel", Text, nullable=False),
    Column("external_id", Text),
    Column("subject", Text),
    Column("text", Text, nullable=False),
    Column("unit_id", Text),
    Column("place", Text),
    Column("enterprise_related", Boolean, nullable=False, server_default="false"),
    Column("anonymous", Boolean, nullable=False, server_default="true"),
    Column("attachment_count", Integer, nullable=False, server_default="0"),
    Column("status", Text, nullable=False, server_default="received"),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True)),
    Column("poster_code", Text),
    Column("category_hint", Text),
    # Who put the clue in: the hotline system, the staff member at the desk, or "public".
    Column("recorded_by", Text),
    Column("lat", Float),
    Column("long", Float),
    Column("address", Text),
    # The unit's feedback deadline once triage transfers the clue (Open311's expected_datetime).
    Column("deadline", Date),
    # Open311's media_url as the client sent it (the photo stays on the client's host; never fetched).
    Column("media_url", Text),
    # Triage's problem family (inaction / slow_action / misconduct): misconduct reports hide their place.
    Column("family", Text),
    # True while triage's decision is a transfer (转办): the unit then answers for it in public (Open311).
    Column("transferred", Boolean, nullable=False, server_default="false"),
    # A hotline's ticket id is unique within its line: the re-push guard (R-IN-2).
    UniqueConstraint("channel", "external_id"),
)

# 实名举报人身份: AES-256-GCM under the identity key ring, associated data = the clue id.
reporter_identities = Table(
    "reporter_identities",
    metadata,
    Column("clue_id", Uuid, ForeignKey("clues.id", ondelete="CASCADE"), primary_key=True),
    Column("kid", Text, nullable=False),
    Column("nonce", LargeBinary, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
)

# Approvals to reveal a named reporter (two-person rule, service/reveal.py); each is used at most once.
reveal_approvals = Table(
    "reveal_approvals",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("clue_id", Uuid, ForeignKey("clues.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("investigator", Text, nullable=False),  # who may reveal
    Column("case_number", Text, nullable=False),  # the case the reveal serves
    Column("reason", Text, nullable=False),
    Column("approved_by", Text, nullable=False),
    Column("approved_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
)

# 宣传画 poster codes: each hangs in one place and pre-routes its reports to one unit (R-IN-3).
posters = Table(
    "posters",
    metadata,
    Column("code", Text, primary_key=True),
    Column("unit_id", Text, nullable=False),
    Column("place", Text, nullable=False),
    Column("title", Text),
    Column("active", Boolean, nullable=False, server_default="true"),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

attachments = Table(
    "attachments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("clue_id", Uuid, ForeignKey("clues.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("sha256", Text, nullable=False),  # the content address in the blob store
    Column("media_type", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# 匿名回执码: a keyed lookup id over the code's prefix (indexed) and a slow hash of the whole code.
receipts = Table(
    "receipts",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("lookup_id", Text, nullable=False, index=True),
    Column("code_hash", Text, nullable=False),
    Column("clue_id", Uuid, ForeignKey("clues.id", ondelete="CASCADE"), nullable=False, unique=True),
)

# Messages for the reporter (from notification) shown on the receipt page.
feedback_messages = Table(
    "feedback_messages",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("clue_id", Uuid, ForeignKey("clues.id", ondelete="CASCADE"), nullable=False),
    Column("stage", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Index("ix_feedback_messages_clue_issued", "clue_id", "issued_at"),
)

# 热线回告: one row per stage a hotline ticket reached (受理/转办/办结/反馈…), an outbox the callback worker
# delivers from, in order per ticket; also the history the line's status pull shows. ``idempotency_key``
# travels with every attempt, so a receiver that saw a retry once can ignore it.
hotline_updates = Table(
    "hotline_updates",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("idempotency_key", Text, nullable=False, unique=True),
    Column("line", Text, nullable=False),
    Column("clue_id", Uuid, ForeignKey("clues.id", ondelete="CASCADE"), nullable=False),
    Column("stage", Text, nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    # pending → sending (a lease) → delivered | failed; pending waits while the line has no callback set.
    Column("status", Text, nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("locked_until", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("delivered_at", DateTime(timezone=True)),
    Index("ix_hotline_updates_due", "status", "next_attempt_at"),
    Index("ix_hotline_updates_clue", "clue_id", "id"),
)

# Names of units (from triage's directory topic), for Open311's agency_responsible.
unit_names = Table(
    "unit_names",
    metadata,
    Column("unit_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
)
