"""Events accountability consumes."""

from __future__ import annotations

HANDLERS: dict = {}
