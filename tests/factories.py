"""Events and rows for tests: one place that knows every required field, so a test names only what it is about."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from services.common.contracts.intake import ClueReceived
from services.common.ids import new_id


def tracking_number(day: str = "20261121") -> str:
    """Unique across runs against a shared database (six digits and a random tail)."""
    return f"ZF-{day}-{secrets.randbelow(10**6):06d}{secrets.token_hex(2)}"


def clue_received(**overrides: Any) -> ClueReceived:
    """线索受理 on the 12345 hotline, anonymous, received now, with a fresh id; override any field."""
    fields: dict[str, Any] = {
        "clue_id": new_id(), "tracking_number": tracking_number(), "channel": "hotline_12345",
        "received_at": datetime.now(UTC), "text": "窗口人员推诿扯皮",
    }
    return ClueReceived(**{**fields, **overrides})
