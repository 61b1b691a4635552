"""Alembic, one migration history per service schema, each with its own version table in that schema."""

from __future__ import annotations

import asyncio
from importlib import import_module
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config

from .suite import SERVICES


def alembic_config(service: str, database_url: str) -> Config:
    package = import_module(f"services.{service}")
    location = Path(package.__path__[0]) / "migrations"
    config = Config()
    config.set_main_option("script_location", str(location))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    config.attributes["service"] = service
    return config


def upgrade(service: str, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service, database_url), revision)


def script_revisions(service: str) -> tuple[frozenset[str], frozenset[str]]:
    """(the code's head revisions, every revision it knows) for a service's migration history."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(service, "postgresql+asyncpg://unused"))
    return frozenset(script.get_heads()), frozenset(r.revision for r in script.walk_revisions())


def schema_problem(current: set[str], heads: frozenset[str], known: frozenset[str]) -> str | None:
    """Why a schema at ``current`` cannot serve this code, or None. A revision the code does not know was
    written by a newer release mid-upgrade (expand-then-contract keeps this one working on it)."""
    if not current:
        return "schema: not migrated"
    if current == heads or current - known:
        return None
    return f"schema: at {', '.join(sorted(current))}, the code needs {', '.join(sorted(heads))}"


def upgrade_all(database_url: str) -> None:
    for service in SERVICES:
        upgrade(service, database_url)


def run_env(metadata: MetaData) -> None:
    """The body of every service's ``migrations/env.py``: online, async, schema-scoped."""
    from alembic import context

    schema = metadata.schema
    config = context.config

    def do_run(connection: Connection) -> None:
        # Every pod's init container migrates on start: one at a time per schema, the others then find it
        # at head (the lock ends with the transaction).
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"zuofeng-migrate:{schema}"})
        # PostgreSQL checks the CREATE privilege on the database before it looks for an existing schema,
        # even with IF NOT EXISTS; asking first lets a role that only owns its schema migrate it.
        exists = connection.execute(
            text("SELECT 1 FROM pg_namespace WHERE nspname = :schema"), {"schema": schema}).first()
        if exists is None:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_name=lambda name, type_, parent: type_ != "schema" or name == schema,
            compare_type=True,
            process_revision_directives=_skip_empty,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = async_engine_from_config(
            config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool,
            hide_parameters=True,  # a data migration's values are reporters' data too
        )
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
            await connection.commit()
        await engine.dispose()

    asyncio.run(run_async())


def _skip_empty(context, revision, directives) -> None:
    if getattr(context.config, "cmd_opts", None) and getattr(context.config.cmd_opts, "autogenerate", False):
        script = directives[0]
        if script.upgrade_ops.is_empty():
            directives[:] = []
