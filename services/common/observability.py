"""Request ids, trace context, Prometheus metrics and the health endpoints every service exposes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import telemetry
from .logs import request_id_var, trace_id_var, traceparent_var
from .tracing import child_traceparent, trace_id_of

HTTP_REQUESTS = Counter(
    "zuofeng_http_requests_total", "HTTP requests handled", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "zuofeng_http_request_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
OUTBOX_BACKLOG = Gauge("zuofeng_outbox_backlog", "Outbox rows not yet published", ["service"])
EVENTS_PUBLISHED = Counter("zuofeng_events_published_total", "Events published by the relay", ["service", "topic"])
EVENTS_CONSUMED = Counter(
    "zuofeng_events_consumed_total", "Events handled by consumers", ["service", "topic", "outcome"]
)
DLQ_EVENTS = Counter("zuofeng_dlq_events_total", "Events sent to a dead-letter topic", ["service", "topic"])
CONSUMER_LAG = Gauge("zuofeng_consumer_lag", "Records behind the partition end", ["service", "topic", "partition"])
CONSUMER_GROUP_LAG = Gauge("zuofeng_consumer_group_lag", "Records between the group's committed offset and the end",
                           ["service", "topic", "partition"])
# 1 while a consumer holds its stream because a dependency (database, broker) is away; nothing is lost meanwhile.
CONSUMER_HELD = Gauge("zuofeng_consumer_held", "1 while the consumer waits out an outage", ["service"])
# A statutory or configured time limit missed (e.g. a clue not triaged, a rectification overdue). ``kind`` is
# a stable slug of the deadline, never an id: one series per kind of deadline, not per case.
SLA_BREACHES = Counter("zuofeng_sla_breaches_total", "Deadlines missed", ["service", "kind"])


def record_sla_breach(service: str, kind: str, count: int = 1) -> None:
    """Call where a service detects that a deadline passed (once per item, when it is first seen late)."""
    SLA_BREACHES.labels(service, kind).inc(count)


class RequestContextMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware: it costs a task and a copy per request on the hot intake path)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service
        telemetry.setup_from_env(service)  # no-op unless OTEL_EXPORTER_OTLP_ENDPOINT is set
        self._traced: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if telemetry.enabled():
            # OpenTelemetry's server span wraps the handling below, so the ids set there are the span's.
            if self._traced is None:
                self._traced = telemetry.wrap_asgi(self._handle)
            await self._traced(scope, receive, send)
            return
        await self._handle(scope, receive, send)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())}
        request_id = headers.get("x-request-id") or uuid.uuid4().hex
        traceparent = telemetry.current_traceparent() or child_traceparent(headers.get("traceparent"))
        scope.setdefault("state", {})
        scope["state"]["request_id"] = request_id
        scope["state"]["traceparent"] = traceparent
        rid_token = request_id_var.set(request_id)
        tid_token = trace_id_var.set(trace_id_of(traceparent))
        tp_token = traceparent_var.set(traceparent)
        started = time.perf_counter()
        status = 500

        async def send_with_ids(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode("latin-1")),
                    (b"traceparent", traceparent.encode("latin-1")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_ids)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            telemetry.name_server_span(scope["method"], path)
            HTTP_REQUESTS.labels(self.service, scope["method"], path, str(status)).inc()
            HTTP_LATENCY.labels(self.service, scope["method"], path).observe(time.perf_counter() - started)
            request_id_var.reset(rid_token)
            trace_id_var.reset(tid_token)
            traceparent_var.reset(tp_token)


ReadinessCheck = Callable[[FastAPI], Awaitable[str | None]]


async def database_ready(app: FastAPI) -> str | None:
    try:
        async with app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 — any failure means not ready; the reason is reported
        return f"database: {type(exc).__name__}"
    return None


def health_router(checks: list[ReadinessCheck]) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        failures = [reason for check in checks if (reason := await check(request.app))]
        if failures:
            return JSONResponse({"status": "unavailable", "failures": failures}, status_code=503)
        return JSONResponse({"status": "ready"})

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
