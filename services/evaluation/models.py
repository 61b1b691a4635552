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
    Column("instrument", Text, nullable=False, server_default="poll"),  # poll | assessment
    # {"preset": …, "preset_label": …, "rules": [{"code", "label"}]}: the campaign's own rules (R-EV-7).
    Column("rule_set", JSONB, nullable=False),
    Column("min_ballots", Integer, nullable=False, server_default="1"),
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

# One-time SMS codes that verify a web voter's phone (R-EV-3): only keyed hashes, short-lived, single use.
# In PostgreSQL, not per replica, so the per-phone and per-client limits hold across replicas.
voter_codes = Table(
    "voter_codes",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("campaign_id", Uuid, nullable=False),
    Column("voter_hash", LargeBinary, nullable=False),  # the ballot's own voter key
    Column("code_hash", LargeBinary, nullable=False),  # HMAC(key, voter hash ‖ code)
    Column("client", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("attempts", SmallInteger, nullable=False, server_default="0"),
    Column("used_at", DateTime(timezone=True)),
    Index("ix_voter_codes_voter", "campaign_id", "voter_hash", "created_at"),
    Index("ix_voter_codes_client", "client", "created_at"),
)

# Paper ballots the office imports: who, which file (SHA-256), how many; shown on the campaign.
ballot_imports = Table(
    "ballot_imports",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("campaign_id", Uuid, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("imported_by", Text, nullable=False),
    Column("file_name", Text),
    Column("file_sha256", Text, nullable=False),
    Column("ballots", Integer, nullable=False),
    Column("accepted", Integer, nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_ballot_imports_campaign", "campaign_id"),
)

# Voters' written opinions per unit (R-EV-9), without any link to the voter or the ballot.
opinions = Table(
    "opinions",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("campaign_id", Uuid, nullable=False),
    Column("unit_id", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_opinions_campaign_unit", "campaign_id", "unit_id", "id"),
)
