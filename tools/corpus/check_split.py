"""Check that the evaluation splits share no 12-character substring with the training corpus.

    .venv/bin/python tools/corpus/check_split.py      # exit 1 and list the offending pairs if any
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ROOT / "services" / "triage" / "data" / "corpus" / "train.jsonl"
EVAL = ROOT / "tests" / "data" / "triage_eval.jsonl"
EVAL2 = ROOT / "tests" / "data" / "triage_eval2.jsonl"
WINDOW = 12


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def grams(text: str, n: int = WINDOW) -> set[str]:
    return {text[i:i + n] for i in range(len(text) - n + 1)}


def shared(train: list[dict], evaluation: list[dict], n: int = WINDOW) -> list[tuple[str, str]]:
    """(eval text, first shared substring) for every eval text that overlaps the training texts."""
    seen: set[str] = set()
    for item in train:
        seen |= grams(item["text"], n)
    out = []
    for item in evaluation:
        hit = next((g for g in grams(item["text"], n) if g in seen), None)
        if hit:
            out.append((item["text"], hit))
    return out


def main() -> int:
    train = read(TRAIN)
    bad = shared(train, read(EVAL)) + (shared(train, read(EVAL2)) if EVAL2.exists() else [])
    for text, gram in bad:
        print(f"{gram!r}  in  {text}")
    print(f"{len(bad)} eval texts share a {WINDOW}-character substring with train")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
