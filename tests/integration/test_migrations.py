"""Migrations run with least privilege: as in the Kubernetes deployment, each service's role owns its
schema and holds no CREATE on the database."""

from __future__ import annotations

import asyncio
import secrets

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
