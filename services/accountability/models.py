"""Accountability's tables (schema ``accountability``)."""

from __future__ import annotations

from services.common.app import service_tables
from services.common.db import service_metadata

metadata = service_metadata("accountability")
outbox, inbox = service_tables(metadata)
