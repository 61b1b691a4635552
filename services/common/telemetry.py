"""OpenTelemetry traces that follow a clue from the HTTP request across Kafka and back into a database.

Off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set: then every
helper here is a cheap no-op and the OpenTelemetry SDK is never imported, so tests and local runs pay
nothing. When on, the exporter is OTLP/HTTP configured by the standard ``OTEL_*`` variables
(``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``…).

How a trace crosses Kafka: the kernel already carries a W3C ``traceparent`` in every CloudEvent envelope.
:func:`producer_span` opens a PRODUCER span when an event is written to the outbox and returns *its*
traceparent for the envelope; the consumer opens a CONSUMER span whose parent is that traceparent
(:func:`consumer_span`). HTTP server spans come from the ASGI instrumentation, wrapped inside the kernel's
request middleware so the gateway and every service get them; SQLAlchemy and httpx spans come from
their instrumentations.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

_ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


class _State:
    provider: Any = None  # an SDK TracerProvider once tracing is on
    tracer: Any = None
    configured_from_env = False


_state = _State()


def configured_endpoint() -> str | None:
    for name in _ENDPOINT_VARS:
        if value := os.environ.get(name, "").strip():
            return value
    return None


def enabled() -> bool:
    return _state.tracer is not None


def setup_from_env(service: str) -> bool:
    """Turn tracing on for this process if an OTLP endpoint is configured. Idempotent; True if on."""
    if enabled():
        return True
    if _state.configured_from_env or configured_endpoint() is None:
        _state.configured_from_env = True
        return False
    _state.configured_from_env = True
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # Resource.create reads OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES; the service name is the default.
    resource = Resource.create({SERVICE_NAME: f"zuofeng-{service}"} | _resource_from_env())
    provider = TracerProvider(resource=resource)  # the sampler comes from OTEL_TRACES_SAMPLER
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    install(provider)
    log.info("tracing on", extra={"otlp_endpoint": configured_endpoint()})
    return True


def _resource_from_env() -> dict[str, str]:
    name = os.environ.get("OTEL_SERVICE_NAME", "").strip()
    return {"service.name": name} if name else {}


def install(provider: Any) -> None:
    """Use this TracerProvider for zuofeng's spans (tests pass one with an in-memory exporter)."""
    _state.provider = provider
    _state.tracer = provider.get_tracer("zuofeng")
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    instrumentor = HTTPXClientInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=provider)


def uninstall() -> None:
    """Back to no tracing (tests)."""
    if _state.provider is not None:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor().uninstrument()
    _state.provider = None
    _state.tracer = None
    _state.configured_from_env = False


def wrap_asgi(app: Any) -> Any:
    """The ASGI app wrapped in OpenTelemetry's server-span middleware, or unchanged when tracing is off."""
    if not enabled():
        return app
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    return OpenTelemetryMiddleware(
        app,
        excluded_urls="healthz,readyz,metrics",
        tracer_provider=_state.provider,
        exclude_spans=["receive", "send"],
    )


def instrument_engine(engine: Any) -> None:
    """Spans for this SQLAlchemy (async) engine's statements."""
    if not enabled():
        return
    from opentelemetry import metrics
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    # Per engine rather than SQLAlchemyInstrumentor().instrument(): that one is a process singleton,
    # and one process may run several services (the in-process test suite). Pool usage goes to the
    # global meter, a no-op unless someone installs one: Prometheus already has the suite's metrics.
    usage = metrics.get_meter("zuofeng").create_up_down_counter(
        "db.client.connections.usage", unit="connections", description="Connections by state"
    )
    EngineTracer(_state.tracer, getattr(engine, "sync_engine", engine), connections_usage=usage)


def current_traceparent() -> str | None:
    """The traceparent of the active span, when tracing is on and a span is active."""
    if not enabled():
        return None
    from opentelemetry import trace

    return _format(trace.get_current_span().get_span_context())


def name_server_span(method: str, route: str) -> None:
    """Name the request's server span by its route template (low cardinality), once routing is done."""
    if not enabled():
        return
    from opentelemetry import trace

    span = trace.get_current_span()
    if span.is_recording():
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)


def _format(context: Any) -> str | None:
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def _context_from(traceparent: str | None) -> Any:
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract({"traceparent": traceparent} if traceparent else {})


@contextlib.contextmanager
def producer_span(
    topic: str, *, key: str, event_type: str, parent: str | None = None, fallback: str | None = None
) -> Iterator[str | None]:
    """A PRODUCER span for one event written to the outbox; yields the traceparent for its envelope.

    Its parent is ``parent`` when the caller names one, else the active span (the request, or the
    consumed event being handled), else ``fallback`` (the kernel's traceparent of the current work)."""
    if not enabled():
        yield None
        return
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind

    if parent:
        context = _context_from(parent)
    elif trace.get_current_span().get_span_context().is_valid:
        context = None  # the active span
    else:
        context = _context_from(fallback)
    with _state.tracer.start_as_current_span(
        f"{topic} publish",
        context=context,
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "publish",
            "messaging.destination.name": topic,
            "messaging.kafka.message.key": key,
            "cloudevents.event_type": event_type,
        },
    ) as span:
        yield _format(span.get_span_context())


@contextlib.contextmanager
def consumer_span(
    topic: str, *, traceparent: str | None, event_id: str, event_type: str, group: str
) -> Iterator[str | None]:
    """A CONSUMER span, child of the producer's span carried in the envelope; yields its traceparent."""
    if not enabled():
        yield None
        return
    from opentelemetry.trace import SpanKind, Status, StatusCode

    with _state.tracer.start_as_current_span(
        f"{topic} process",
        context=_context_from(traceparent),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.consumer.group.name": group,
            "messaging.message.id": event_id,
            "cloudevents.event_id": event_id,
            "cloudevents.event_type": event_type,
        },
        record_exception=True,
        set_status_on_exception=True,
    ) as span:
        try:
            yield _format(span.get_span_context())
        except BaseException as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


def mark_current(**attributes: Any) -> None:
    """Add attributes (e.g. the outcome of handling) to the active span, if any."""
    if not enabled():
        return
    from opentelemetry import trace

    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes(attributes)
