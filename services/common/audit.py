"""Append-only, hash-chained audit log: every state change and every identity reveal.

Each service keeps its chain in its own schema (``<schema>.audit_log``). A row's hash covers its content
and the previous row's hash, so altering or deleting any row breaks every later link; ``verify_chain``
finds the first broken link. Appends to one chain are serialised with a transaction advisory lock, which
is cheap at the rate staff act.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import BigInteger, Column, DateTime, Identity, MetaData, Table, Text, func, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from .auth import Principal

GENESIS = "0" * 64


def audit_table(metadata: MetaData) -> Table:
    return Table(
        "audit_log",
        metadata,
        Column("seq", BigInteger, Identity(), primary_key=True),
        Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("actor", Text, nullable=False),
        Column("actor_roles", Text, nullable=False, server_default=""),
        Column("action", Text, nullable=False),
        Column("entity_type", Text, nullable=False),
        Column("entity_id", Text, nullable=False),
        Column("details", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("prev_hash", Text, nullable=False),
        Column("hash", Text, nullable=False),
    )


def _digest(prev_hash: str, at: datetime, actor: str, action: str, entity_type: str, entity_id: str,
            details: dict[str, Any]) -> str:
    canonical = orjson.dumps(
        [prev_hash, at.astimezone(UTC).isoformat(), actor, action, entity_type, entity_id, details],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).hexdigest()


async def record(
    session: AsyncSession,
    table: Table,
    *,
    actor: Principal | str,
    action: str,
    entity_type: str,
    entity_id: str,
    details: dict[str, Any] | None = None,
) -> str:
    """Append one entry in the caller's transaction; returns its hash. Never put identity in ``details``."""
    details = details or {}
    subject = actor.subject if isinstance(actor, Principal) else actor
    roles = ",".join(sorted(actor.roles)) if isinstance(actor, Principal) else ""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:key)"), {"key": zlib.crc32(f"audit:{table.fullname}".encode())}
    )
    prev = await session.scalar(select(table.c.hash).order_by(table.c.seq.desc()).limit(1))
    prev_hash = prev or GENESIS
    # Microsecond precision, as PostgreSQL stores it, so verification recomputes the same digest.
    at = datetime.now(UTC)
    digest = _digest(prev_hash, at, subject, action, entity_type, entity_id, details)
    await session.execute(
        table.insert().values(
            at=at, actor=subject, actor_roles=roles, action=action, entity_type=entity_type,
            entity_id=entity_id, details=details, prev_hash=prev_hash, hash=digest,
        )
    )
    return digest


@dataclass(frozen=True)
class ChainReport:
    entries: int
    first_broken_seq: int | None

    @property
    def intact(self) -> bool:
        return self.first_broken_seq is None


async def verify_chain(conn: AsyncConnection | AsyncSession, table: Table) -> ChainReport:
    prev_hash = GENESIS
    count = 0
    result = await conn.stream(select(table).order_by(table.c.seq))
    async for row in result:
        count += 1
        expected = _digest(prev_hash, row.at, row.actor, row.action, row.entity_type, row.entity_id, row.details)
        if row.prev_hash != prev_hash or row.hash != expected:
            return ChainReport(count, row.seq)
        prev_hash = row.hash
    return ChainReport(count, None)
