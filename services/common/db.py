"""Async engine and sessions. One owner of commit/rollback per request or per unit of worker work."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import MetaData, event, exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from .settings import ServiceSettings

# Stable constraint names, so Alembic autogenerate and hand-written migrations agree.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata(schema: str) -> MetaData:
    """The MetaData of one service: every table lives in the service's own schema."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def create_engine(settings: ServiceSettings, *, pool_size: int | None = None) -> AsyncEngine:
    # The budget stays 2 × DB_POOL_SIZE connections (deploy/k8s counts on it), but all of them are kept:
    # as "overflow", the second half was closed on every check-in and reopened (connect, authenticate, a
    # cold statement cache) on the next checkout whenever more than DB_POOL_SIZE requests were in flight.
    # The pool opens connections only as demand reaches them, so a quiet service still holds few.
    engine = create_async_engine(
        settings.database_url,
        pool_size=pool_size or 2 * settings.db_pool_size,
        max_overflow=settings.db_pool_size if pool_size else 0,
        # Bound values are reports' text, places and names: never in an error message or a log line.
        hide_parameters=True,
        # asyncpg's own statement cache is what makes repeated inserts cheap; keep it.
        connect_args={"server_settings": {"application_name": "zuofeng", "timezone": "UTC"}},
    )
    _ping_when_idle(engine, settings.db_ping_idle_seconds)
    return engine


def _ping_when_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    """Pre-ping only connections that sat idle in the pool (a database restart, a firewall's idle cut).

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout, and its asyncpg ping is three round trips
    (BEGIN, ``;``, ROLLBACK): in profiles of the intake path it was the largest share of the database
    work per request. A connection checked in moments ago is as good as the ping would say; if the server
    went away meanwhile, the statement fails, SQLAlchemy invalidates the pool, and the caller's retry (a
    consumer's, the relay's, a client's) gets fresh connections."""

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(dbapi_connection, record) -> None:  # noqa: ARG001
        record.info["zuofeng_idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection, record, proxy) -> None:  # noqa: ARG001
        since = record.info.get("zuofeng_idle_since")
        if since is None or time.monotonic() - since < idle_seconds:
            return  # fresh from connect(), or in steady use
        try:
            dbapi_connection.ping()
        except Exception as error:  # noqa: BLE001 — the pool replaces the connection and retries the checkout
            raise exc.DisconnectionError(f"idle connection failed its ping: {error!r}") from error


class GatedSession(AsyncSession):
    """A session that enters the request gate (below) only when it first needs the database, and leaves it
    when the request's unit of work ends: a request that spends seconds receiving an upload, decoding an
    image or waiting on another service holds no place in the queue meanwhile."""

    gate: asyncio.Semaphore | None = None
    _in_gate = False

    async def _enter_gate(self) -> None:
        if self.gate is not None and not self._in_gate:
            await self.gate.acquire()
            self._in_gate = True

    def leave_gate(self) -> None:
        if self._in_gate and self.gate is not None:  # in the gate implies a gate
            self._in_gate = False
            self.gate.release()


def _gated(name: str):
    method = getattr(AsyncSession, name)

    @functools.wraps(method)
    async def gated(self: GatedSession, *args, **kwargs):
        await self._enter_gate()
        return await method(self, *args, **kwargs)

    return gated


# Every AsyncSession method that may check a connection out of the pool (commit and flush do when objects
# were added; the rest run statements).
for _name in ("execute", "scalar", "scalars", "get", "get_one", "stream", "stream_scalars", "connection",
              "flush", "merge", "refresh", "run_sync", "delete", "commit"):
    setattr(GatedSession, _name, _gated(_name))


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, class_=GatedSession)


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A worker's unit of work: commits on success, rolls back on any error."""
    async with factory() as session, session.begin():
        yield session


def request_gate(settings: ServiceSettings) -> asyncio.Semaphore:
    """First come, first served for the pool's connections among HTTP requests.

    SQLAlchemy's async pool lets a request that arrives just as a connection is returned take it ahead of
    requests already waiting, so under load some waited for seconds while later ones passed (intake at 64
    connections: p50 0.1 s, p99 4.6 s, the slowest all among the first to arrive). asyncio's Semaphore
    hands a released slot to the longest waiter. A request enters the gate when it first uses the
    database, not when it starts (GatedSession), so a slow upload does not hold a place. A few
    connections stay outside the gate for the relay, the consumer and the health checks, which must not
    queue behind requests."""
    return asyncio.Semaphore(max(1, 2 * settings.db_pool_size - 3))


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    gate: asyncio.Semaphore | None = getattr(request.app.state, "request_gate", None)
    if gate is None:
        async with session_scope(request.app.state.sessions) as session:
            yield session
        return
    session = request.app.state.sessions()
    if not isinstance(session, GatedSession):  # a factory of someone else's: the whole request in the gate
        await session.close()
        async with gate, session_scope(request.app.state.sessions) as session:
            yield session
        return
    session.gate = gate
    try:
        async with session, session.begin():
            yield session
    finally:
        session.leave_gate()


# scope="function": the dependency's exit — the COMMIT — runs when the route function returns, before the
# response is sent. With the default (request) scope FastAPI >= 0.121 sends the response first, so a 201
# with a tracking number could reach a hotline for a clue whose commit then failed: acknowledged and lost.
# Now a failed commit is the response (a problem), and a 2xx means the data is durable.
SessionDep = Annotated[AsyncSession, Depends(_request_session, scope="function")]
