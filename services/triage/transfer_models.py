"""Tables of the transfer's way back (转办 → 办理结果 → 审核), in triage's schema.

Kept apart from ``models.py`` (same metadata) so this loop can change without touching the screening
tables. ``transfers`` is the loop's state per clue; ``transfer_results`` every result a unit filed.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, Index, Integer, Table, Text, Uuid, func, text
from sqlalchemy.dialects.postgresql import JSONB

from .models import metadata

# One row per transferred clue: which unit handles it, the round it is in, and that round's deadline.
transfers = Table(
    "transfers",
    metadata,
    Column("clue_id", Uuid, primary_key=True),
    Column("tracking_number", Text, nullable=False),
    Column("unit_id", Text, nullable=False),
    Column("state", Text, nullable=False),  # assigned | filed | returned | concluded
    Column("round", Integer, nullable=False, server_default=text("1")),
    Column("deadline", Date),
    Column("assigned_on", Date, nullable=False),
    Column("returns", Integer, nullable=False, server_default=text("0")),
    Column("concluded_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_triage_transfers_unit_state", "unit_id", "state"),
)

# 办理结果: what the unit did, found and who is responsible, with evidence files; then the officer's review.
transfer_results = Table(
    "transfer_results",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("clue_id", Uuid, nullable=False),
    Column("unit_id", Text, nullable=False),
    Column("round", Integer, nullable=False),
    Column("actions", Text, nullable=False),  # 办理情况: what was done
    Column("findings", Text, nullable=False),  # 核查结论
    Column("finding", Text),  # substantiated | partly_substantiated | unfounded
    Column("responsible", Text, nullable=False),  # 责任人 (the unit's person answerable for the handling)
    Column("evidence", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("filed_by", Text, nullable=False),
    Column("filed_at", DateTime(timezone=True), nullable=False),
    Column("deadline", Date),
    Column("on_time", Boolean, nullable=False),
    Column("review", Text),  # accepted | returned (null: waiting for the officer)
    Column("review_reason", Text),
    Column("outcome_summary", Text),
    Column("reviewed_by", Text),
    Column("reviewed_at", DateTime(timezone=True)),
    Index("ix_triage_transfer_results_clue", "clue_id", "round"),
)
