"""What every event contract has: its producing service, its event name, and the aggregate it is keyed by."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from ..events import CloudEvent, topic_name

REGISTRY: dict[str, type["EventContract"]] = {}


class EventContract(BaseModel):
    """One Pydantic model per event type. Subclasses set ``service``, ``event`` and ``key_field``.

    Consumers ignore fields they do not know (so a producer may add optional fields within v1); a
    breaking change is a new ``.v2`` topic. Reporter identity never appears in any contract.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    service: ClassVar[str]
    event: ClassVar[str]
    key_field: ClassVar[str]
    compacted: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "event" in cls.__dict__:
            REGISTRY[cls.event_type()] = cls

    @classmethod
    def event_type(cls) -> str:
        return f"zuofeng.{cls.service}.{cls.event}.v1"

    @classmethod
    def topic(cls, prefix: str = "") -> str:
        return topic_name(prefix, cls.service, cls.event)

    def key(self) -> str:
        return str(getattr(self, self.key_field))

    def to_cloudevent(self, *, traceparent: str | None = None, subject: str | None = None) -> CloudEvent:
        return CloudEvent(
            source=f"/zuofeng/{self.service}",
            type=self.event_type(),
            subject=subject or self.key(),
            traceparent=traceparent,
            data=self.model_dump(mode="json"),
        )

    @classmethod
    def from_cloudevent(cls, event: CloudEvent) -> "EventContract":
        return cls.model_validate(event.data)


Id = uuid.UUID
