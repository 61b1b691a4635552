"""Append-only, keyed, hash-chained audit log: every state change and every identity reveal.

Each service keeps its chain in its own schema (``<schema>.audit_log``). Four layers, each closing a gap
the one before leaves:

- **Chained**: a row's MAC covers every stored column (its ``seq``, time, actor, roles, action, entity,
  details, the previous row's hash, the key id) and the chain's name, so editing or deleting any row
  breaks every later link; ``verify_chain`` finds the first broken one.
- **Keyed**: the MAC is HMAC-SHA256 with a secret from settings (``AUDIT_KEYRING``, ``kid:base64,…``, the
  first current), so a rewritten tail cannot be re-chained by someone who can write the table but does
  not hold the key. Rotation: prepend a new key; rows name theirs (``key_id``), so old ones still verify.
  Rows written before keys existed (``key_id`` NULL, plain SHA-256) verify as such, but only before the
  first keyed row: an unkeyed row after it is a forgery.
- **Append-only in the database**: migrations (:func:`append_only_sql`) revoke UPDATE, DELETE and
  TRUNCATE and install triggers that refuse them, for the owner too.
- **Checkpointed**: periodically (:func:`record_checkpoint`, a worker in every service) the head's seq,
  hash and the entry count go to ``<schema>.audit_checkpoints``, keyed and append-only too, so cutting the
  tail off the chain (which leaves no broken link) no longer matches the last checkpoint.

Appends to one chain are serialised with a transaction advisory lock, which is cheap at the rate staff act.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
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
# Only for development and tests; production refuses to start with it (ServiceSettings).
DEV_AUDIT_KEYRING = "dev:" + base64.b64encode(hashlib.sha256(b"zuofeng-development-audit-key").digest()).decode()


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
        Column("key_id", Text),  # NULL only on rows written before the chain was keyed
    )


def checkpoint_table(metadata: MetaData) -> Table:
    return Table(
        "audit_checkpoints",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("head_seq", BigInteger, nullable=False),
        Column("entries", BigInteger, nullable=False),
        Column("head_hash", Text, nullable=False),
        Column("key_id", Text, nullable=False),
        Column("mac", Text, nullable=False),
    )


def append_only_sql(schema: str, table: str) -> list[str]:
    """DDL that makes ``schema.table`` append-only, for the table's owner too (migrations run it)."""
    fn = f'"{schema}".{table}_append_only'
    return [
        f"""CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION '{schema}.{table} is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
            END $$""",
        f'CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON "{schema}".{table} '
        f"FOR EACH ROW EXECUTE FUNCTION {fn}()",
        f'CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON "{schema}".{table} '
        f"FOR EACH STATEMENT EXECUTE FUNCTION {fn}()",
        f'REVOKE UPDATE, DELETE, TRUNCATE ON "{schema}".{table} FROM PUBLIC, CURRENT_USER',
    ]


def drop_append_only_sql(schema: str, table: str) -> list[str]:
    return [
        f'GRANT UPDATE, DELETE, TRUNCATE ON "{schema}".{table} TO CURRENT_USER',
        f'DROP TRIGGER IF EXISTS {table}_no_truncate ON "{schema}".{table}',
        f'DROP TRIGGER IF EXISTS {table}_no_update_delete ON "{schema}".{table}',
        f'DROP FUNCTION IF EXISTS "{schema}".{table}_append_only()',
    ]


class AuditKeys:
    """HMAC keys by id; new entries are keyed with ``current`` (the first in ``kid:base64key,…``)."""

    def __init__(self, keys: dict[str, bytes], current: str) -> None:
        if current not in keys:
            raise ValueError(f"current audit key id {current!r} is not in the key ring")
        for kid, key in keys.items():
            if len(key) < 32:
                raise ValueError(f"audit key {kid!r} must be at least 32 bytes")
        self._keys = keys
        self.current = current

    @classmethod
    def parse(cls, spec: str) -> AuditKeys:
        entries = [part.strip() for part in spec.split(",") if part.strip()]
        if not entries:
            raise ValueError("the audit key ring is empty")
        keys = {}
        for entry in entries:
            kid, _, b64 = entry.partition(":")
            if not kid or not b64:
                raise ValueError("audit keys are given as kid:base64key")
            keys[kid] = base64.b64decode(b64)
        return cls(keys, current=entries[0].partition(":")[0])

    def knows(self, kid: str) -> bool:
        return kid in self._keys

    def mac(self, kid: str, message: bytes) -> str:
        return hmac.new(self._keys[kid], message, hashlib.sha256).hexdigest()


_configured: AuditKeys | None = None


def use_keys(keys: AuditKeys) -> None:
    """Set the process's audit keys (each service at start-up, from ``settings.audit_keys``)."""
    global _configured
    _configured = keys


