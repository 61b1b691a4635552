"""The kernel's integrity guarantees on the real database, over a real socket:

- a request's COMMIT runs before its response is sent, so a 2xx means stored and a failed commit is the
  answer (not a 201 for a clue that was never kept);
- bound parameters (report text, places) never reach an error message or a log line, while the request id
  still does.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket

import asyncpg
import httpx
import pytest
import uvicorn
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from services.common.db import create_engine
from services.intake.app import create_app
from services.intake.settings import IntakeSettings

# A clue whose text carries this marker fails at COMMIT (a deferred constraint trigger the test installs).
FAIL_AT_COMMIT = "提交时失败"
SECRET_PLACE = "和平路十八号三单元"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def plain_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
async def commit_fails_for_marked_clues(infra):
    conn = await asyncpg.connect(plain_dsn(infra["DATABASE_URL"]))
    name = f"fail_at_commit_{secrets.token_hex(3)}"
    await conn.execute(f"""
        CREATE FUNCTION intake.{name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'refused at commit'; END $$;
        CREATE CONSTRAINT TRIGGER {name} AFTER INSERT ON intake.clues DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW WHEN (NEW.text LIKE '%{FAIL_AT_COMMIT}%') EXECUTE FUNCTION intake.{name}();
    """)
    try:
        yield conn
    finally:
        await conn.execute(f"DROP TRIGGER {name} ON intake.clues; DROP FUNCTION intake.{name}();")
        await conn.close()


@pytest.fixture
async def intake_on_a_socket(settings_kwargs, caplog):
    """A real intake (uvicorn, TCP) on the test database; Kafka off so it joins no consumer group."""
    port = free_port()
    app = create_app(IntakeSettings(**{**settings_kwargs, "kafka_enabled": False}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                                           lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.05)
    logging.getLogger().addHandler(caplog.handler)  # the service's lifespan reset the root handlers
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            yield client
    finally:
        server.should_exit = True
        await task


async def test_a_failed_commit_is_the_answer_never_a_201(commit_fails_for_marked_clues, intake_on_a_socket, ids,
                                                         caplog):
    conn = commit_fails_for_marked_clues
    url = "/api/v1/intake/feeds/12345/reports"

    kept = f"T-{secrets.token_hex(6)}"
    ok = await intake_on_a_socket.post(url, headers=ids.as_hotline("12345"),
                                       json={"external_id": kept, "text": "窗口工作人员推诿扯皮"})
    assert ok.status_code == 201, ok.text
    # The acknowledgement arrives only after the COMMIT: the clue is there the moment the client has it.
    assert await conn.fetchval("SELECT tracking_number FROM intake.clues WHERE external_id = $1",
                               kept) == ok.json()["tracking_number"]

    lost = f"T-{secrets.token_hex(6)}"
    caplog.set_level(logging.INFO)
    failed = await intake_on_a_socket.post(
        url, headers={**ids.as_hotline("12345"), "x-request-id": "req-commit-fails"},
        json={"external_id": lost, "text": f"{FAIL_AT_COMMIT}：{SECRET_PLACE}窗口无人", "place": SECRET_PLACE})
    assert failed.status_code >= 500, failed.text  # today: 201 with a tracking number for nothing
    assert failed.headers["content-type"] == "application/problem+json"
    assert "tracking_number" not in failed.json()
    assert await conn.fetchval("SELECT count(*) FROM intake.clues WHERE external_id = $1", lost) == 0

    # And the failure is logged with the request id, without the report's text or place.
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == "req-commit-fails"
              or "req-commit-fails" in r.getMessage()]
    assert logged, "the failure is not logged with its request id"
    everything = "\n".join(caplog.text.splitlines() + [str(vars(r)) for r in caplog.records])
    assert SECRET_PLACE not in everything and FAIL_AT_COMMIT not in everything


async def test_engines_never_put_bound_parameters_in_errors(settings_kwargs):
    engine = create_engine(IntakeSettings(**settings_kwargs), pool_size=1)
    try:
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError) as caught:
                await conn.execute(text("SELECT CAST(:place AS text), 1 / 0"), {"place": SECRET_PLACE})
    finally:
        await engine.dispose()
    assert "division by zero" in str(caught.value)
    assert SECRET_PLACE not in str(caught.value) and SECRET_PLACE not in repr(caught.value)
