"""Events evaluation consumes."""

from __future__ import annotations

HANDLERS: dict = {}
