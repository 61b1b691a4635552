"""What every event contract has: its producing service, its event name, and the aggregate it is keyed by."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

import orjson

from pydantic import BaseModel, ConfigDict

from ..events import CloudEvent, topic_name
from ..ids import new_id

REGISTRY: dict[str, type[EventContract]] = {}


def envelope_bytes(
    *, service: str, event_type: str, subject: str, data: Any, traceparent: str | None = None,
    time: datetime | str | None = None,
) -> bytes:
    """A CloudEvents 1.0 structured-JSON envelope, the one layout every zuofeng event is written in.

    ``data`` is a JSON-able dict or an ``orjson.Fragment`` of already serialised JSON. Bulk writers (the
    triage daily run) call this with a plain dict to skip a model per event; everyone else goes through
    :meth:`EventContract.envelope_bytes`."""
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(new_id()),
        "source": f"/zuofeng/{service}",
        "type": event_type,
        "time": time or datetime.now(UTC),
        "subject": subject,
        "datacontenttype": "application/json",
        "data": data,
    }
    if traceparent:
        envelope["traceparent"] = traceparent
    return orjson.dumps(envelope, option=orjson.OPT_UTC_Z)


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

    def envelope_bytes(self, *, traceparent: str | None = None) -> bytes:
        """The same CloudEvents JSON as ``to_cloudevent().to_bytes()``, written directly: the outbox calls
        this for every event, and validating a CloudEvent model per event was most of a batch's cost."""
        return envelope_bytes(
            service=self.service, event_type=self.event_type(), subject=self.key(),
            data=orjson.Fragment(self.model_dump_json()), traceparent=traceparent,
        )

    @classmethod
    def from_cloudevent(cls, event: CloudEvent) -> Self:
        return cls.model_validate(event.data)


Id = uuid.UUID
