"""Traces follow a clue across Kafka through the CloudEvent ``traceparent``; metrics include SLA breaches.

The kernel's real request middleware, outbox and consumer run here; only the database session is a
stand-in (these are unit tests: the row the outbox writes is taken as the record Kafka would deliver).
"""

from __future__ import annotations

import contextlib

import httpx
import pytest
from aiokafka import ConsumerRecord
from fastapi import FastAPI, Request
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY as PROMETHEUS
from sqlalchemy import MetaData

from services.common import telemetry
from services.common.consumer import EventConsumer, inbox_table
from services.common.contracts.triage import UnitUpserted
from services.common.events import CloudEvent
from services.common.logs import traceparent_var
from services.common.observability import RequestContextMiddleware, record_sla_breach
from services.common.outbox import Outbox, outbox_table
from services.common.settings import ServiceSettings
from services.common.tracing import parse_traceparent

UPSTREAM_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


class _Result:
    def first(self):
        return ("inserted",)


class FakeSession:
    """Records what the outbox writes; answers the inbox insert as "new event"."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    async def execute(self, statement, params=None):
        if isinstance(params, list):
            self.rows.extend(params)
        return _Result()

    @contextlib.asynccontextmanager
    async def begin(self):
        yield self

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False


def _settings() -> ServiceSettings:
    return ServiceSettings(environment="test", kafka_enabled=False, consumer_max_retries=0)


def _unit() -> UnitUpserted:
    return UnitUpserted(unit_id="u-1", name="市场监管局", level="agency")


def _app(session: FakeSession) -> FastAPI:
    outbox = Outbox(outbox_table(MetaData(schema="triage")), _settings())
    app = FastAPI()
    app.add_middleware(RequestContextMiddleware, service="triage")

    @app.post("/units")
    async def upsert(request: Request) -> dict:
        await outbox.publish(session, _unit())
        return {"traceparent": request.state.traceparent}

    return app


def _record(row: dict) -> ConsumerRecord:
    return ConsumerRecord(
        topic=row["topic"], partition=0, offset=0, timestamp=0, timestamp_type=0, key=row["key"].encode(),
        value=row["payload"], checksum=None, serialized_key_size=1, serialized_value_size=1, headers=(),
    )


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.install(provider)
    try:
        yield exporter
    finally:
        telemetry.uninstall()
        provider.shutdown()


async def test_producer_and_consumer_spans_share_the_request_trace(spans):
    session = FakeSession()
    transport = httpx.ASGITransport(app=_app(session))
    async with httpx.AsyncClient(transport=transport, base_url="http://triage") as client:
        response = await client.post("/units", headers={"traceparent": f"00-{UPSTREAM_TRACE}-00f067aa0ba902b7-01"})
    assert response.status_code == 200
    (row,) = session.rows
    envelope = CloudEvent.from_bytes(row["payload"])

    seen: list[str | None] = []

    async def on_unit(session, event, envelope):
        seen.append(traceparent_var.get())

    consumer = EventConsumer(
        service="accountability", settings=_settings(), sessions=FakeSession,
        inbox=inbox_table(MetaData(schema="accountability")), handlers={UnitUpserted: on_unit},
    )
    await consumer._process(_record(row), producer=None)

    by_kind = {span.kind: span for span in spans.get_finished_spans()}
    server, producer, consumer_span = by_kind[SpanKind.SERVER], by_kind[SpanKind.PRODUCER], by_kind[SpanKind.CONSUMER]
    # One trace from the caller's traceparent, through the publish, across Kafka, into the handler.
    assert {s.context.trace_id for s in (server, producer, consumer_span)} == {int(UPSTREAM_TRACE, 16)}
    assert producer.parent.span_id == server.context.span_id
    assert consumer_span.parent.span_id == producer.context.span_id
    assert parse_traceparent(envelope.traceparent) == (UPSTREAM_TRACE, f"{producer.context.span_id:016x}")
    assert parse_traceparent(seen[0]) == (UPSTREAM_TRACE, f"{consumer_span.context.span_id:016x}")
    # The ids the kernel logs and returns are the server span's.
    assert response.headers["traceparent"] == response.json()["traceparent"]
    assert parse_traceparent(response.headers["traceparent"])[1] == f"{server.context.span_id:016x}"
    assert server.name == "POST /units"
    assert consumer_span.attributes["messaging.destination.name"] == "zuofeng.triage.units.v1"
    assert consumer_span.attributes["cloudevents.event_id"] == envelope.id


async def test_a_rejected_event_marks_its_consumer_span(spans):
    from services.common.consumer import PermanentError

    session = FakeSession()
    outbox = Outbox(outbox_table(MetaData(schema="triage")), _settings())
    await outbox.publish(session, _unit())

    async def on_unit(session, event, envelope):
        raise PermanentError("unknown parent unit")

    class DeadLetters:
        sent: list[str] = []

        async def send_and_wait(self, topic, **kwargs):
            self.sent.append(topic)

    dlq = DeadLetters()
    consumer = EventConsumer(
        service="accountability", settings=_settings(), sessions=FakeSession,
        inbox=inbox_table(MetaData(schema="accountability")), handlers={UnitUpserted: on_unit},
    )
    await consumer._process(_record(session.rows[0]), producer=dlq)
    (consumer_span,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.CONSUMER]
    assert consumer_span.attributes["zuofeng.outcome"] == "dead_lettered"
    assert dlq.sent == ["zuofeng.triage.units.v1.dlq"]


async def test_tracing_is_off_without_an_otlp_endpoint(monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    telemetry.uninstall()
    assert telemetry.setup_from_env("triage") is False
    assert not telemetry.enabled()
    session = FakeSession()
    token = traceparent_var.set(f"00-{UPSTREAM_TRACE}-00f067aa0ba902b7-01")
    try:
        await Outbox(outbox_table(MetaData(schema="triage")), _settings()).publish(session, _unit())
    finally:
        traceparent_var.reset(token)
    # Without tracing the envelope carries the kernel's own traceparent, unchanged.
    assert CloudEvent.from_bytes(session.rows[0]["payload"]).traceparent == f"00-{UPSTREAM_TRACE}-00f067aa0ba902b7-01"


def test_an_empty_endpoint_variable_keeps_tracing_off(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")  # what compose passes when unset
    telemetry.uninstall()
    assert telemetry.setup_from_env("intake") is False


def test_sla_breaches_are_counted_per_service_and_kind():
    def value() -> float:
        return PROMETHEUS.get_sample_value(
            "zuofeng_sla_breaches_total", {"service": "accountability", "kind": "rectification-overdue"}
        ) or 0.0

    before = value()
    record_sla_breach("accountability", "rectification-overdue")
    record_sla_breach("accountability", "rectification-overdue", 2)
    assert value() == before + 3


async def test_an_explicit_traceparent_parents_the_producer_span(spans):
    session = FakeSession()
    explicit = f"00-{UPSTREAM_TRACE}-00f067aa0ba902b7-01"
    await Outbox(outbox_table(MetaData(schema="triage")), _settings()).publish(session, _unit(), traceparent=explicit)
    (producer,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.PRODUCER]
    assert producer.context.trace_id == int(UPSTREAM_TRACE, 16)
    assert producer.parent.span_id == 0x00F067AA0BA902B7
    envelope = CloudEvent.from_bytes(session.rows[0]["payload"])
    assert parse_traceparent(envelope.traceparent) == (UPSTREAM_TRACE, f"{producer.context.span_id:016x}")


async def test_work_outside_a_request_continues_the_kernel_trace(spans):
    """A scheduler publishing under the kernel's traceparent (no active span) stays in that trace."""
    session = FakeSession()
    token = traceparent_var.set(f"00-{UPSTREAM_TRACE}-00f067aa0ba902b7-01")
    try:
        await Outbox(outbox_table(MetaData(schema="triage")), _settings()).publish(session, _unit())
    finally:
        traceparent_var.reset(token)
    (producer,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.PRODUCER]
    assert producer.context.trace_id == int(UPSTREAM_TRACE, 16)