def current_keys() -> AuditKeys:
    return _configured or AuditKeys.parse(DEV_AUDIT_KEYRING)


def _legacy_digest(prev_hash: str, at: datetime, actor: str, action: str, entity_type: str, entity_id: str,
                   details: dict[str, Any]) -> str:
    """The unkeyed digest of rows written before the chain was keyed (it left out actor_roles and seq)."""
    canonical = orjson.dumps(
        [prev_hash, at.astimezone(UTC).isoformat(), actor, action, entity_type, entity_id, details],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).hexdigest()


def _entry_message(chain: str, seq: int, at: datetime, actor: str, actor_roles: str, action: str,
                   entity_type: str, entity_id: str, details: dict[str, Any], prev_hash: str, key_id: str) -> bytes:
    return orjson.dumps(
        ["zuofeng-audit-v1", chain, seq, at.astimezone(UTC).isoformat(), actor, actor_roles, action, entity_type,
         entity_id, details, prev_hash, key_id],
        option=orjson.OPT_SORT_KEYS,
    )


def _checkpoint_message(chain: str, head_seq: int, entries: int, head_hash: str, at: datetime,
                        key_id: str) -> bytes:
    return orjson.dumps(["zuofeng-audit-checkpoint-v1", chain, head_seq, entries, head_hash,
                         at.astimezone(UTC).isoformat(), key_id])


async def _lock_chain(session: AsyncSession, table: Table) -> None:
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:key)"), {"key": zlib.crc32(f"audit:{table.fullname}".encode())}
    )


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
    keys = current_keys()
    await _lock_chain(session, table)
    # The seq is part of what the MAC covers, so it is drawn before the insert (under the lock: in order).
    seq = await session.scalar(text("SELECT nextval(pg_get_serial_sequence(:t, 'seq'))"), {"t": table.fullname})
    prev = await session.scalar(select(table.c.hash).order_by(table.c.seq.desc()).limit(1))
    prev_hash = prev or GENESIS
    # Microsecond precision, as PostgreSQL stores it, so verification recomputes the same MAC.
    at = datetime.now(UTC)
    digest = keys.mac(keys.current, _entry_message(table.fullname, seq, at, subject, roles, action, entity_type,
                                                   entity_id, details, prev_hash, keys.current))
    await session.execute(
        table.insert().values(
            seq=seq, at=at, actor=subject, actor_roles=roles, action=action, entity_type=entity_type,
            entity_id=entity_id, details=details, prev_hash=prev_hash, hash=digest, key_id=keys.current,
        )
    )
    return digest


@dataclass(frozen=True)
class Entry:
    """One entry for :func:`record_many`."""

    actor: Principal | str
    action: str
    entity_type: str
    entity_id: str
    details: dict[str, Any] | None = None


async def record_many(session: AsyncSession, table: Table, entries: list[Entry]) -> list[str]:
    """:func:`record` for many entries in a constant number of statements (a consumer's set handler
    writes one per event of a poll): the lock, the seqs and the head once, the chain linked here in order,
    one multi-row insert. Returns the hashes in order."""
    if not entries:
        return []
    keys = current_keys()
    await _lock_chain(session, table)
    seqs = list(await session.scalars(
        text("SELECT nextval(pg_get_serial_sequence(:t, 'seq')) FROM generate_series(1, :n)"),
        {"t": table.fullname, "n": len(entries)}))
    seqs.sort()  # nextval is monotonic under the lock; the order of the rows returned is not promised
    prev_hash = await session.scalar(select(table.c.hash).order_by(table.c.seq.desc()).limit(1)) or GENESIS
    at = datetime.now(UTC)
    rows, hashes = [], []
    for seq, entry in zip(seqs, entries, strict=True):
        details = entry.details or {}
        subject = entry.actor.subject if isinstance(entry.actor, Principal) else entry.actor
        roles = ",".join(sorted(entry.actor.roles)) if isinstance(entry.actor, Principal) else ""
        digest = keys.mac(keys.current, _entry_message(table.fullname, seq, at, subject, roles, entry.action,
                                                       entry.entity_type, entry.entity_id, details, prev_hash,
                                                       keys.current))
        rows.append({"seq": seq, "at": at, "actor": subject, "actor_roles": roles, "action": entry.action,
                     "entity_type": entry.entity_type, "entity_id": entry.entity_id, "details": details,
                     "prev_hash": prev_hash, "hash": digest, "key_id": keys.current})
        hashes.append(digest)
        prev_hash = digest
    await session.execute(table.insert(), rows)  # executemany: one compiled statement, pipelined
    return hashes


