"""Events notification consumes."""

from __future__ import annotations

HANDLERS: dict = {}
