"""The triage taxonomy and classifier, measured on the labelled clue set in tests/data."""

from __future__ import annotations

from pathlib import Path

import yaml

from services.triage.taxonomy import default_taxonomy

LABELLED = Path(__file__).parents[1] / "data" / "triage_labelled_clues.yaml"


def labelled_clues() -> list[tuple[str, str, str]]:
    return [tuple(row) for row in yaml.safe_load(LABELLED.read_text(encoding="utf-8"))]


def test_taxonomy_has_the_thirteen_datong_types_in_three_families():
    exported = default_taxonomy().export()
    assert [f["label"] for f in exported["families"]] == ["不作为", "慢作为", "乱作为"]
    assert [len(f["types"]) for f in exported["families"]] == [5, 4, 4]
    groups = {g["code"]: [t["label"] for t in g["tags"]] for g in exported["tag_groups"]}
    assert groups["four_guests"] == ["站客", "看客", "说客", "过客"]
    assert groups["three_nots"] == ["不敢为", "不想为", "不会为"]
    assert len(exported["must_investigate"]) == 5


def test_family_accuracy_on_the_labelled_set_is_at_least_85_percent():
    taxonomy = default_taxonomy()
    rows = labelled_clues()
    assert len(rows) >= 150
    right = sum(taxonomy.classify(text).family == family for family, _, text in rows)
    assert right / len(rows) >= 0.85, f"family accuracy {right}/{len(rows)}"


def test_every_labelled_type_belongs_to_its_labelled_family():
    taxonomy = default_taxonomy()
    for family, type_code, _ in labelled_clues():
        assert taxonomy.family_of(type_code) == family


def test_classification_explains_itself_with_the_phrases_it_matched():
    result = default_taxonomy().classify("办理营业执照时窗口人员索要好处费两千元，不给就一直说材料不全。")
    assert result.family == "misconduct" and result.type_code == "lawless"
    assert {"phrase": "好处费", "for": "lawless", "weight": 3.0} in result.evidence_json()
    assert "ctky_demand" in result.tags and result.confidence >= 0.5


def test_text_without_any_known_phrase_has_zero_confidence():
    result = default_taxonomy().classify("今天天气不错。")
    assert (result.family, result.type_code, result.confidence) == (None, None, 0.0)


def test_five_must_investigate_triggers_are_recognised():
    taxonomy = default_taxonomy()
    assert "investor_withdrawal" in taxonomy.must_investigate("审批拖了一年，我们公司决定撤资去外地。")
    assert "over_budget_schedule" in taxonomy.must_investigate("这个政府投资的市政工程严重超概算，工期也拖了两年。")
    assert "project_slow" in taxonomy.must_investigate("签约的招商项目迟迟未开工，落地慢。")
    assert taxonomy.must_investigate("小区路灯不亮，街道说归城管。") == []
