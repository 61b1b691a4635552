"""The database fairness gate is taken when a request first uses the database, not for its whole life:
a request still receiving an upload holds no place, so others are served meanwhile."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from services.common.db import SessionDep, create_engine, create_session_factory
from services.common.settings import ServiceSettings


async def test_a_slow_request_holds_the_gate_only_once_it_uses_the_database(settings_kwargs):
    engine = create_engine(ServiceSettings(**settings_kwargs), pool_size=2)
    app = FastAPI()
    app.state.sessions = create_session_factory(engine)
    app.state.request_gate = gate = asyncio.Semaphore(1)
    upload_done, slow_started = asyncio.Event(), asyncio.Event()

    @app.post("/slow")
    async def slow(session: SessionDep) -> dict:
        slow_started.set()
        await upload_done.wait()  # a phone still sending its video
        return {"n": await session.scalar(text("SELECT 1"))}

    @app.post("/quick")
    async def quick(session: SessionDep) -> dict:
        return {"n": await session.scalar(text("SELECT 2"))}

    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gate.test") as client:
            slow_request = asyncio.create_task(client.post("/slow"))
            await slow_started.wait()
            # With the one place taken for the whole request this would wait for the upload (forever here).
            assert (await asyncio.wait_for(client.post("/quick"), 30)).json() == {"n": 2}
            assert gate._value == 1  # the quick request left the gate when its unit of work ended
            upload_done.set()
            assert (await slow_request).json() == {"n": 1}
            assert gate._value == 1
    finally:
        await engine.dispose()
