"""Migrations run with least privilege: as in the Kubernetes deployment, each service's role owns its
schema and holds no CREATE on the database."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from services.common import migrate
from services.common.suite import SERVICES


def _admin_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)


async def test_a_role_owning_only_its_schema_migrates_it_to_head(infra):
    database, role, password = f"zuofeng_lp_{secrets.token_hex(4)}", f"lp_{secrets.token_hex(4)}", secrets.token_hex(8)
    admin = await asyncpg.connect(_admin_dsn(infra["SERVER_URL"]))
    try:
        await admin.execute(f'CREATE DATABASE "{database}"')
        await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        owner = await asyncpg.connect(_admin_dsn(infra["SERVER_URL"]), database=database)
        try:
            for service in SERVICES:
                await owner.execute(f"CREATE SCHEMA {service} AUTHORIZATION {role}")
            await owner.execute(f"REVOKE CREATE ON DATABASE \"{database}\" FROM PUBLIC")
        finally:
            await owner.close()

        url = make_url(infra["SERVER_URL"]).set(database=database, username=role, password=password)
        as_role = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):  # the premise: no CREATE on the database
                await as_role.execute("CREATE SCHEMA IF NOT EXISTS intake")
            for service in SERVICES:
                await asyncio.to_thread(migrate.upgrade, service, url.render_as_string(hide_password=False))
            versions = {s: await as_role.fetchval(f"SELECT version_num FROM {s}.alembic_version") for s in SERVICES}
        finally:
            await as_role.close()
        assert all(versions.values()), versions
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.execute(f"DROP ROLE IF EXISTS {role}")
        await admin.close()


async def test_readiness_waits_for_the_schema_and_concurrent_migrations_serialise(settings_kwargs, infra):
    """What the pods' init containers rely on: several pods migrating one schema at once all succeed,
    and a service reports ready only once its schema is at the code's head."""
    import httpx
    from asgi_lifespan import LifespanManager

    from services.accountability.app import create_app
    from services.accountability.settings import AccountabilitySettings

    database = f"zuofeng_ready_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(_admin_dsn(infra["SERVER_URL"]))
    await admin.execute(f'CREATE DATABASE "{database}"')
    url = make_url(infra["SERVER_URL"]).set(database=database).render_as_string(hide_password=False)
    try:
        settings = AccountabilitySettings(**{**settings_kwargs, "database_url": url, "kafka_enabled": False})
        app = create_app(settings)
        async with (LifespanManager(app, startup_timeout=30) as manager,
                    httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url="http://a") as c):
            before = await c.get("/readyz")
            assert before.status_code == 503 and any(f.startswith("schema") for f in before.json()["failures"])

            # Three pods starting at once, each its own process (as their init containers are).
            env = {**os.environ, "DATABASE_URL": url, "KAFKA_ENABLED": "false", "ZUOFENG_ENV": "development"}
            runs = [await asyncio.create_subprocess_exec(
                sys.executable, "-m", "services.common.cli", "migrate", "accountability", env=env,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE) for _ in range(3)]
            results = [await run.communicate() for run in runs]
            assert [run.returncode for run in runs] == [0, 0, 0], [err.decode()[-500:] for _, err in results]
            assert (await c.get("/readyz")).status_code == 200

            # A restore of an older backup: the schema is at a revision the code has moved past.
            heads, known = migrate.script_revisions("accountability")
            if older := sorted(known - heads):
                owner = await asyncpg.connect(_admin_dsn(infra["SERVER_URL"]), database=database)
                try:
                    await owner.execute("UPDATE accountability.alembic_version SET version_num = $1", older[0])
                finally:
                    await owner.close()
                behind = await c.get("/readyz")
                assert behind.status_code == 503 and "the code needs" in str(behind.json()["failures"])
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


def test_schema_problem_tells_behind_from_ahead():
    heads, known = frozenset({"b"}), frozenset({"a", "b"})
    assert migrate.schema_problem(set(), heads, known) == "schema: not migrated"
    assert migrate.schema_problem({"b"}, heads, known) is None
    assert "the code needs b" in migrate.schema_problem({"a"}, heads, known)
    # Migrated by a newer release during a rolling upgrade: this (older) code keeps serving.
    assert migrate.schema_problem({"c"}, heads, known) is None
