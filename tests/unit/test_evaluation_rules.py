"""Evaluation rules without infrastructure: states, voter hashing, scoring, ranking, grades, consequences."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal
from fractions import Fraction

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
    # Every way of typing one mobile number is one voter (NFKC, then E.164 by phonenumbers).
    for variant in ["13800138000", "8613800138000", "008613800138000", "+8613800138000",
                    "１３８００１３８０００", "(138)00138000", "138 0013 8000", "＋８６　１３８００１３８０００"]:
        assert domain.voter_hash(key, "c1", variant) == a, variant
    assert a != domain.voter_hash(key, "c2", "13800138000")  # campaigns cannot be linked
    assert a != domain.voter_hash(b"x" * 32, "c1", "13800138000")  # needs the key
    assert b"13800138000" not in a and len(a) == 32
    # An openid never collides with a phone number, and garbage is no voter at all.
    assert domain.voter_hash(key, "c1", "13800138000", "wechat") != a
    for bad in ["12345", "abc", "1380013800", "+1 138 0013 8000x"]:
        with pytest.raises(domain.InvalidIdentity):
            domain.voter_hash(key, "c1", bad)


def test_identical_ballots_share_a_pattern_regardless_of_order():
    assert domain.ballot_pattern([3, 1], [5, 4]) == domain.ballot_pattern([1, 3], [4, 5])
    assert domain.ballot_pattern([1, 3], [4, 5]) != domain.ballot_pattern([1, 3], [5, 4])


def unit(uid, category="A", marks=(), entered=None, **kw):
    return UnitInputs(unit_id=uid, name=uid.upper(), category=category, citizen_marks=len(marks),
                      citizen_total=sum(marks), entered=entered or {}, **kw)


def test_composite_renormalises_weights_over_the_sources_a_unit_has():
    u = unit("u1", marks=[5, 4, 3, 4], entered={"department": 80.0})
    scores = domain.source_scores(u, RULES)
    assert scores["citizen"] == 75  # mean 4 on 1–5 → 75
    assert scores["data"] == 100  # no complaints
    weights = {"citizen": 0.4, "department": 0.2, "data": 0.2, "deputies": 0.2}
    # deputies absent: (75·0.4 + 80·0.2 + 100·0.2) / 0.8 = 82.5
    assert domain.composite(scores, weights) == Decimal("82.50")


def test_rounding_is_half_up_on_exact_decimals():
    # 0.3 × 89.75 + 0.7 × 90.10 is 89.995 exactly; in floats it is 89.99499999999999, which round() made
    # 89.99 合格. Exact 四舍五入 gives 90.00 优秀.
    assert round((0.3 * 89.75 + 0.7 * 90.1) / 1.0, 2) == 89.99
    scores = {"department": domain.exact(89.75), "deputies": domain.exact(90.1)}
    total = domain.composite(scores, {"department": 0.3, "deputies": 0.7})
    assert total == Decimal("90.00")
    assert domain.composite({"department": domain.exact(89.995)}, {"department": 1.0}) == Decimal("90.00")
    assert domain.grade_of(total, domain.DEFAULT_THRESHOLDS) == "excellent"
    assert domain.composite({"department": domain.exact(89.994999)}, {"department": 1.0}) == Decimal("89.99")
    assert domain.half_up(Fraction(1, 3) * 100) == Decimal("33.33")
    assert domain.half_up(Fraction(2, 3) * 100) == Decimal("66.67")


def test_data_score_takes_points_off_and_blends_in_reporter_ratings():
    u = unit("u1", facts={"complaint": 4, "substantiated": 1, "overdue_rectification": 2, "feedback": 2},
             feedback_sum=6)
    base = 100 - 4 * 1 - 5 - 2 * 3  # 85
    assert domain.data_score(u, RULES) == Fraction(7, 10) * base + Fraction(3, 10) * 50


def test_veto_and_caps_keep_a_unit_from_excellent_but_not_from_lower_grades():
    t = domain.DEFAULT_THRESHOLDS
    assert domain.grade_of(Decimal("95"), t, vetoed=False) == "excellent"
    assert domain.grade_of(Decimal("95"), t, vetoed=True) == "qualified"
    assert domain.grade_of(Decimal("95"), t, capped=True) == "qualified"
    assert domain.grade_of(Decimal("80"), t, vetoed=False) == "qualified"
    assert domain.grade_of(Decimal("60"), t, vetoed=False) == "basically_qualified"
    assert domain.grade_of(Decimal("59.99"), t, vetoed=True) == "unqualified"


def rank(inputs, top_n=10, categories=("A",), min_ballots=1, **kw):
    return domain.rank_units(inputs, categories=list(categories), weights={"citizen": 1.0},
                             thresholds=domain.DEFAULT_THRESHOLDS, indicator_rules=RULES, top_n=top_n,
                             min_ballots=min_ballots, **kw)


def test_ties_fall_to_more_ballots_then_unit_id():
    inputs = [unit("b", marks=[5, 3]), unit("a", marks=[4, 4]), unit("c", marks=[4, 4, 4, 4]),
              unit("d", marks=[5])]
    (cat,) = rank(inputs)
    assert [r.unit_id for r in cat["ranking"]] == ["d", "c", "a", "b"]
    assert [r.rank for r in cat["ranking"]] == [1, 2, 3, 4]


def test_a_unit_without_enough_ballots_has_no_result_and_wins_nothing():
    # Nobody rated "ghost": it used to score 100 on data alone and be 优秀 and an exemplar.
    inputs = [unit("ghost"), unit("few", marks=[5, 5]), unit("a", marks=[5, 5, 4]), unit("b", marks=[3, 3, 3])]
    (cat,) = domain.rank_units(inputs, categories=["A"], weights={"citizen": 0.5, "data": 0.5},
                               thresholds=domain.DEFAULT_THRESHOLDS, indicator_rules=RULES, min_ballots=3)
    assert [r.unit_id for r in cat["ranking"]] == ["a", "b"]
    assert [(r.unit_id, r.grade, r.score, r.rank) for r in cat["insufficient_data"]] == [
        ("few", "insufficient_data", None, None), ("ghost", "insufficient_data", None, None)]
    out = domain.consequences_of([cat], rules=domain.RULES)
    assert {c["unit_id"] for c in out} <= {"a", "b"}
    assert domain.GRADES["insufficient_data"] == "数据不足"


def test_top_and_bottom_never_overlap_in_a_small_category():
    inputs = [unit(f"u{i:02d}", marks=[1 + i % 5]) for i in range(13)]
    (cat,) = rank(inputs)
    assert len(cat["top_ten"]) == len(cat["bottom_ten"]) == 6
    assert not set(cat["top_ten"]) & set(cat["bottom_ten"])


def test_an_assessment_has_grades_but_no_top_or_bottom_lists():
    inputs = [unit(f"u{i}", entered={"department": 50.0 + 10 * i}) for i in range(5)] + [unit("none")]
    (cat,) = rank(inputs, instrument="assessment")
    assert cat["top_ten"] == cat["bottom_ten"] == []
    assert [r.unit_id for r in cat["insufficient_data"]] == ["none"]


def kinds(out):
    return {(c["kind"], c["unit_id"]) for c in out}


def test_each_campaign_applies_only_its_own_preset():
    inputs = [unit("good", marks=[5]), unit("ok", marks=[4]), unit("poor", marks=[2], key_section=True),
              unit("worst", marks=[1], key_section=True), unit("vetoed", marks=[5], vetoes=["严重案件"])]
    categories = rank(inputs)
    history = domain.History(previously_unqualified={"worst"})
    ezhou = domain.consequences_of(categories, rules=domain.PRESETS["ezhou"]["rules"], history=history)
    assert kinds(ezhou) == {("yellow_card", "poor"), ("yellow_card", "worst"), ("recall_management", "worst"),
                            ("recall_management", "vetoed")}
    jintan = domain.consequences_of(categories, rules=domain.PRESETS["jintan"]["rules"], history=history)
    assert kinds(jintan) == {("last_ranked_unit", "worst"), ("bottom_three_section", "poor"),
                             ("bottom_three_section", "worst"), ("bottom_three_section", "good")} - {
        ("bottom_three_section", "good")}
    wenzhou = domain.consequences_of(categories, rules=domain.PRESETS["wenzhou"]["rules"], history=history)
    assert kinds(wenzhou) == {("exemplar", "good")}  # vetoed scored 100 but is not 优秀, so no exemplar
    assert domain.consequences_of(categories, rules=[]) == []


def test_recall_titles_say_why_and_last_place_names_the_party_and_government_principals():
    inputs = [unit("a", marks=[5]), unit("vetoed", marks=[4], vetoes=["重大安全事故"]), unit("z", marks=[1])]
    categories = rank(inputs)
    out = {(c["kind"], c["unit_id"]): c for c in domain.consequences_of(
        categories, rules=["veto_recall", "consecutive_unqualified_recall", "last_ranked_principals"],
        history=domain.History(previously_unqualified={"z"}))}
    assert "一票否决" in out[("recall_management", "vetoed")]["title"]
    assert "连续两次" not in out[("recall_management", "vetoed")]["title"]
    assert out[("recall_management", "vetoed")]["grounds"] == ["vetoed"]
    assert out[("recall_management", "z")]["title"].startswith("连续两次测评不合格")
    assert out[("last_ranked_unit", "z")]["held_to_account"] == "党政主要负责人"


def test_key_sections_bottom_three_are_ranked_among_key_sections_only():
    # Two categories; the ordinary units rank lowest overall, yet only key sections count.
    inputs = [unit(f"k{i}", category="A" if i % 2 else "B", marks=[2 + i % 4, 3], key_section=True)
              for i in range(6)] + [unit("plain1", marks=[1]), unit("plain2", category="B", marks=[1])]
    categories = rank(inputs, categories=("A", "B"))
    sections = sorted((r for c in categories for r in c["ranking"] if r.key_section),
                      key=lambda r: r.key_section_rank)
    assert [r.key_section_rank for r in sections] == [1, 2, 3, 4, 5, 6]
    out = domain.consequences_of(categories, rules=["key_section_bottom_three"])
    assert {c["unit_id"] for c in out} == {r.unit_id for r in sections[-3:]}
    assert all("重点科室中排名第" in c["reason"] for c in out)


def test_award_loss_bars_excellence_but_is_no_veto_and_no_recall():
    inputs = [unit("lost", marks=[5], no_excellent=["2026年被取消年度综合类评先评优资格"]), unit("b", marks=[3])]
    (cat,) = rank(inputs)
    lost = cat["ranking"][0]
    assert lost.grade == "qualified" and not lost.vetoed
    out = domain.consequences_of([cat], rules=domain.RULES)
    assert ("recall_management", "lost") not in kinds(out) and ("exemplar", "lost") not in kinds(out)


def test_rectification_not_done_is_a_yellow_card_and_no_improvement_a_recall():
    overdue = {"u1": ("U1", 2), "u2": ("U2", 1), "u3": ("U3", 0)}
    out = domain.rectification_consequences(overdue, rules=domain.PRESETS["ezhou"]["rules"],
                                            history=domain.History(previous_rectification_card={"u2", "u3"}))
    assert kinds(out) == {("yellow_card", "u1"), ("yellow_card", "u2"), ("recall_management", "u2")}
    assert domain.rectification_consequences(overdue, rules=domain.PRESETS["jintan"]["rules"]) == []
    merged = domain.merge_consequences(
        [{"kind": "yellow_card", "unit_id": "u1", "unit_name": "U1", "reason": "不合格", "title": "t",
          "held_to_account": "主要负责人", "grounds": ["unqualified"]}], out)
    card = next(c for c in merged if c["unit_id"] == "u1")
    assert card["grounds"] == ["unqualified", "rectification_not_done"]


def test_rule_sets_name_their_preset_and_rules():
    rs = domain.rule_set("jintan")
    assert rs["preset_label"].startswith("金坛")
    assert [r["code"] for r in rs["rules"]] == ["last_ranked_principals", "key_section_bottom_three"]
    assert domain.rule_set("custom", ["exemplars", "exemplars"])["rules"] == [
        {"code": "exemplars", "label": domain.RULES["exemplars"]}]


def test_svg_has_a_panel_per_category_and_a_bar_per_unit():
    inputs = [unit(f"{c}{i}", category=c, marks=[1 + (i * 7) % 5, 3]) for c in "AB" for i in range(12)]
    categories = rank(inputs, categories=("A", "B"))
    results = {"name": "测试", "period": "2026", "state": "published", "thresholds": domain.DEFAULT_THRESHOLDS,
               "categories": [{"category": c["category"], "top_ten": c["top_ten"], "bottom_ten": c["bottom_ten"],
                               "ranking": [{"rank": r.rank, "unit_id": r.unit_id, "unit_name": r.name,
                                            "score": float(r.score), "grade": r.grade, "grade_label": "",
                                            "vetoed": r.vetoed, "veto_reasons": [], "ballots": r.ballots,
                                            "sources": {k: float(v) for k, v in r.sources.items()}} for r in c["ranking"]]} for c in categories]}
    svg = ET.fromstring(charts.rankings_svg(results))
    ns = "{http://www.w3.org/2000/svg}"
    titles = [t.text for t in svg.iter(f"{ns}title")]
    assert len(titles) == 24
    assert "A" in [t.text for t in svg.iter(f"{ns}text")]
    csv_text = charts.rankings_csv(results)
    assert csv_text.startswith("\ufeff评议类别,名次,单位代码,单位名称") and len(csv_text.strip().splitlines()) == 25


def test_the_fast_path_for_plain_mobile_numbers_agrees_with_phonenumbers():
    import random

    import phonenumbers

    rng = random.Random(17)
    for _ in range(3000):
        digits = "1" + "".join(rng.choice("0123456789") for _ in range(10))
        for form in (digits, "+86" + digits):
            try:
                ours = domain.normalise_phone(form)
            except domain.InvalidIdentity:
                ours = None
            number = phonenumbers.parse(form, "CN")
            theirs = (phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                      if phonenumbers.is_valid_number(number) else None)
            assert ours == theirs, form
