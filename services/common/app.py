"""The one way a service is assembled: logging, database, outbox relay, consumers, workers, health, errors.

Each service's ``app.py`` calls :func:`build_service_app` with what is its own (routers, event handlers,
background workers) so the cross-cutting wiring is written once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI
from sqlalchemy import MetaData, text

from . import audit, migrate, telemetry
from .consumer import EventConsumer, Handler, inbox_table
from .contracts.audit import AuditCheckpointed
from .contracts.base import EventContract
from .db import create_engine, create_session_factory, request_gate, session_scope
from .errors import install_problem_handlers
from .headers import SecurityHeaders
from .kafka import topics_for
from .limits import BodyLimit, BodyLimitMiddleware
from .logs import configure_logging
from .observability import RequestContextMiddleware, ReadinessCheck, database_ready, health_router
from .outbox import Outbox, OutboxRelay, outbox_table
from .settings import ServiceSettings

log = logging.getLogger(__name__)

Worker = Callable[[FastAPI], Coroutine[Any, Any, None]]


@dataclass
class ServiceSpec:
    name: str
    settings: ServiceSettings
    metadata: MetaData
    routers: Sequence[APIRouter] = ()
    produces: Sequence[type[EventContract]] = ()
    handlers: dict[type[EventContract], Handler] = field(default_factory=dict)
    workers: Sequence[Worker] = ()
    on_startup: Sequence[Worker] = ()
    title: str | None = None
    description: str = ""
    # Request body limits per route (services/common/limits.py); none when empty.
    body_limits: Sequence[BodyLimit] = ()


class RelativeRedirects:
    """A service's own redirects (Starlette's trailing-slash one) name the address the service was reached
    at — behind the gateway an internal one (``http://127.0.0.1:8105/…``). Keep only path and query, a
    relative Location (RFC 9110 §10.2.2), so the caller follows it to the address it already uses."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        host = next((v for k, v in scope.get("headers", []) if k == b"host"), None)

        async def relative(message) -> None:
            if message["type"] == "http.response.start" and 300 <= message["status"] < 400 and host:
                headers = []
                for key, value in message.get("headers", []):
                    if key.lower() == b"location" and b"://" in value:
                        authority, _, rest = value.split(b"://", 1)[1].partition(b"/")
                        if authority == host:  # the service's own address; other sites' are left alone
                            value = b"/" + rest
                    headers.append((key, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, relative)


def service_tables(metadata: MetaData):
    """The outbox and inbox tables every service schema has. Call once in ``models.py``."""
    return outbox_table(metadata), inbox_table(metadata)


async def _checkpoint_worker(app: FastAPI, table, checkpoints) -> None:
    """Note the audit chain's head every AUDIT_CHECKPOINT_SECONDS, so a cut-off tail is detectable."""
    while True:
        try:
            async with session_scope(app.state.sessions) as session:
                # Also published (through the outbox, so Kafka being down delays it, never loses it).
                outbox = app.state.outbox if app.state.settings.kafka_enabled else None
                await audit.record_checkpoint(session, table, checkpoints, outbox=outbox)
        except Exception as exc:  # noqa: BLE001 — the next pass tries again
            log.warning("audit checkpoint failed", extra={"error": type(exc).__name__})
        await asyncio.sleep(app.state.settings.audit_checkpoint_seconds)


def build_service_app(spec: ServiceSpec) -> FastAPI:
    settings = spec.settings
    audit_keys = settings.audit_keys  # in production, no start without AUDIT_KEYRING
    outbox_tbl = spec.metadata.tables[f"{spec.metadata.schema}.outbox"]
    inbox_tbl = spec.metadata.tables[f"{spec.metadata.schema}.inbox"]
    audit_tbl = spec.metadata.tables.get(f"{spec.metadata.schema}.audit_log")
    checkpoints_tbl = spec.metadata.tables.get(f"{spec.metadata.schema}.audit_checkpoints")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(spec.name, settings.log_level)
        telemetry.setup_from_env(spec.name)  # no-op unless OTEL_EXPORTER_OTLP_ENDPOINT is set
        audit.use_keys(audit_keys)
        engine = create_engine(settings)
        telemetry.instrument_engine(engine)
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessions = create_session_factory(engine)
        app.state.request_gate = request_gate(settings)
        app.state.outbox = Outbox(outbox_tbl, settings)
        app.state.consumer = None
        tasks: list[asyncio.Task] = []
        for hook in spec.on_startup:
            await hook(app)
        if settings.kafka_enabled:
            produced = topics_for([*spec.produces, *([AuditCheckpointed] if checkpoints_tbl is not None else [])],
                                  settings.topic_prefix)
            relay = OutboxRelay(
                service=spec.name, table=outbox_tbl, engine=engine, settings=settings, topics=produced
            )
            app.state.relay = relay
            tasks.append(asyncio.create_task(relay.run(), name=f"{spec.name}-relay"))
            if spec.handlers:
                consumer = EventConsumer(
                    service=spec.name,
                    settings=settings,
                    sessions=app.state.sessions,
                    inbox=inbox_tbl,
                    handlers=spec.handlers,
                )
                app.state.consumer = consumer
                tasks.append(asyncio.create_task(consumer.run(), name=f"{spec.name}-consumer"))
        if checkpoints_tbl is not None:
            tasks.append(asyncio.create_task(_checkpoint_worker(app, audit_tbl, checkpoints_tbl),
                                             name=f"{spec.name}-audit-checkpoints"))
        for worker in spec.workers:
            tasks.append(asyncio.create_task(worker(app), name=f"{spec.name}-{worker.__name__}"))
        log.info("service started", extra={"tasks": [t.get_name() for t in tasks]})
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await engine.dispose()

    # Ready means able to serve requests: the database, at the schema this code needs. A broker outage is
    # absorbed by the outbox (requests keep succeeding, events wait) and waited out by the consumer, so it
    # must not take the service out of rotation; the consumer's state is in /metrics (zuofeng_consumer_held, _lag).
    heads, known = migrate.script_revisions(spec.name)

    async def schema_ready(app: FastAPI) -> str | None:
        # Serve only on a migrated schema (the pod's init container migrates; this catches a restore of an
        # older backup or a skipped migration).
        try:
            async with app.state.engine.connect() as conn:
                rows = await conn.execute(text(f'SELECT version_num FROM "{spec.name}".alembic_version'))  # noqa: S608 — schema name from the service's own spec
                current = set(rows.scalars())
        except Exception as exc:  # noqa: BLE001 — any failure means not ready; the reason is reported
            return f"schema: {type(exc).__name__}"
        return migrate.schema_problem(current, heads, known)

    checks: list[ReadinessCheck] = [database_ready, schema_ready]
    app = FastAPI(
        title=spec.title or f"zuofeng {spec.name}",
        description=spec.description,
        version="1.0.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.spec = spec  # what it produces and consumes: deploy/k8s/generate.py derives Kafka ACLs from it
    install_problem_handlers(app)
    if spec.body_limits:  # inside the request context: a 413 still carries the request id and is counted
        app.add_middleware(BodyLimitMiddleware, limits=spec.body_limits)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestContextMiddleware, service=spec.name)
    app.add_middleware(RelativeRedirects)
    app.include_router(health_router(checks))
    for router in spec.routers:
        app.include_router(router)
    return app
