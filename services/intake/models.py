"""Intake's tables (schema ``intake``)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    Sequence,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)

from services.common.app import service_tables
from services.common.db import service_metadata

metadata = service_metadata("intake")
outbox, inbox = service_tables(metadata)

tracking_seq = Sequence("tracking_seq", metadata=metadata)

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
    # A hotline's ticket id is unique within its line: the re-push guard (R-IN-2).
    UniqueConstraint("channel", "external_id"),
)
