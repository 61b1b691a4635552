"""Notification's tables (schema ``notification``)."""

from __future__ import annotations

from services.common.app import service_tables
from services.common.db import service_metadata

metadata = service_metadata("notification")
outbox, inbox = service_tables(metadata)
