"""Typed event contracts, one Pydantic model per event type, exported as JSON Schema.

Producers and consumers import the same classes, and ``tests/unit/test_contracts.py`` keeps the exported
schemas (``services/common/contracts/schemas/``) in step with the code.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import (  # noqa: F401 — registers contracts
    accountability,
    audit,
    evaluation,
    intake,
    notification,
    transfers,
    triage,
)
from .base import REGISTRY, EventContract

SCHEMA_DIR = Path(__file__).parent / "schemas"


def contract_for(event_type: str) -> type[EventContract]:
    return REGISTRY[event_type]


def json_schemas() -> dict[str, dict]:
    return {event_type: cls.model_json_schema() for event_type, cls in sorted(REGISTRY.items())}


def export_json_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event_type, schema in json_schemas().items():
        path = directory / f"{event_type}.schema.json"
        path.write_text(json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written


__all__ = ["REGISTRY", "EventContract", "contract_for", "export_json_schemas", "json_schemas"]
