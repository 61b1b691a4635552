"""Shared fixtures. Unit tests need none of these; integration tests share one real broker and one real
database per run, isolated from other runs by a fresh database and a unique topic prefix."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
import warnings
from dataclasses import dataclass, field

import asyncpg
import httpx
import pytest
from aiokafka.errors import KafkaError
from asgi_lifespan import LifespanManager
from sqlalchemy.engine import make_url

from services.common import migrate
from services.common.auth import generate_keypair
from services.common.crypto import KeyRing
from services.common.kafka import delete_topics
from services.common.suite import SERVICES

from .support import Identities, infra_env


@pytest.fixture(scope="session")
def keys() -> dict[str, str]:
    internal_private, internal_public = generate_keypair()
    staff_private, staff_public = generate_keypair()
    return {
        "internal_private": internal_private,
        "internal_public": internal_public,
        "staff_private": staff_private,
        "staff_public": staff_public,
        "identity_keyring": KeyRing.generate_spec("test1"),
        "contact_keyring": KeyRing.generate_spec("contact1"),
    }


@pytest.fixture(scope="session")
def ids(keys) -> Identities:
    return Identities(keys["internal_private"], keys["staff_private"])


@pytest.fixture(scope="session")
def run_id() -> str:
    return f"t{os.getpid()}{secrets.token_hex(3)}"


def _admin_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(_admin_dsn(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_database(server_url: str, database: str) -> str:
    """A fresh database on the shared server with every service's migrations applied; returns its URL."""
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{database}"'))
    url = make_url(server_url).set(database=database).render_as_string(hide_password=False)
    for service in SERVICES:
        migrate.upgrade(service, url)
    return url


def drop_database(server_url: str, database: str) -> None:
    if not os.environ.get("ZUOFENG_KEEP_TEST_DB"):
        asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


async def delete_run_topics(bootstrap: str, prefix: str) -> None:
    if os.environ.get("ZUOFENG_KEEP_TEST_DB"):
        return
    try:
        await delete_topics(bootstrap, prefix)
    except KafkaError as exc:  # housekeeping only: never fail a run over it
        warnings.warn(f"could not delete the run's topics: {exc!r}", stacklevel=1)


@pytest.fixture(scope="session")
def infra(run_id) -> dict[str, str]:
    """A fresh, migrated database on the shared PostgreSQL, and the shared broker's address."""
    env = infra_env()
    database = f"zuofeng_{run_id}"
    url = create_database(env["DATABASE_URL"], database)
    yield {
        "DATABASE_URL": url,
        "SERVER_URL": env["DATABASE_URL"],
        "KAFKA_BOOTSTRAP_SERVERS": env["KAFKA_BOOTSTRAP_SERVERS"],
        "KAFKA_TOPIC_PREFIX": f"{run_id}.",
    }
    drop_database(env["DATABASE_URL"], database)
    asyncio.run(delete_run_topics(env["KAFKA_BOOTSTRAP_SERVERS"], f"{run_id}."))


@pytest.fixture(scope="session")
def settings_kwargs(infra, keys, tmp_path_factory) -> dict:
    """Constructor arguments for any service's settings class, pointing at the test run's infrastructure.

    Settings classes ignore the arguments they do not declare, so one dict serves every service."""
    return {
        "identity_keyring": keys["identity_keyring"],
        "contact_keyring": keys["contact_keyring"],
        "data_dir": str(tmp_path_factory.mktemp("data")),
        "environment": "test",
        "database_url": infra["DATABASE_URL"],
        "kafka_bootstrap_servers": infra["KAFKA_BOOTSTRAP_SERVERS"],
        "topic_prefix": infra["KAFKA_TOPIC_PREFIX"],
        "internal_token_public_key": keys["internal_public"],
        "internal_token_private_key": keys["internal_private"],
        "db_pool_size": 5,
        "outbox_poll_seconds": 0.5,
        "consumer_retry_backoff_ms": 20,
        # Every in-process caller shares one address; the limits have tests of their own with distinct ones.
        "receipt_lookups_per_minute": 100,
    }


@dataclass
class Suite:
    """The services and the gateway running in-process (real lifespans: relay and consumers on the real
    broker), with an HTTP client for each."""

    apps: dict[str, object] = field(default_factory=dict)
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    def __getattr__(self, name: str) -> httpx.AsyncClient:
        try:
            return self.clients[name]
        except KeyError as exc:
            raise AttributeError(name) from exc


def service_settings(name: str, kwargs: dict):
    from importlib import import_module

    module = import_module(f"services.{name}.settings")
    cls = next(v for k, v in vars(module).items() if k.endswith("Settings") and k != "ServiceSettings")
    return cls(**kwargs)


async def start_suite(stack: AsyncExitStack, settings_kwargs: dict, keys: dict, overrides: dict | None = None) -> Suite:
    from importlib import import_module

    from gateway.app import create_app as create_gateway
    from gateway.settings import GatewaySettings

    suite = Suite()
    mounts = {}
    for name in SERVICES:
        kwargs = {**settings_kwargs, **(overrides or {}).get(name, {})}
        app = import_module(f"services.{name}.app").create_app(service_settings(name, kwargs))
        manager = await stack.enter_async_context(LifespanManager(app, startup_timeout=30, shutdown_timeout=30))
        transport = httpx.ASGITransport(app=manager.app)
        suite.apps[name] = app
        suite.clients[name] = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url=f"http://{name}.test")
        )
        mounts[f"http://{name}.test"] = transport

    gateway_settings = GatewaySettings(
        **settings_kwargs,
        upstreams={name: f"http://{name}.test" for name in SERVICES},
        staff_jwt_public_key=keys["staff_public"],
        rate_limits={},
    )
    gateway = create_gateway(gateway_settings)
    manager = await stack.enter_async_context(LifespanManager(gateway))
    # The gateway's pooled client, pointed at the in-process services instead of sockets.
    await gateway.state.http.aclose()
    gateway.state.http = httpx.AsyncClient(mounts=mounts)
    stack.push_async_callback(gateway.state.http.aclose)
    suite.apps["gateway"] = gateway
    suite.clients["gateway"] = await stack.enter_async_context(
        httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url="http://gateway.test")
    )
    return suite


@asynccontextmanager
async def isolated_suite(infra, run_id: str, settings_kwargs: dict, keys: dict, broker, tag: str):
    """The whole suite on a database, topic prefix and private broker of its own, for fault tests."""
    database = f"zuofeng_{run_id}_{tag}"
    url = await asyncio.to_thread(create_database, infra["SERVER_URL"], database)
    await broker("up")
    kwargs = {**settings_kwargs, "database_url": url, "kafka_bootstrap_servers": broker.bootstrap,
              "topic_prefix": f"{run_id}{tag}."}
    try:
        async with AsyncExitStack() as stack:
            yield await start_suite(stack, kwargs, keys)
    finally:
        await delete_run_topics(broker.bootstrap, kwargs["topic_prefix"])
        await broker("down")
        await asyncio.to_thread(drop_database, infra["SERVER_URL"], database)


@pytest.fixture(scope="session")
async def suite(settings_kwargs, keys) -> AsyncIterator[Suite]:
    async with AsyncExitStack() as stack:
        yield await start_suite(stack, settings_kwargs, keys)


@pytest.fixture
def spans():
    """Tracing on for one test, into memory: what the OTLP exporter would have sent."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from services.common import telemetry

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.install(provider)
    try:
        yield exporter
    finally:
        telemetry.uninstall()
        provider.shutdown()
