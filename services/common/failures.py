"""What the consumer does with a failure: the error policy, kept out of the loop so it can be tested alone.

Three kinds of failure (getsentry/arroyo draws the same line):

- **permanent**: the message can never be handled (unparseable, fails its contract, or a handler raised
  ``PermanentError``). Dead-lettered at once; retrying cannot help.
- **transient**: a dependency is away (PostgreSQL, the broker, the network). The message is fine, so it is
  never dead-lettered: the loop seeks back, pauses, waits with a capped exponential backoff and tries again
  — an outage must hold the stream, not drain it into ``<topic>.dlq`` and break per-key order.
- **unknown**: anything else (a bug, a constraint the event violates). Retried a few times, then
  dead-lettered with the reason — unless so many dead letters came in a row that the cause is more likely
  outside the events (an unrecognised outage): then unknown failures are held like transient ones until
  an event succeeds again, instead of emptying a whole topic into the DLQ.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field

import asyncpg
from aiokafka.errors import KafkaError
from pydantic import ValidationError
from sqlalchemy import exc as sa_exc


class PermanentError(Exception):
    """Raise from a handler when retrying cannot help (the event contradicts this service's data)."""


class Verdict(enum.Enum):
    PERMANENT = "permanent"
    TRANSIENT = "transient"
    UNKNOWN = "unknown"


# SQLSTATE classes of a server that is away or overloaded rather than of a bad statement:
# 08 connection exception, 53 insufficient resources, 57 operator intervention (shutdown, starting up),
# 58 system error; and 40001/40P01, a serialization failure or deadlock, which a retry resolves.
_TRANSIENT_SQLSTATE_CLASSES = ("08", "53", "57", "58")
_TRANSIENT_SQLSTATES = ("40001", "40P01")

_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    OSError,  # includes ConnectionError and TimeoutError (asyncio's too, on 3.11)
    KafkaError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # among others, "connection is closed"
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # the pool had no connection to give within its timeout
)


def _sqlstate(error: BaseException) -> str | None:
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return state if isinstance(state, str) else None


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, _TRANSIENT_TYPES):
        return True
    state = _sqlstate(error)
    return state is not None and (state[:2] in _TRANSIENT_SQLSTATE_CLASSES or state in _TRANSIENT_SQLSTATES)


def classify(error: BaseException) -> Verdict:
    """The kind of a failure, looking through the chain of causes (SQLAlchemy wraps the driver's error,
    the driver may wrap the socket's)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, PermanentError | ValidationError):
            return Verdict.PERMANENT
        if _is_transient(current):
            return Verdict.TRANSIENT
        orig = getattr(current, "orig", None)  # SQLAlchemy keeps the driver's error here
        current = orig if isinstance(orig, BaseException) and id(orig) not in seen else (
            current.__cause__ or current.__context__)
    return Verdict.UNKNOWN


@dataclass
class Backoff:
    """Capped exponential backoff with jitter (so the replicas of a service do not retry in lockstep)."""

    initial: float = 0.5
    cap: float = 5.0
    _next: float = field(default=0.0, init=False)

    def next(self) -> float:
        self._next = self.initial if self._next == 0 else min(self._next * 2, self.cap)
        return self._next * random.uniform(0.8, 1.0)  # noqa: S311 — backoff jitter, not a secret

    def reset(self) -> None:
        self._next = 0.0


@dataclass
class ErrorPolicy:
    """Decides, per failed attempt at an event, whether to retry it, dead-letter it or hold the stream."""

    max_retries: int = 3
    # Dead letters in a row from which unknown failures hold the stream instead of being dead-lettered.
    max_consecutive_dead_letters: int = 50
    consecutive_dead_letters: int = 0

    def decide(self, error: BaseException, attempt: int) -> str:
        """``"dead-letter"``, ``"retry"`` (the same event, after a short pause) or ``"hold"`` (a transient
        outage: seek back, pause, back off, try again; never dead-letter). ``attempt`` counts from 0."""
        verdict = classify(error)
        if verdict is Verdict.PERMANENT:
            return "dead-letter"
        if verdict is Verdict.TRANSIENT or self.holding:
            return "hold"
        return "retry" if attempt < self.max_retries else "dead-letter"

    @property
    def holding(self) -> bool:
        """True while unknown failures are treated as an outage (too many dead letters in a row)."""
        return self.consecutive_dead_letters >= self.max_consecutive_dead_letters

    def dead_lettered(self) -> None:
        self.consecutive_dead_letters += 1

    def succeeded(self) -> None:
        self.consecutive_dead_letters = 0
