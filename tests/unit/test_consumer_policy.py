"""The consumer's error policy on its own: which failures dead-letter, which retry, which hold the stream."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError, NotLeaderForPartitionError
from pydantic import BaseModel, ValidationError
from sqlalchemy import exc as sa_exc

from services.common.consumer import PermanentError
from services.common.failures import Backoff, ErrorPolicy, Verdict, classify


def _validation_error() -> ValidationError:
    class Model(BaseModel):
        n: int

    try:
        Model(n="x")
    except ValidationError as exc:
        return exc
    raise AssertionError("unreachable")


def _wrapped(inner: BaseException, outer: type[BaseException] = RuntimeError) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer("wrapped") from exc
    except BaseException as exc:
        return exc


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _invalidated() -> sa_exc.DBAPIError:
    error = sa_exc.DBAPIError("SELECT 1", {}, Exception("server closed the connection"))
    error.connection_invalidated = True
    return error


@pytest.mark.parametrize("error", [
    ConnectionRefusedError(111, "Connect call failed"),
    TimeoutError(),
    OSError("network unreachable"),
    KafkaConnectionError("broker gone"),
    NotLeaderForPartitionError(),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.TooManyConnectionsError("too many clients"),
    sa_exc.OperationalError("SELECT 1", {}, Exception("x")),
    sa_exc.InterfaceError("SELECT 1", {}, Exception("connection is closed")),
    sa_exc.TimeoutError("QueuePool limit reached"),
    _invalidated(),
    sa_exc.DBAPIError("UPDATE x", {}, _DriverError("57P01")),  # admin shutdown, by its SQLSTATE
    sa_exc.DBAPIError("UPDATE x", {}, _DriverError("40P01")),  # deadlock
    _wrapped(ConnectionResetError()),  # a handler's own exception caused by an outage
])
def test_outages_are_transient_and_hold_the_stream(error):
    assert classify(error) is Verdict.TRANSIENT
    policy = ErrorPolicy(max_retries=3)
    assert [policy.decide(error, attempt) for attempt in range(6)] == ["hold"] * 6


@pytest.mark.parametrize("error", [
    PermanentError("contradicts our records"),
    _validation_error(),
    _wrapped(PermanentError("inner")),
])
def test_permanent_failures_are_dead_lettered_at_once(error):
    assert classify(error) is Verdict.PERMANENT
    assert ErrorPolicy().decide(error, 0) == "dead-letter"


@pytest.mark.parametrize("error", [
    ValueError("a bug"),
    sa_exc.IntegrityError("INSERT", {}, _DriverError("23505")),  # unique violation: not an outage
    sa_exc.DBAPIError("SELECT", {}, _DriverError("22P02")),
])
def test_unknown_failures_are_retried_then_dead_lettered(error):
    assert classify(error) is Verdict.UNKNOWN
    policy = ErrorPolicy(max_retries=2)
    assert [policy.decide(error, attempt) for attempt in range(3)] == ["retry", "retry", "dead-letter"]


def test_a_run_of_dead_letters_makes_unknown_failures_hold_until_an_event_succeeds():
    policy = ErrorPolicy(max_retries=0, max_consecutive_dead_letters=3)
    bug = ValueError("every event fails")
    for _ in range(3):
        assert policy.decide(bug, 0) == "dead-letter"
        policy.dead_lettered()
    assert policy.holding and policy.decide(bug, 0) == "hold"
    # A permanent failure is still the event's own fault: it never holds the stream.
    assert policy.decide(PermanentError("bad"), 0) == "dead-letter"
    policy.succeeded()
    assert not policy.holding and policy.decide(bug, 0) == "dead-letter"


def test_backoff_doubles_up_to_its_cap_and_starts_over_after_a_reset():
    backoff = Backoff(initial=0.5, cap=4.0)
    waits = [backoff.next() for _ in range(6)]
    for wait, ceiling in zip(waits, [0.5, 1, 2, 4, 4, 4], strict=True):
        assert 0.8 * ceiling <= wait <= ceiling
    backoff.reset()
    assert backoff.next() <= 0.5
