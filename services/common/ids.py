"""Time-ordered identifiers (UUIDv7), so primary keys index well and sort by creation."""

from __future__ import annotations

import uuid

from uuid_utils.compat import uuid7 as _uuid7


def new_id() -> uuid.UUID:
    return _uuid7()
