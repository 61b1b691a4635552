"""The triage corpus: the training file shipped with the service and the separate evaluation split.

Checks the format the classifier reads, that every code is one of taxonomy.yaml's, and the minimum
counts per label that issue 14 asks for.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[2]
TAXONOMY = yaml.safe_load((ROOT / "services" / "triage" / "data" / "taxonomy.yaml").read_text(encoding="utf-8"))
TRAIN = ROOT / "services" / "triage" / "data" / "corpus" / "train.jsonl"
EVAL = ROOT / "tests" / "data" / "triage_eval.jsonl"
EVAL2 = ROOT / "tests" / "data" / "triage_eval2.jsonl"

TYPES = {t["code"]: t["family"] for t in TAXONOMY["types"]}
TRIGGERS = {t["code"] for t in TAXONOMY["must_investigate"]}
TAGS = {tag["code"] for group in TAXONOMY["tag_groups"] for tag in group["tags"]}
CHANNELS = {"12345", "12388", "12380", "qr", "petition", "online", "mayor_line", "walk_in", "media"}
KEYS = {"text", "conduct", "family", "type", "triggers", "enterprise", "tags", "channel", "source"}


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def check_format(items: list[dict]) -> None:
    texts = Counter(i["text"] for i in items)
    assert not [t for t, n in texts.items() if n > 1], "a text appears twice"
    for item in items:
        assert set(item) == KEYS, item
        assert isinstance(item["text"], str) and len(item["text"]) >= 8, item
        assert isinstance(item["conduct"], bool) and isinstance(item["enterprise"], bool), item
        assert set(item["triggers"]) <= TRIGGERS, item
        assert set(item["tags"]) <= TAGS, item
        assert item["channel"] in CHANNELS and item["source"], item
        if item["conduct"]:
            assert item["type"] in TYPES and item["family"] == TYPES[item["type"]], item
        else:
            assert item["type"] is None and item["family"] is None and not item["triggers"] and not item["tags"], item


@pytest.mark.parametrize("path", [TRAIN, EVAL, EVAL2], ids=["train", "eval", "eval2"])
def test_corpus_lines_follow_the_format_and_the_taxonomy_codes(path):
    check_format(read(path))


def test_train_has_the_minimum_counts_per_label():
    items = read(TRAIN)
    conduct = [i for i in items if i["conduct"]]
    assert len(conduct) >= 3000
    per_type = Counter(i["type"] for i in conduct)
    assert set(per_type) == set(TYPES) and min(per_type.values()) >= 150, per_type
    per_trigger = Counter(t for i in items for t in i["triggers"])
    assert set(per_trigger) == TRIGGERS and min(per_trigger.values()) >= 60, per_trigger
    assert sum(not i["conduct"] for i in items) >= 400
    assert sum(i["enterprise"] for i in items) >= 300
    assert sum(i["source"] == "handwritten" for i in items) >= 200


def test_eval_split_has_the_minimum_counts_and_shares_no_text_with_train():
    items = read(EVAL)
    assert len(items) >= 400
    triggered = [i for i in items if i["triggers"]]
    assert len(triggered) >= 60 and {t for i in triggered for t in i["triggers"]} == TRIGGERS
    assert sum(not i["conduct"] for i in items) >= 60
    assert sum(i["enterprise"] for i in items) >= 40
    assert {i["type"] for i in items if i["conduct"]} == set(TYPES)
    assert all(i["source"].startswith("handwritten") for i in items)

    import importlib.util

    spec = importlib.util.spec_from_file_location("check_split", ROOT / "tools" / "corpus" / "check_split.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    assert check.shared(read(TRAIN), items) == []


def test_the_second_eval_split_covers_every_type_trigger_and_the_new_tags_and_shares_no_text():
    items = read(EVAL2)
    assert len(items) >= 200
    non_conduct = sum(not i["conduct"] for i in items)
    assert 0.12 <= non_conduct / len(items) <= 0.2
    per_trigger = Counter(t for i in items for t in i["triggers"])
    assert set(per_trigger) == TRIGGERS and min(per_trigger.values()) >= 8, per_trigger
    assert {i["type"] for i in items if i["conduct"]} == set(TYPES)
    tags = Counter(t for i in items for t in i["tags"])
    assert tags["personnel_selection"] >= 5 and sum(bool(i["tags"]) for i in items) >= 60

    import importlib.util

    spec = importlib.util.spec_from_file_location("check_split", ROOT / "tools" / "corpus" / "check_split.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    assert check.shared(read(TRAIN), items) == []
    assert not {i["text"] for i in items} & {i["text"] for i in read(EVAL)}


def test_the_generator_is_deterministic_and_matches_the_shipped_file():
    import importlib.util
    import sys

    sys.path.insert(0, str(ROOT / "tools" / "corpus"))
    try:
        spec = importlib.util.spec_from_file_location("make_train", ROOT / "tools" / "corpus" / "make_train.py")
        gen = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(gen)
        assert gen.build() == read(TRAIN)
    finally:
        sys.path.remove(str(ROOT / "tools" / "corpus"))
