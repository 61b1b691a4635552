"""Turn the hand-written evaluation lines (tools/corpus/eval_src/*.txt) into tests/data/triage_eval.jsonl.

Every eval item is written by hand, scenario by scenario, in other cities and other words than the
training pools; this script only changes the notation. Line format: `type|triggers|E or -|channel|text`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_train import FAMILY, load_handwritten

OUT = HERE.parents[1] / "tests" / "data" / "triage_eval.jsonl"


def main() -> None:
    items = []
    for path in sorted((HERE / "eval_src").glob("*.txt")):
        for item in load_handwritten(path):
            item["source"] = f"handwritten:eval:{path.stem}"
            assert item["type"] is None or item["type"] in FAMILY
            items.append(item)
    with OUT.open("w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")
    print(f"wrote {len(items)} items to {OUT.relative_to(HERE.parents[1])}")


if __name__ == "__main__":
    main()
