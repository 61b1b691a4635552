"""The CloudEvents 1.0 envelope every zuofeng event travels in, and topic naming."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from .ids import new_id


def topic_name(prefix: str, service: str, event: str) -> str:
    """``zuofeng.<service>.<event>.v1``, behind the deployment's (or test run's) prefix."""
    return f"{prefix}zuofeng.{service}.{event}.v1"


def dlq_name(topic: str) -> str:
    return f"{topic}.dlq"


class CloudEvent(BaseModel):
    """CloudEvents 1.0 structured JSON, plus the W3C ``traceparent`` extension attribute."""

    model_config = ConfigDict(extra="allow")

    specversion: str = "1.0"
    id: str = Field(default_factory=lambda: str(new_id()))
    source: str
    type: str
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str
    datacontenttype: str = "application/json"
    traceparent: str | None = None
    data: dict[str, Any]

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json", exclude_none=True))

    @classmethod
    def from_bytes(cls, raw: bytes) -> CloudEvent:
        return cls.model_validate_json(raw)
