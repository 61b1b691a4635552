"""One trace follows a clue: the caller's traceparent → the request's server span → the producer span of
the outbox write → (the real broker) → triage's consumer span."""

from __future__ import annotations

from opentelemetry.trace import SpanKind

from services.common.contracts.intake import ClueReceived
from services.common.tracing import parse_traceparent

from ..support import eventually
from .test_slice import a_report

UPSTREAM_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"




async def test_a_clue_keeps_its_trace_across_kafka(suite, ids, settings_kwargs, spans):
    topic = ClueReceived.topic(settings_kwargs["topic_prefix"])
    triage_group = f"{settings_kwargs['topic_prefix']}zuofeng-triage"
    response = await suite.gateway.post(
        "/api/v1/intake/feeds/12345/reports", json=a_report(),
        headers={**ids.bearer("triage_officer"), "traceparent": f"00-{UPSTREAM_TRACE}-00f067aa0ba902b7-01"})
    assert response.status_code == 201, response.text

    def in_trace(kind):
        return [s for s in spans.get_finished_spans()
                if s.kind == kind and s.context.trace_id == int(UPSTREAM_TRACE, 16)]

    async def consumed():
        return [s for s in in_trace(SpanKind.CONSUMER) if s.attributes.get("messaging.destination.name") == topic
                and s.attributes.get("messaging.consumer.group.name") == triage_group]

    (consumer,) = await eventually(consumed, timeout=30)
    (producer,) = [s for s in in_trace(SpanKind.PRODUCER) if s.attributes.get("messaging.destination.name") == topic]
    assert consumer.parent.span_id == producer.context.span_id
    # The publish happened inside intake's request: its server span is among the producer's ancestors.
    by_id = {s.context.span_id: s for s in spans.get_finished_spans()}
    ancestors, parent = [], producer.parent
    while parent is not None and parent.span_id in by_id:
        ancestors.append(by_id[parent.span_id])
        parent = by_id[parent.span_id].parent
    assert any(a.kind == SpanKind.SERVER and a.name.startswith("POST /api/v1/intake/") for a in ancestors)
    assert parse_traceparent(response.headers["traceparent"])[0] == UPSTREAM_TRACE
