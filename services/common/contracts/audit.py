"""The audit chains' checkpoints, published by every service that keeps a chain (services/common/audit.py).

A copy outside the database: someone who can disable the audit tables' triggers could cut a chain's tail
and the checkpoints after it together, but not this topic's record of where the chain had reached.
Compacted and keyed by the chain, so the latest checkpoint of each chain is kept for good."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from .base import EventContract


class AuditCheckpointed(EventContract):
    service: ClassVar[str] = "audit"
    event: ClassVar[str] = "checkpoints"
    key_field: ClassVar[str] = "chain"
    compacted: ClassVar[bool] = True

    chain: str  # the audit table, schema-qualified, e.g. intake.audit_log
    head_seq: int
    entries: int
    head_hash: str
    key_id: str
    mac: str  # HMAC under key_id, as the checkpoint table's row (audit._checkpoint_message)
    at: datetime
