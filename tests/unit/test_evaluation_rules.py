"""Evaluation rules without infrastructure: states, voter hashing, scoring, ranking, grades, consequences."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

import pytest

from services.evaluation import charts, domain
from services.evaluation.domain import UnitInputs

RULES = domain.DEFAULT_INDICATOR_RULES


def test_campaign_moves_only_forward_and_a_closed_campaign_never_reopens():
    assert domain.next_state("draft", "open") == "open"
    assert domain.next_state("open", "close") == "closed"
    assert domain.next_state("closed", "publish") == "published"
    for state, action in [("closed", "open"), ("draft", "close"), ("draft", "publish"), ("published", "close"),
                          ("open", "publish"), ("published", "open")]:
        with pytest.raises(domain.TransitionError):
            domain.next_state(state, action)


def test_quarter_periods_cover_the_year_without_gaps():
    assert domain.period_of(2026, None) == ("2026", date(2026, 1, 1), date(2027, 1, 1))
    assert domain.period_of(2026, 3) == ("2026-Q3", date(2026, 7, 1), date(2026, 10, 1))
    assert domain.period_of(2026, 4)[2] == date(2027, 1, 1)


def test_voter_hash_is_keyed_normalised_and_campaign_scoped():
    key = b"k" * 32
    a = domain.voter_hash(key, "c1", "+86 138-0013-8000")
    assert a == domain.voter_hash(key, "c1", "13800138000")
    assert a != domain.voter_hash(key, "c2", "13800138000")  # campaigns cannot be linked
    assert a != domain.voter_hash(b"x" * 32, "c1", "13800138000")  # needs the key
    assert b"13800138000" not in a and len(a) == 32


def test_identical_ballots_share_a_pattern_regardless_of_order():
    assert domain.ballot_pattern([3, 1], [5, 4]) == domain.ballot_pattern([1, 3], [4, 5])
    assert domain.ballot_pattern([1, 3], [4, 5]) != domain.ballot_pattern([1, 3], [5, 4])


def unit(uid, category="A", marks=(), entered=None, **kw):
    return UnitInputs(unit_id=uid, name=uid.upper(), category=category, citizen_marks=len(marks),
                      citizen_total=sum(marks), entered=entered or {}, **kw)


def test_composite_renormalises_weights_over_the_sources_a_unit_has():
    u = unit("u1", marks=[5, 4, 3, 4], entered={"department": 80.0})
    scores = domain.source_scores(u, RULES)
    assert scores["citizen"] == 75.0  # mean 4 on 1–5 → 75
    assert scores["data"] == 100.0  # no complaints
    weights = {"citizen": 0.4, "department": 0.2, "data": 0.2, "deputies": 0.2}
    # deputies absent: (75·0.4 + 80·0.2 + 100·0.2) / 0.8
    assert domain.composite(scores, weights) == round((30 + 16 + 20) / 0.8, 2)


def test_data_score_takes_points_off_and_blends_in_reporter_ratings():
    u = unit("u1", facts={"complaint": 4, "substantiated": 1, "overdue_rectification": 2, "feedback": 2},
             feedback_sum=6)
    base = 100 - 4 * 1 - 5 - 2 * 3  # 85
    assert domain.data_score(u, RULES) == pytest.approx(0.7 * base + 0.3 * 50)


def test_veto_keeps_a_unit_from_excellent_but_not_from_lower_grades():
    t = domain.DEFAULT_THRESHOLDS
    assert domain.grade_of(95, t, vetoed=False) == "excellent"
    assert domain.grade_of(95, t, vetoed=True) == "qualified"
    assert domain.grade_of(80, t, vetoed=False) == "qualified"
    assert domain.grade_of(60, t, vetoed=False) == "basically_qualified"
    assert domain.grade_of(59.99, t, vetoed=True) == "unqualified"


def rank(inputs, top_n=10, categories=("A",)):
    return domain.rank_units(inputs, categories=list(categories), weights={"citizen": 1.0},
                             thresholds=domain.DEFAULT_THRESHOLDS, indicator_rules=RULES, top_n=top_n)


def test_ties_fall_to_more_ballots_then_unit_id():
    inputs = [unit("b", marks=[5, 3]), unit("a", marks=[4, 4]), unit("c", marks=[4, 4, 4, 4]),
              unit("d", marks=[5])]
    (cat,) = rank(inputs)
    assert [r.unit_id for r in cat["ranking"]] == ["d", "c", "a", "b"]
    assert [r.rank for r in cat["ranking"]] == [1, 2, 3, 4]


def test_top_and_bottom_never_overlap_in_a_small_category():
    inputs = [unit(f"u{i:02d}", marks=[1 + i % 5]) for i in range(13)]
    (cat,) = rank(inputs)
    assert len(cat["top_ten"]) == len(cat["bottom_ten"]) == 6
    assert not set(cat["top_ten"]) & set(cat["bottom_ten"])


def test_consequences_follow_grades_ranks_and_history():
    inputs = [unit("good", marks=[5]), unit("ok", marks=[4]), unit("poor", marks=[2], key_section=True),
              unit("worst", marks=[1], key_section=True), unit("vetoed", marks=[5], vetoes=["严重案件"])]
    categories = rank(inputs)
    out = domain.consequences_of(categories, previously_unqualified={"worst"}, exemplars_per_category=3)
    kinds = {(c["kind"], c["unit_id"]) for c in out}
    assert ("yellow_card", "poor") in kinds and ("yellow_card", "worst") in kinds
    assert ("recall_management", "worst") in kinds and ("recall_management", "poor") not in kinds
    assert ("recall_management", "vetoed") in kinds
    assert ("last_ranked_unit", "worst") in kinds
    assert ("bottom_three_section", "poor") in kinds and ("bottom_three_section", "worst") in kinds
    assert {u for k, u in kinds if k == "exemplar"} == {"good"}  # vetoed scored 100 but is no exemplar


def test_svg_has_a_panel_per_category_and_a_bar_per_unit():
    inputs = [unit(f"{c}{i}", category=c, marks=[1 + (i * 7) % 5, 3]) for c in "AB" for i in range(12)]
    categories = rank(inputs, categories=("A", "B"))
    results = {"name": "测试", "period": "2026", "state": "published", "thresholds": domain.DEFAULT_THRESHOLDS,
               "categories": [{"category": c["category"], "top_ten": c["top_ten"], "bottom_ten": c["bottom_ten"],
                               "ranking": [{"rank": r.rank, "unit_id": r.unit_id, "unit_name": r.name,
                                            "score": r.score, "grade": r.grade, "grade_label": "",
                                            "vetoed": r.vetoed, "veto_reasons": [], "ballots": r.ballots,
                                            "sources": r.sources} for r in c["ranking"]]} for c in categories]}
    svg = ET.fromstring(charts.rankings_svg(results))
    ns = "{http://www.w3.org/2000/svg}"
    titles = [t.text for t in svg.iter(f"{ns}title")]
    assert len(titles) == 24
    assert "A" in [t.text for t in svg.iter(f"{ns}text")]
    csv_text = charts.rankings_csv(results)
    assert csv_text.startswith("\ufeff评议类别,名次,单位代码,单位名称") and len(csv_text.strip().splitlines()) == 25
