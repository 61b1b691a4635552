"""`zuofeng audit-verify` finds a tampered or deleted audit entry (a test-only chain on the test database)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from services.common import audit
from services.common.auth import Principal


def verify(schema: str, url: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "services.common.cli", "audit-verify", schema],
                          env={**os.environ, "DATABASE_URL": url}, capture_output=True, text=True, timeout=60)


async def test_audit_verify_passes_an_intact_chain_and_fails_on_tampering(infra):
    url, schema = infra["DATABASE_URL"], f"audit_t{secrets.token_hex(4)}"
    engine = create_async_engine(url)
    table = audit.audit_table(MetaData(schema=schema))
    investigator = Principal(kind="staff", subject="inv-1", roles=frozenset({"investigator"}))
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            await conn.run_sync(table.metadata.create_all)
        async with AsyncSession(engine) as session, session.begin():
            for n in range(4):
                await audit.record(session, table, actor=investigator, action="identity.reveal",
                                   entity_type="clue", entity_id=f"clue-{n}", details={"reason": f"case {n}"})

        intact = verify(schema, url)
        assert intact.returncode == 0, intact.stderr
        assert "intact (4 entries)" in intact.stdout

        async with engine.begin() as conn:
            await conn.execute(text(f'UPDATE "{schema}".audit_log SET details = \'{{"reason": "nothing"}}\' '
                                    f"WHERE entity_id = 'clue-2'"))
        tampered = verify(schema, url)
        assert tampered.returncode == 1
        assert "BROKEN at seq 3" in tampered.stderr

        async with engine.begin() as conn:
            await conn.execute(text(f"DELETE FROM \"{schema}\".audit_log WHERE entity_id IN ('clue-1', 'clue-2')"))
        deleted = verify(schema, url)
        assert deleted.returncode == 1 and "BROKEN at seq 4" in deleted.stderr

        missing = verify("no_such_schema", url)
        assert missing.returncode == 2
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()
