"""Labelled examples: the shipped corpus, officers' overrides, and the separate evaluation split.

One JSON object a line: ``{"text", "conduct": bool, "family", "type", "triggers": [五必查 codes],
"enterprise": bool, "tags": [...], "channel", "source"}``. The evaluation split is written apart from the
training corpus (other scenarios, other wording) and is never trained on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Iterable

import yaml

ROOT = Path(__file__).resolve().parents[3]  # the repository, when run from a checkout
TRAIN_FILE = Path(__file__).resolve().parents[1] / "data" / "corpus" / "train.jsonl"  # ships with the package
EVAL_FILE = ROOT / "tests" / "data" / "triage_eval.jsonl"
LEGACY_FILE = ROOT / "tests" / "data" / "triage_labelled_clues.yaml"


@dataclass
class Example:
    text: str
    conduct: bool = True
    family: str | None = None
    type: str | None = None
    triggers: list[str] = field(default_factory=list)
    enterprise: bool = False
    tags: list[str] = field(default_factory=list)
    channel: str | None = None
    source: str | None = None

    @classmethod
    def of(cls, row: dict[str, Any]) -> Example:
        conduct = bool(row.get("conduct", row.get("type") is not None))
        return cls(
            text=str(row["text"]), conduct=conduct, family=row.get("family") if conduct else None,
            type=row.get("type") if conduct else None, triggers=sorted(set(row.get("triggers") or ())),
            enterprise=bool(row.get("enterprise", False)), tags=sorted(set(row.get("tags") or ())),
            channel=row.get("channel"), source=row.get("source"))

    def row(self) -> dict[str, Any]:
        return dict(self.__dict__)


def read_jsonl(path: Path) -> list[Example]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                out.append(Example.of(json.loads(line)))
            except (ValueError, KeyError) as exc:
                raise ValueError(f"{path}:{n}: {exc}") from exc
    return out


def read_legacy(path: Path = LEGACY_FILE) -> list[Example]:
    """The 160 clues of the first phrase model ([family, type, text]): all conduct complaints."""
    return [Example(text=t, family=f, type=c) for f, c, t in yaml.safe_load(path.read_text(encoding="utf-8"))]


def training_examples(path: Path = TRAIN_FILE) -> list[Example]:
    return read_jsonl(path) if path.exists() else read_legacy()


def eval_examples(path: Path = EVAL_FILE) -> list[Example]:
    return read_jsonl(path) if path.exists() else []


def fingerprint(examples: Iterable[Example]) -> str:
    digest = hashlib.sha256()
    for e in examples:
        digest.update(json.dumps(e.row(), ensure_ascii=False, sort_keys=True).encode())
    return digest.hexdigest()[:16]