async def record_checkpoint(session: AsyncSession, table: Table, checkpoints: Table,
                            outbox: Any = None) -> dict[str, Any] | None:
    """Note the chain's head (seq, hash, count) in ``checkpoints`` and, with an ``outbox``, publish it
    (``AuditCheckpointed``, in the same transaction); nothing when the head has not moved."""
    keys = current_keys()
    await _lock_chain(session, table)
    head = (await session.execute(select(table.c.seq, table.c.hash).order_by(table.c.seq.desc()).limit(1))).first()
    if head is None:
        return None
    last = await session.scalar(select(checkpoints.c.head_seq).order_by(checkpoints.c.id.desc()).limit(1))
    if last == head.seq:
        return None
    entries = await session.scalar(select(func.count()).select_from(table)) or 0
    at = datetime.now(UTC)
    values = {"at": at, "head_seq": head.seq, "entries": entries, "head_hash": head.hash, "key_id": keys.current,
              "mac": keys.mac(keys.current, _checkpoint_message(table.fullname, head.seq, entries, head.hash, at,
                                                                keys.current))}
    await session.execute(checkpoints.insert().values(**values))
    if outbox is not None:
        from .contracts.audit import AuditCheckpointed

        await outbox.publish(session, AuditCheckpointed(chain=table.fullname, **values))
    return values


async def published_checkpoint(settings: Any, chain: str, timeout_seconds: float = 20.0):
    """The latest checkpoint of ``chain`` on the Kafka topic (read from the start to its end), or None."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    from .contracts.audit import AuditCheckpointed
    from .events import CloudEvent
    from .kafka import client_options

    topic = AuditCheckpointed.topic(settings.topic_prefix)
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
    if not partitions:
        return None
    consumer = AIOKafkaConsumer(**client_options(settings), group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    latest = None
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        deadline = asyncio.get_running_loop().time() + timeout_seconds
        while remaining and asyncio.get_running_loop().time() < deadline:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                for r in records:
                    event = AuditCheckpointed.from_cloudevent(CloudEvent.from_bytes(r.value))
                    if event.chain == chain and (latest is None or event.head_seq > latest.head_seq):
                        latest = event
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return latest


@dataclass(frozen=True)
class ChainReport:
    entries: int
    first_broken_seq: int | None
    problem: str | None = None
    checkpoints: int = 0

    @property
    def intact(self) -> bool:
        return self.problem is None and self.first_broken_seq is None


async def verify_chain(conn: AsyncConnection | AsyncSession, table: Table, checkpoints: Table | None = None,
                       keys: AuditKeys | None = None, published: Any = None) -> ChainReport:
    """Recompute every link; then check the chain still reaches every checkpoint in ``checkpoints`` and the
    ``published`` one (an ``AuditCheckpointed`` read from Kafka), if given."""
    keys = keys or current_keys()
    marks = []
    if checkpoints is not None:
        marks = list((await conn.execute(select(checkpoints).order_by(checkpoints.c.id))).all())
    if published is not None:
        marks.append(published)
    wanted = {m.head_seq for m in marks}
    seen: dict[int, tuple[str, int]] = {}  # checkpointed seq → (hash, entries up to it)
    prev_hash = GENESIS
    count = 0
    keyed = False
    result = await conn.stream(select(table).order_by(table.c.seq))
    async for row in result:
        count += 1
        if row.key_id is None:
            if keyed:
                return ChainReport(count, row.seq, "an unkeyed entry after keyed ones")
            expected = _legacy_digest(prev_hash, row.at, row.actor, row.action, row.entity_type, row.entity_id,
                                      row.details)
        elif not keys.knows(row.key_id):
            return ChainReport(count, row.seq, f"signed with unknown audit key {row.key_id!r}")
        else:
            keyed = True
            expected = keys.mac(row.key_id, _entry_message(
                table.fullname, row.seq, row.at, row.actor, row.actor_roles, row.action, row.entity_type,
                row.entity_id, row.details, row.prev_hash, row.key_id))
        if row.prev_hash != prev_hash or not hmac.compare_digest(row.hash, expected):
            return ChainReport(count, row.seq, "entry does not match its hash")
        if row.seq in wanted:
            seen[row.seq] = (row.hash, count)
        prev_hash = row.hash
    for mark in marks:
        name = f"checkpoint {mark.id}" if hasattr(mark, "id") else "the checkpoint published on Kafka"
        if not keys.knows(mark.key_id) or not hmac.compare_digest(mark.mac, keys.mac(mark.key_id, _checkpoint_message(
                table.fullname, mark.head_seq, mark.entries, mark.head_hash, mark.at, mark.key_id))):
            return ChainReport(count, None, f"{name} is not authentic", len(marks))
        if seen.get(mark.head_seq) != (mark.head_hash, mark.entries):
            return ChainReport(count, None, f"TRUNCATED or rewritten: {name} recorded seq {mark.head_seq} with "
                                            f"{mark.entries} entries, which the chain no longer holds", len(marks))
    return ChainReport(count, None, None, len(marks))
