"""The audit chain on the real database: `zuofeng audit-verify` finds an edited, re-chained, deleted or
cut-off entry; the chain is keyed and rotates; the migrated tables refuse UPDATE, DELETE and TRUNCATE."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import MetaData, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from services.common import audit
from services.common.auth import Principal
from services.common.suite import SERVICES

from ..support import eventually

INVESTIGATOR = Principal(kind="staff", subject="inv-1", roles=frozenset({"investigator"}))


def verify(schema: str, url: str, keyring: str = audit.DEV_AUDIT_KEYRING, *, kafka: dict | None = None,
           ) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url, "AUDIT_KEYRING": keyring}
    if kafka:
        env |= {"KAFKA_BOOTSTRAP_SERVERS": kafka["KAFKA_BOOTSTRAP_SERVERS"],
                "KAFKA_TOPIC_PREFIX": kafka["KAFKA_TOPIC_PREFIX"]}
    return subprocess.run([sys.executable, "-m", "services.common.cli", "audit-verify", schema,
                           *(["--kafka"] if kafka else [])], env=env, capture_output=True, text=True, timeout=90)


@pytest.fixture
async def chain(infra):
    """A chain of four entries and a checkpoint in a test-only schema, guarded as the migrations guard theirs."""
    url, schema = infra["DATABASE_URL"], f"audit_t{secrets.token_hex(4)}"
    engine = create_async_engine(url)
    metadata = MetaData(schema=schema)
    table, checkpoints = audit.audit_table(metadata), audit.checkpoint_table(metadata)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(metadata.create_all)
        for name in ("audit_log", "audit_checkpoints"):
            for statement in audit.append_only_sql(schema, name):
                await conn.execute(text(statement))
    async with AsyncSession(engine) as session, session.begin():
        for n in range(4):
            await audit.record(session, table, actor=INVESTIGATOR, action="identity.reveal", entity_type="clue",
                               entity_id=f"clue-{n}", details={"reason": f"case {n}"})
        assert await audit.record_checkpoint(session, table, checkpoints) is not None
        assert await audit.record_checkpoint(session, table, checkpoints) is None  # the head has not moved
    try:
        yield engine, url, schema, table, checkpoints
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()


async def as_attacker(engine, sql: str) -> None:
    """Someone with the database's superuser: triggers off for the session, then the write."""
    async with engine.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(text(sql))


async def test_an_intact_chain_verifies_and_the_table_refuses_changes(chain):
    engine, url, schema, *_ = chain
    intact = verify(schema, url)
    assert intact.returncode == 0, intact.stderr
    assert "intact (4 entries, 1 checkpoints matched)" in intact.stdout
    for sql in (f'UPDATE "{schema}".audit_log SET actor_roles = \'admin\'',
                f'DELETE FROM "{schema}".audit_log WHERE seq > 2',
                f'TRUNCATE "{schema}".audit_log',
                f'DELETE FROM "{schema}".audit_checkpoints'):
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(text(sql))
    assert verify(schema, url).returncode == 0


async def test_every_column_is_covered_edits_and_deletions_break_the_chain(chain):
    engine, url, schema, *_ = chain
    # actor_roles was outside the hash before: now an edit of it breaks the link
    await as_attacker(engine, f'UPDATE "{schema}".audit_log SET actor_roles = \'admin\' WHERE entity_id = \'clue-1\'')
    edited = verify(schema, url)
    assert edited.returncode == 1 and "BROKEN at seq 2" in edited.stderr, edited.stderr


async def test_a_deletion_in_the_middle_breaks_the_chain(chain):
    engine, url, schema, *_ = chain
    await as_attacker(engine, f"DELETE FROM \"{schema}\".audit_log WHERE entity_id IN ('clue-1', 'clue-2')")
    deleted = verify(schema, url)
    assert deleted.returncode == 1 and "BROKEN at seq 4" in deleted.stderr, deleted.stderr


async def test_a_rechained_tail_without_the_key_is_detected(chain):
    engine, url, schema, table, _ = chain
    async with engine.connect() as conn:
        third = (await conn.execute(text(f'SELECT * FROM "{schema}".audit_log WHERE seq = 3'))).one()
    # Rewrite the last entry and re-chain it as the old, unkeyed chain did (plain SHA-256) …
    forged = audit._legacy_digest(third.hash, datetime.now(UTC), "inv-1", "identity.reveal", "clue", "clue-3",
                                  {"reason": "nothing"})
    await as_attacker(engine, f"""UPDATE "{schema}".audit_log SET details = '{{"reason": "nothing"}}',
                                   hash = '{forged}', key_id = NULL WHERE seq = 4""")
    unkeyed = verify(schema, url)
    assert unkeyed.returncode == 1 and "BROKEN at seq 4" in unkeyed.stderr and "unkeyed" in unkeyed.stderr
    # … or with a key of one's own under the real key id: neither verifies.
    own = audit.AuditKeys.parse("dev:" + base64.b64encode(hashlib.sha256(b"attacker").digest()).decode())
    async with engine.connect() as conn:
        row = (await conn.execute(text(f'SELECT * FROM "{schema}".audit_log WHERE seq = 4'))).one()
    mac = own.mac("dev", audit._entry_message(table.fullname, 4, row.at, row.actor, row.actor_roles, row.action,
                                              row.entity_type, row.entity_id, row.details, row.prev_hash, "dev"))
    await as_attacker(engine, f"UPDATE \"{schema}\".audit_log SET hash = '{mac}', key_id = 'dev' WHERE seq = 4")
    rekeyed = verify(schema, url)
    assert rekeyed.returncode == 1 and "BROKEN at seq 4" in rekeyed.stderr


