"""Accuracy of the triage classifier on the labelled set (tests/data/triage_labelled_clues.yaml).

Run: ``.venv/bin/python -m bench.triage_classifier_accuracy``. Prints family and type accuracy, how many
clues would go to the human queue (confidence below the threshold), and the family accuracy of the rest.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import yaml

from services.triage.taxonomy import default_taxonomy

ROOT = Path(__file__).resolve().parents[1]


def measure() -> dict:
    taxonomy = default_taxonomy()
    rows = yaml.safe_load((ROOT / "tests/data/triage_labelled_clues.yaml").read_text(encoding="utf-8"))
    family_ok = type_ok = queued = confident_ok = 0
    misses = []
    for family, type_code, text in rows:
        result = taxonomy.classify(text)
        family_ok += result.family == family
        type_ok += result.type_code == type_code
        if result.confidence < taxonomy.review_threshold:
            queued += 1
        else:
            confident_ok += result.family == family
        if result.family != family:
            misses.append({"text": text, "label": family, "got": result.family})
    n = len(rows)
    return {
        "clues": n, "by_family": dict(Counter(r[0] for r in rows)),
        "family_accuracy": round(family_ok / n, 4), "type_accuracy": round(type_ok / n, 4),
        "to_human_queue": queued, "family_accuracy_of_auto_decided": round(confident_ok / max(1, n - queued), 4),
        "family_misses": misses,
    }


if __name__ == "__main__":
    print(json.dumps(measure(), ensure_ascii=False, indent=2))
