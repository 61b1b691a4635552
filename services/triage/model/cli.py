"""``zuofeng triage train``: retrain from the shipped corpus plus officers' overrides, evaluate on the
separate split, write a new versioned model (model.npz, meta.json, report.json, report.md)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path

from .corpus import EVAL_FILE, LEGACY_FILE, TRAIN_FILE, Example, eval_examples, read_legacy, training_examples
from .evaluate import evaluate, markdown
from .linear import LinearModel
from .train import train, write


async def read_overrides(database_url: str | None) -> list[Example]:
    from sqlalchemy import select

    from services.common.db import create_engine, create_session_factory, session_scope

    from ..models import training_examples as table
    from ..settings import TriageSettings

    settings = TriageSettings(database_url=database_url) if database_url else TriageSettings()
    engine = create_engine(settings, pool_size=1)
    try:
        async with session_scope(create_session_factory(engine)) as session:
            rows = (await session.execute(select(table).order_by(table.c.id))).all()
    finally:
        await engine.dispose()
    # the latest override of a clue is its label
    latest: dict = {}
    for r in rows:
        latest[r.clue_id or f"row-{r.id}"] = Example(
            text=r.text, conduct=r.conduct, family=r.family, type=r.type_code, triggers=list(r.triggers),
            enterprise=r.enterprise, tags=list(r.tags), channel=r.channel, source="override")
    return list(latest.values())


def run(args: argparse.Namespace) -> int:
    examples = training_examples(Path(args.corpus))
    overrides: list[Example] = []
    if not args.no_overrides:
        try:
            overrides = asyncio.run(read_overrides(args.database_url))
        except Exception as exc:  # noqa: BLE001 — no database: train on the corpus alone, and say so
            print(f"overrides not read ({type(exc).__name__}: {exc}); training on the corpus alone")
    calibration = read_legacy(Path(args.calibration)) if args.calibration else None
    meta, arrays = train(examples + overrides, use_words=args.words, C=args.C, calibration=calibration,
                         trigger_recall=args.trigger_recall)
    held_out = eval_examples(Path(args.eval))
    out = Path(args.out or os.environ.get("TRIAGE_MODEL_DIR", ".run/models"))
    directory = write(meta, arrays, out)
    if held_out:
        from ..classifier import Classifier

        report = evaluate(Classifier(LinearModel(meta, arrays)), held_out)
        report["training_examples"] = {"corpus": len(examples), "overrides": len(overrides)}
        (directory / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        (directory / "report.md").write_text(markdown(report, title=f"Evaluation of {meta['version']}"),
                                             encoding="utf-8")
        print(markdown(report, title=f"Evaluation of {meta['version']}"))
    print(f"model {meta['version']} written to {directory} ({len(examples)} corpus + {len(overrides)} override "
          "examples); the service loads the newest version at its next daily run")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("triage", help="triage's learned classifier")
    tsub = p.add_subparsers(dest="triage_command", required=True)
    t = tsub.add_parser("train", help="retrain from the shipped corpus plus officers' overrides")
    t.add_argument("--corpus", default=str(TRAIN_FILE))
    t.add_argument("--eval", default=str(EVAL_FILE), help="the separate evaluation split (never trained on)")
    t.add_argument("--out", default=None, help="default: TRIAGE_MODEL_DIR or .run/models")
    t.add_argument("--database-url", default=None, help="where the overrides are (default: DATABASE_URL)")
    t.add_argument("--no-overrides", action="store_true", help="the shipped corpus alone")
    t.add_argument("--calibration", default=str(LEGACY_FILE),
                   help="conduct complaints written apart from the corpus, for the temperatures and the review "
                        "threshold ('' to use the corpus's own out-of-fold scores)")
    t.add_argument("--words", action="store_true", help="add jieba words to the character n-grams")
    t.add_argument("--C", type=float, default=20.0, help="inverse regularisation strength")
    t.add_argument("--trigger-recall", type=float, default=0.99,
                   help="out-of-fold recall each 五必查 detector's threshold keeps (a low, second net)")
    t.set_defaults(func=run)
