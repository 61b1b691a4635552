"""Turn the second hand-written evaluation split (tools/corpus/eval2_src/*.txt) into tests/data/triage_eval2.jsonl.

Written after the first split and apart from the rules (20 other cities, colloquial, typos, two problems
mixed, ~15 % not conduct complaints), with tag labels. Line format: `type|triggers|E or -|channel|tags|text`
(`-` for none; lists comma-separated). Never trained on, nor used for any threshold.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_train import FAMILY

OUT = HERE.parents[1] / "tests" / "data" / "triage_eval2.jsonl"


def codes(field: str) -> list[str]:
    return sorted(c for c in field.split(",") if c and c != "-")


def read(path: Path) -> list[dict]:
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        type_, trig, ent, channel, tags, text = line.split("|", 5)
        type_ = None if type_ == "-" else type_
        assert type_ is None or type_ in FAMILY, line
        items.append({"text": text.strip(), "conduct": type_ is not None, "family": FAMILY[type_] if type_ else None,
                      "type": type_, "triggers": codes(trig), "enterprise": ent == "E", "tags": codes(tags),
                      "channel": channel, "source": f"handwritten:eval2:{path.stem}"})
    return items


def main() -> None:
    items = [item for path in sorted((HERE / "eval2_src").glob("*.txt")) for item in read(path)]
    with OUT.open("w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")
    print(f"wrote {len(items)} items to {OUT.relative_to(HERE.parents[1])}")


if __name__ == "__main__":
    main()