async def test_a_cut_off_tail_no_longer_matches_the_checkpoint(chain):
    engine, url, schema, *_ = chain
    await as_attacker(engine, f'DELETE FROM "{schema}".audit_log WHERE seq >= 3')
    truncated = verify(schema, url)
    assert truncated.returncode == 1, truncated.stdout
    assert "TRUNCATED" in truncated.stderr and "seq 4 with 4 entries" in truncated.stderr


async def test_a_tail_cut_with_its_checkpoints_is_caught_by_the_one_published_on_kafka(chain, suite, infra):
    engine, url, schema, table, checkpoints = chain
    intake = suite.apps["intake"]
    async with AsyncSession(engine) as session, session.begin():
        await audit.record(session, table, actor=INVESTIGATOR, action="case.open", entity_type="case",
                           entity_id="c-9")
        # through a service's outbox and relay, as the services' checkpoint worker does
        async with intake.state.sessions() as outbox_session, outbox_session.begin():
            published = await audit.record_checkpoint(session, table, checkpoints, outbox=None)
            from services.common.contracts.audit import AuditCheckpointed

            await intake.state.outbox.publish(outbox_session, AuditCheckpointed(chain=table.fullname, **published))

    async def on_kafka():
        found = await audit.published_checkpoint(intake.state.settings, table.fullname, timeout_seconds=5)
        return found if found is not None and found.head_seq == published["head_seq"] else None

    await eventually(on_kafka, timeout=30)
    assert verify(schema, url, kafka=infra).returncode == 0

    # Whoever can switch the triggers off cuts the last entry and the checkpoint that names it …
    await as_attacker(engine, f'DELETE FROM "{schema}".audit_log WHERE seq = {published["head_seq"]}')
    await as_attacker(engine, f'DELETE FROM "{schema}".audit_checkpoints WHERE head_seq = {published["head_seq"]}')
    assert verify(schema, url).returncode == 0  # … which the database alone cannot show,
    caught = verify(schema, url, kafka=infra)  # but the copy outside it does
    assert caught.returncode == 1 and "TRUNCATED" in caught.stderr and "published on Kafka" in caught.stderr


async def test_keys_rotate_and_old_entries_still_verify(chain):
    engine, url, schema, table, checkpoints = chain
    old = audit.DEV_AUDIT_KEYRING
    rotated = f"k2:{base64.b64encode(os.urandom(32)).decode()},{old}"
    audit.use_keys(audit.AuditKeys.parse(rotated))
    try:
        async with AsyncSession(engine) as session, session.begin():
            await audit.record(session, table, actor=INVESTIGATOR, action="case.open", entity_type="case",
                               entity_id="c-1")
            await audit.record_checkpoint(session, table, checkpoints)
    finally:
        audit.use_keys(audit.AuditKeys.parse(old))
    both = verify(schema, url, keyring=rotated)
    assert both.returncode == 0 and "intact (5 entries, 2 checkpoints matched)" in both.stdout, both.stderr
    new_only = verify(schema, url, keyring=rotated.split(",")[0])
    assert new_only.returncode == 1 and "unknown audit key 'dev'" in new_only.stderr


async def test_the_migrated_audit_tables_are_append_only(infra):
    engine = create_async_engine(infra["DATABASE_URL"])
    try:
        for service in SERVICES:
            metadata = MetaData(schema=service)
            table, checkpoints = audit.audit_table(metadata), audit.checkpoint_table(metadata)
            async with AsyncSession(engine) as session, session.begin():
                await audit.record(session, table, actor=INVESTIGATOR, action="test.append_only", entity_type="test",
                                   entity_id=service)
                await audit.record_checkpoint(session, table, checkpoints)
            for sql in (f"UPDATE {service}.audit_log SET actor = 'mallory' WHERE entity_id = '{service}'",
                        f"DELETE FROM {service}.audit_log WHERE entity_id = '{service}'",
                        f"TRUNCATE {service}.audit_log",
                        f"DELETE FROM {service}.audit_checkpoints",
                        f"TRUNCATE {service}.audit_checkpoints"):
                with pytest.raises(DBAPIError, match="append-only"):
                    async with engine.begin() as conn:
                        await conn.execute(text(sql))
            async with AsyncSession(engine) as session:
                assert (await audit.verify_chain(session, table, checkpoints)).intact, service
    finally:
        await engine.dispose()
