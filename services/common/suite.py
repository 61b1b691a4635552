"""The services of the suite and their default local ports (overridable per environment)."""

from __future__ import annotations

SERVICES: dict[str, int] = {
    "intake": 8101,
    "triage": 8102,
    "accountability": 8103,
    "evaluation": 8104,
    "notification": 8105,
}
GATEWAY_PORT = 8000
