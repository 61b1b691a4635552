"""Events intake consumes (none yet in the foundation; receipts will follow triage and case outcomes)."""

from __future__ import annotations

HANDLERS: dict = {}
