"""``python -m services.triage import-units FILE``: import a unit directory (YAML or CSV) into triage's
schema and queue one ``UnitUpserted`` per unit in the outbox (the running service's relay publishes them).
``--if-empty`` imports only into an empty directory, so ``make up`` can call it every time."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from services.common.db import create_engine, create_session_factory, session_scope
from services.common.outbox import Outbox

from .models import outbox
from .settings import TriageSettings
from .units import DEMO_UNITS_FILE, count_units, read_directory_file, upsert_units


async def import_units(path: Path, *, if_empty: bool) -> int:
    settings = TriageSettings()
    engine = create_engine(settings, pool_size=1)
    try:
        async with session_scope(create_session_factory(engine)) as session:
            if if_empty and await count_units(session):
                return 0
            return await upsert_units(session, Outbox(outbox, settings), read_directory_file(path))
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.triage")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("import-units", help="import a unit directory file (YAML tree or CSV)")
    cmd.add_argument("file", nargs="?", type=Path, default=DEMO_UNITS_FILE,
                     help="default: the demo directory of a Datong-like city")
    cmd.add_argument("--if-empty", action="store_true", help="do nothing when units already exist")
    args = parser.parse_args(argv)
    count = asyncio.run(import_units(args.file, if_empty=args.if_empty))
    print(f"imported {count} unit(s) from {args.file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
