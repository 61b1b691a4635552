"""``zuofeng``: the suite's command line (migrations, serving, DLQ replay, development keys and tokens)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from .suite import GATEWAY_PORT, SERVICES

APPS = {name: f"services.{name}.app:create_app" for name in SERVICES} | {"gateway": "gateway.app:create_app"}


def _settings():
    from .settings import ServiceSettings

    return ServiceSettings()


def cmd_migrate(args: argparse.Namespace) -> int:
    from . import migrate

    url = _settings().database_url
    for service in args.services or list(SERVICES):
        migrate.upgrade(service, url)
        print(f"migrated {service}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    port = args.port or (GATEWAY_PORT if args.app == "gateway" else SERVICES[args.app])
    uvicorn.run(
        APPS[args.app],
        factory=True,
        host=args.host,
        port=port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        timeout_graceful_shutdown=20,
    )
    return 0


def cmd_dlq_replay(args: argparse.Namespace) -> int:
    from .consumer import replay_dead_letters

    count = asyncio.run(replay_dead_letters(_settings(), args.topic, limit=args.limit))
    print(f"replayed {count} message(s) from {args.topic}.dlq onto {args.topic}")
    return 0


def cmd_dev_keys(args: argparse.Namespace) -> int:
    """Create local development keys (once) and the env file the local process manager reads."""
    from .auth import generate_keypair
    from .crypto import KeyRing
    from .settings import DEV_KEY_MARKER

    directory = Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("internal", "staff-idp"):
        private, public = directory / f"{name}.pem", directory / f"{name}.pub.pem"
        if not private.exists():
            key, pub = generate_keypair()
            private.write_text(f"{DEV_KEY_MARKER}\n{key}")
            private.chmod(0o600)
            public.write_text(f"{DEV_KEY_MARKER}\n{pub}")
        for pem in (private, public):  # keys made before the marker existed get it too
            if DEV_KEY_MARKER not in (text := pem.read_text()):
                pem.write_text(f"{DEV_KEY_MARKER}\n{text}")
    for ring_name in ("identity-keyring", "contact-keyring"):
        ring = directory / ring_name
        if not ring.exists():
            ring.write_text(KeyRing.generate_spec("dev1"))
            ring.chmod(0o600)
    print(directory)
    return 0


def cmd_dev_token(args: argparse.Namespace) -> int:
    """A staff bearer token signed by the local development identity provider."""
    import jwt

    key = Path(args.key).read_text()
    now = int(time.time())
    claims = {
        "sub": args.subject,
        "roles": args.role,
        "iss": "zuofeng-dev-idp",
        "aud": "zuofeng",
        "iat": now,
        "exp": now + args.ttl,
    }
    if args.unit:
        claims["unit"] = args.unit
    print(jwt.encode(claims, key, algorithm="EdDSA"))
    return 0


async def _verify_audit_chain(database_url: str, schema: str, keys, kafka_settings=None) -> tuple[bool, str]:
    from sqlalchemy import MetaData, text
    from sqlalchemy.ext.asyncio import create_async_engine

    from .audit import audit_table, checkpoint_table, published_checkpoint, verify_chain

    published = None
    if kafka_settings is not None:
        published = await published_checkpoint(kafka_settings, f"{schema}.audit_log")
        if published is None:
            return False, f"{schema}: no checkpoint of this chain on Kafka (is the service running?)"

    engine = create_async_engine(database_url, hide_parameters=True)
    try:
        async with engine.connect() as conn:
            exists = await conn.scalar(text("SELECT to_regclass(:name)"), {"name": f"{schema}.audit_log"})
            if exists is None:
                return False, f"{schema}: no audit log table ({schema}.audit_log)"
            has_checkpoints = await conn.scalar(text("SELECT to_regclass(:name)"),
                                                {"name": f"{schema}.audit_checkpoints"})
            metadata = MetaData(schema=schema)
            report = await verify_chain(conn, audit_table(metadata),
                                        checkpoint_table(metadata) if has_checkpoints else None, keys=keys,
                                        published=published)
    finally:
        await engine.dispose()
    if report.intact:
        return True, (f"{schema}: audit chain intact ({report.entries} entries, "
                      f"{report.checkpoints} checkpoints matched)")
    if report.first_broken_seq is not None:
        return False, (f"{schema}: audit chain BROKEN at seq {report.first_broken_seq} (entry {report.entries}): "
                       f"{report.problem}")
    return False, f"{schema}: audit chain {report.problem}"


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Recompute a service's keyed chain (AUDIT_KEYRING) and check it against its checkpoints; exit 1 on
    the first broken link or a checkpoint the chain no longer reaches (a cut-off tail; ``--kafka`` also the
    one published outside the database), 2 when there is no audit log."""
    import re

    if not re.fullmatch(r"[a-z_][a-z0-9_]*", args.service):
        print(f"not a schema name: {args.service!r}", file=sys.stderr)
        return 2
    settings = _settings()
    intact, message = asyncio.run(_verify_audit_chain(args.database_url or settings.database_url, args.service,
                                                      settings.audit_keys, settings if args.kafka else None))
    print(message, file=sys.stdout if intact else sys.stderr)
    if intact:
        return 0
    return 2 if "no audit log" in message else 1


def cmd_export_schemas(args: argparse.Namespace) -> int:
    from .contracts import export_json_schemas

    for path in export_json_schemas():
        print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zuofeng", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("migrate", help="run Alembic migrations for services (default: all)")
    p.add_argument("services", nargs="*", metavar="SERVICE", help=", ".join(SERVICES))
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("serve", help="run one service or the gateway with uvicorn")
    p.add_argument("app", choices=list(APPS))
    p.add_argument("--host", default=os.environ.get("ZUOFENG_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", "0")) or None)
    p.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "1")))
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("dlq-replay", help="publish a topic's dead letters back onto it")
    p.add_argument("topic", help="the original topic, e.g. zuofeng.intake.clue-received.v1")
    p.add_argument("--limit", type=int, default=None)
    p.set_defaults(func=cmd_dlq_replay)

    p = sub.add_parser("dev-keys", help="create local development keys")
    p.add_argument("--dir", default=".run/keys")
    p.set_defaults(func=cmd_dev_keys)

    p = sub.add_parser("dev-token", help="print a development staff bearer token")
    p.add_argument("--role", action="append", default=[], help="repeatable: triage_officer, investigator, …")
    p.add_argument("--unit", default=None, help="the unit a unit_handler is bound to")
    p.add_argument("--subject", default="dev-user")
    p.add_argument("--ttl", type=int, default=3600)
    p.add_argument("--key", default=".run/keys/staff-idp.pem")
    p.set_defaults(func=cmd_dev_token)

    p = sub.add_parser("audit-verify", help="verify a service's hash-chained audit log (exit 1 on a break)")
    p.add_argument("service", help="the service whose schema holds the audit log, e.g. intake")
    p.add_argument("--database-url", default=None, help="default: DATABASE_URL")
    p.add_argument("--kafka", action="store_true",
                   help="also check the chain against its latest checkpoint published on Kafka (outside the database)")
    p.set_defaults(func=cmd_audit_verify)

    p = sub.add_parser("export-schemas", help="write the event contracts' JSON Schemas")
    p.set_defaults(func=cmd_export_schemas)

    from services.triage.model.cli import add_parser as add_triage_parser

    add_triage_parser(sub)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
