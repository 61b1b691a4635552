"""The one way a service is assembled: logging, database, outbox relay, consumers, workers, health, errors.

Each service's ``app.py`` calls :func:`build_service_app` with what is its own (routers, event handlers,
background workers) so the cross-cutting wiring is written once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import APIRouter, FastAPI
from sqlalchemy import MetaData, text

from . import migrate, telemetry
from .consumer import EventConsumer, Handler, inbox_table
from .contracts.base import EventContract
from .db import create_engine, create_session_factory, request_gate
from .errors import install_problem_handlers
from .kafka import kafka_reachable, topics_for
from .logs import configure_logging
from .observability import RequestContextMiddleware, ReadinessCheck, database_ready, health_router
from .outbox import Outbox, OutboxRelay, outbox_table
from .settings import ServiceSettings

log = logging.getLogger(__name__)

Worker = Callable[[FastAPI], Awaitable[None]]


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


def service_tables(metadata: MetaData):
    """The outbox and inbox tables every service schema has. Call once in ``models.py``."""
    return outbox_table(metadata), inbox_table(metadata)


def build_service_app(spec: ServiceSpec) -> FastAPI:
    settings = spec.settings
    outbox_tbl = spec.metadata.tables[f"{spec.metadata.schema}.outbox"]
    inbox_tbl = spec.metadata.tables[f"{spec.metadata.schema}.inbox"]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(spec.name, settings.log_level)
        telemetry.setup_from_env(spec.name)  # no-op unless OTEL_EXPORTER_OTLP_ENDPOINT is set
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
            produced = topics_for(spec.produces, settings.topic_prefix)
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

    async def kafka_ready(app: FastAPI) -> str | None:
        if not settings.kafka_enabled:
            return None
        if not await kafka_reachable(settings.kafka_bootstrap_servers):
            return "kafka: unreachable"
        consumer = getattr(app.state, "consumer", None)
        if consumer is not None and consumer.failed:
            return f"consumer: {consumer.failed}"
        return None

    heads, known = migrate.script_revisions(spec.name)

    async def schema_ready(app: FastAPI) -> str | None:
        # Serve only on a migrated schema (the pod's init container migrates; this catches a restore of an
        # older backup or a skipped migration).
        try:
            async with app.state.engine.connect() as conn:
                rows = await conn.execute(text(f'SELECT version_num FROM "{spec.name}".alembic_version'))
                current = set(rows.scalars())
        except Exception as exc:  # noqa: BLE001 — any failure means not ready; the reason is reported
            return f"schema: {type(exc).__name__}"
        return migrate.schema_problem(current, heads, known)

    checks: list[ReadinessCheck] = [database_ready, schema_ready, kafka_ready]
    app = FastAPI(
        title=spec.title or f"zuofeng {spec.name}",
        description=spec.description,
        version="1.0.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.spec = spec  # what it produces and consumes: deploy/k8s/generate.py derives Kafka ACLs from it
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware, service=spec.name)
    app.include_router(health_router(checks))
    for router in spec.routers:
        app.include_router(router)
    return app
