"""Tracing is off unless configured, producer spans take the right parent, SLA breaches are counted.

The trace that crosses the real broker is tested in tests/integration/test_tracing.py."""

from __future__ import annotations

from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY as PROMETHEUS

from services.common import telemetry
from services.common.observability import record_sla_breach
from services.common.tracing import parse_traceparent

UPSTREAM_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
UPSTREAM = f"00-{UPSTREAM_TRACE}-00f067aa0ba902b7-01"




def test_tracing_is_off_without_an_otlp_endpoint(monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    telemetry.uninstall()
    assert telemetry.setup_from_env("triage") is False
    assert not telemetry.enabled()
    # Off, the outbox keeps the kernel's own traceparent: the producer span yields nothing to replace it.
    with telemetry.producer_span("t", key="k", event_type="e", fallback=UPSTREAM) as traceparent:
        assert traceparent is None


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


def test_an_explicit_traceparent_parents_the_producer_span(spans):
    with telemetry.producer_span("zuofeng.triage.units.v1", key="u-1", event_type="x", parent=UPSTREAM) as traceparent:
        pass
    (producer,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.PRODUCER]
    assert producer.context.trace_id == int(UPSTREAM_TRACE, 16)
    assert producer.parent.span_id == 0x00F067AA0BA902B7
    assert parse_traceparent(traceparent) == (UPSTREAM_TRACE, f"{producer.context.span_id:016x}")


def test_work_outside_a_request_continues_the_kernel_trace(spans):
    """A scheduler publishing under the kernel's traceparent (no active span) stays in that trace."""
    with telemetry.producer_span("zuofeng.triage.units.v1", key="u-1", event_type="x", fallback=UPSTREAM):
        pass
    (producer,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.PRODUCER]
    assert producer.context.trace_id == int(UPSTREAM_TRACE, 16)
