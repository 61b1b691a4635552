"""Evaluation's tables (schema ``evaluation``)."""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
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

metadata = service_metadata("evaluation")
outbox, inbox = service_tables(metadata)
audit_log = audit_table(metadata)
audit_checkpoints = checkpoint_table(metadata)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", Text, nullable=False),
    # Campaigns of one series follow each other ("previous campaign" for 连续两次不合格).
    Column("series", Text, nullable=False),
    Column("year", Integer, nullable=False),
    Column("quarter", SmallInteger),
    Column("period", Text, nullable=False),  # "2026" or "2026-Q3"
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),  # exclusive
    Column("state", Text, nullable=False, server_default="draft"),
    Column("categories", JSONB, nullable=False),
    Column("weights", JSONB, nullable=False),
    Column("thresholds", JSONB, nullable=False),
    Column("veto_rules", JSONB, nullable=False),
    Column("stuffing_rules", JSONB, nullable=False),
    Column("indicator_rules", JSONB, nullable=False),
    Column("top_n", SmallInteger, nullable=False, server_default="10"),
    Column("exemplars_per_category", SmallInteger, nullable=False, server_default="3"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("opened_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True)),
    Column("published_at", DateTime(timezone=True)),
    # The results exactly as published (and emitted), so later events never change a published ranking.
    Column("results", JSONB),
    UniqueConstraint("series", "period"),
)

campaign_units = Table(
    "campaign_units",
    metadata,
    Column("campaign_id", Uuid, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", Text, primary_key=True),
    # A small per-campaign number; ballots store these instead of unit ids to stay narrow.
    Column("ref", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("key_section", Boolean, nullable=False, server_default="false"),
    UniqueConstraint("campaign_id", "ref"),
)

ballots = Table(
    "ballots",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    # No foreign key on the two hot tables: a per-row RI check would cost more than the insert itself, and
    # ingest already holds the campaign row FOR SHARE (campaigns are never deleted).
    Column("campaign_id", Uuid, nullable=False),
    # HMAC-SHA256(key, campaign id + normalised voter identity); the identity itself is never stored.
    Column("voter_hash", LargeBinary, nullable=False),
    Column("channel", Text, nullable=False),
    Column("source", Text),
    Column("pattern", BigInteger, nullable=False),
    Column("unit_refs", ARRAY(Integer), nullable=False),
    Column("scores", ARRAY(SmallInteger), nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("status", Text, nullable=False, server_default="counted"),  # counted | quarantined | rejected
    Column("reasons", ARRAY(Text), nullable=False, server_default="{}"),
    Column("reviewed_by", Text),
    Column("reviewed_at", DateTime(timezone=True)),
    UniqueConstraint("campaign_id", "voter_hash"),
    Index("ix_ballots_not_counted", "campaign_id", "id", postgresql_where=text("status <> 'counted'")),
)

# Per-request partial sums written in the same statement as the ballots, so ranking never rescans a
# million ballots: it adds these up and subtracts the few ballots that are not counted.
ballot_tallies = Table(
    "ballot_tallies",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("campaign_id", Uuid, nullable=False, index=True),
    Column("unit_ref", Integer, nullable=False),
    Column("marks", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
)

source_scores = Table(
    "source_scores",
    metadata,
    Column("campaign_id", Uuid, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", Text, primary_key=True),
    Column("source", Text, primary_key=True),  # department | deputies | rectification | enterprise
    Column("scorer", Text, primary_key=True),
    Column("score", Float, nullable=False),
    Column("recorded_by", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

vetoes = Table(
    "vetoes",
    metadata,
    Column("campaign_id", Uuid, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", Text, primary_key=True),
    Column("reason", Text, nullable=False),
    Column("recorded_by", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# The unit directory as triage publishes it (read model of ``triage.units``).
units = Table(
    "units",
    metadata,
    Column("unit_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("category", Text),
    Column("key_section", Boolean, nullable=False, server_default="false"),
    Column("active", Boolean, nullable=False, server_default="true"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Facts from other services' events, dated, so each campaign counts those inside its own period.
indicator_facts = Table(
    "indicator_facts",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("unit_id", Text, nullable=False),
    # complaint | substantiated | overdue_rectification | feedback | award_ineligible
    Column("kind", Text, nullable=False),
    Column("value", Float, nullable=False, server_default="1"),
    Column("occurred_on", Date, nullable=False),
    Index("ix_indicator_facts_unit_kind_day", "unit_id", "kind", "occurred_on"),
)
