"""Triage's tables (schema ``triage``)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Table, Text, Uuid, func

from services.common.app import service_tables
from services.common.db import service_metadata

metadata = service_metadata("triage")
outbox, inbox = service_tables(metadata)

# Triage's own copy of every clue, fed by intake's clue-received events.
clues = Table(
    "clues",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tracking_number", Text, nullable=False, unique=True),
    Column("channel", Text, nullable=False),
    Column("subject", Text),
    Column("text", Text, nullable=False),
    Column("unit_id", Text),
    Column("place", Text),
    Column("poster_code", Text),
    Column("enterprise_related", Boolean, nullable=False, server_default="false"),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("state", Text, nullable=False, server_default="pending"),
    Column("stored_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
