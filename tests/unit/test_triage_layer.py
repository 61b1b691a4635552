"""The rule layers beside the learned classifier: 五必查 phrases and numbers, 涉企 markers, who did what."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from services.common.calendar import default_calendar
from services.triage.classifier import Verdict
from services.triage.must_investigate import (
    amounts,
    default_layer,
    durations_in_months,
    numeric_over_budget_schedule,
    parse_number,
)
from services.triage.screen import NON_CONDUCT_REASON, ClueInput, Outcome, decide, deadline_for, Deadlines
from services.triage.taxonomy import default_taxonomy
from services.triage.units import DEMO_UNITS_FILE, Directory, load_routing_rules, read_directory_file

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def codes(text: str) -> set[str]:
    return {hit.code for hit in default_layer().hits(text)}


@pytest.mark.parametrize("token, value", [
    ("3000", 3000), ("1,200", 1200), ("3.5", 3.5), ("两", 2), ("十五", 15), ("一千二百", 1200), ("三点五", 3.5),
    ("二十", 20), ("一百零五", 105)])
def test_numbers_are_read_in_digits_and_in_chinese(token, value):
    assert parse_number(token) == value


def test_amounts_and_durations_carry_their_units():
    assert amounts("预算3000万，结算1.2亿元") == [3e7, 1.2e8]
    assert [v for _, v in durations_in_months("计划两年半完工，已经拖了18个月")] == [30, 18]
    assert durations_in_months("2023年开工") == []  # a calendar year is not a duration


@pytest.mark.parametrize("text", [
    "这个政府投资的道路改造工程，预算3000万，现在结算要6500万。",
    "市政管网工程概算八千万元，实际花了一亿二千万元。",
    "财政出资的学校建设项目原计划两年完工，现在已经四年了还没完工。",
    "区里的民生工程合同工期十个月，结果干了两年多。",
    "政府投资的体育馆项目拖了一年半还没交付。",
])
def test_double_overrun_is_found_by_its_numbers_in_a_government_investment_context(text):
    assert "over_budget_schedule" in codes(text)


@pytest.mark.parametrize("text", [
    "我家装修预算3万，最后花了5万。",  # no government investment
    "政府投资的道路工程预算3000万，结算2900万，按期完工。",  # within budget
    "市政道路计划两年完工，一年半就完工了。",  # early
])
def test_numbers_without_an_overrun_or_without_public_money_are_not_double_overrun(text):
    assert "over_budget_schedule" not in codes(text)


def test_the_numeric_reading_quotes_the_sentence_that_shows_the_overrun():
    assert numeric_over_budget_schedule("项目很好。预算3000万，结算6500万。") == "预算3000万，结算6500万"
    assert numeric_over_budget_schedule("预算3000万，结算2900万。") is None


@pytest.mark.parametrize("text", [
    "招商引资落户的公司说审批拖了一年，决定把厂转到外地去。",
    "签约的投资方寒心了，说这个项目不做了。",
    "园区引进的项目因为手续办不下来，投资商已经终止项目。",
])
def test_withdrawal_paraphrases_are_investor_withdrawal(text):
    assert "investor_withdrawal" in codes(text)


def test_a_property_management_company_leaving_an_estate_is_not_an_investor_withdrawing():
    assert "investor_withdrawal" not in codes("小区物业公司不干了，已经撤走了，投资建的门禁也没人管。")


@pytest.mark.parametrize("text, code", [
    ("消防验收报上去三个月了，一直没消息。", "approval_complaint"),
    ("年审的时候工作人员故意刁难，让我们来回跑了五趟。", "approval_complaint"),
    ("施工许可证的批复压在科长那里半年不签。", "approval_complaint"),
    ("招商项目的环评审批迟迟不批，企业很着急。", "investment_approval_service"),
    ("签约的招商项目迟迟未开工，厂房卡在那里动不了工。", "project_slow"),
])
def test_broad_approval_nouns_and_plain_words_for_a_held_up_file(text, code):
    assert code in codes(text)


def test_an_ordinary_complaint_meets_no_trigger():
    assert codes("小区路灯不亮，街道说归城管，城管说归供电，踢皮球。") == set()


def test_enterprise_markers():
    assert "个体户" in default_layer().enterprise_marker("我是个体户，办执照时被刁难。")
    assert default_layer().enterprise_marker("路灯不亮。") == []


# -- screening rules around the classifier --------------------------------------------------------------


def directory() -> Directory:
    return Directory.build([r.row() for r in read_directory_file(DEMO_UNITS_FILE)], load_routing_rules())


def outcome(text: str, *, conduct: bool = True, family: str = "slow_action", type_code: str = "buck_passing",
            confidence: float = 0.9, triggers=(), candidates=(), enterprise: bool = False, markers=(),
            unit: str | None = None, why: str = "named") -> Outcome:
    verdict = Verdict(family=family if conduct else None, type_code=type_code if conduct else None, tags=(),
                      confidence=confidence, evidence=(), conduct=conduct, triggers=tuple(triggers),
                      trigger_candidates=tuple(candidates), enterprise=enterprise, enterprise_markers=tuple(markers))
    clue = ClueInput(id=uuid.uuid4(), tracking_number="ZF-1", channel="hotline_12345", subject=None, text=text,
                     unit_id=None, enterprise_related=enterprise, received_at=T0)
    return Outcome(clue=clue, classification=verdict, triggers=list(triggers), enterprise=enterprise,
                   routed_unit_id=unit, route_reason=why)


def screen(o: Outcome):
    return decide(o, taxonomy=default_taxonomy(), primary_tracking=None, review_threshold=0.5,
                  directory=directory())


def test_a_complaint_about_a_station_goes_to_its_supervising_agency_not_to_the_station():
    o = outcome("南关街道便民服务中心窗口人员推诿扯皮。", unit="dt-pc-ng-bm")
    state, decision, reason = screen(o)
    assert decision == "transfer" and o.routed_unit_id == "dt-pc-ng" and o.route_reason == "accused:dt-pc-ng-bm"
    assert "主管部门" in reason


def test_a_complaint_about_an_agency_is_never_handed_to_that_agency():
    o = outcome("城管执法队员殴打摊贩。", unit="dt-cgj")
    state, decision, reason = screen(o)
    assert decision == "accept" and o.routed_unit_id == "dt-cgj"  # kept by the office, not transferred


def test_the_handler_of_a_unit_is_its_parent_agency_never_a_region():
    d = directory()
    assert d.handler_for("dt-pc-ng-bm") == "dt-pc-ng"
    assert d.handler_for("dt-cgj") is None  # parent is the city (a region): the office keeps it
    assert d.handler_for("no-such-unit") is None


def test_a_must_investigate_clue_is_never_set_aside_or_transferred():
    for conduct in (True, False):
        o = outcome("请问", conduct=conduct, triggers=["approval_complaint"], unit="dt-pc-ng-bm")
        state, decision, reason = screen(o)
        assert decision not in ("set_aside", "transfer")
        assert (state, decision) == (("triaged", "accept") if conduct else ("review", None))


def test_a_layer_candidate_alone_stays_with_the_office():
    state, decision, reason = screen(outcome("消防验收一直没消息。", candidates=["approval_complaint"],
                                             unit="dt-pc-ng-bm"))
    assert (state, decision) == ("triaged", "accept") and "疑似五必查" in reason
    state, decision, reason = screen(outcome("消防验收一直没消息。", candidates=["approval_complaint"],
                                             unit="dt-pc-ng-bm", confidence=0.1))
    assert (state, decision) == ("review", None) and "疑似五必查" in reason
    state, decision, reason = screen(outcome("消防验收怎么办？", conduct=False, candidates=["approval_complaint"]))
    assert (state, decision) == ("review", None)


def test_enterprise_clues_are_never_auto_transferred_or_set_aside():
    state, decision, _ = screen(outcome("公司办证窗口推诿。", enterprise=True, unit="dt-pc-ng-bm"))
    assert decision == "accept"
    state, decision, _ = screen(outcome("请问公司注册要带什么材料？", conduct=False, markers=["公司"]))
    assert (state, decision) == ("review", None)
    assert deadline_for("accept", enterprise=True, run_date=date(2026, 11, 20), deadlines=Deadlines(),
                        calendar=default_calendar()) < deadline_for(
        "accept", enterprise=False, run_date=date(2026, 11, 20), deadlines=Deadlines(), calendar=default_calendar())


def test_a_text_that_is_no_conduct_complaint_is_set_aside_with_a_true_reason():
    state, decision, reason = screen(outcome("请问身份证丢了怎么补办？", conduct=False))
    assert decision == "set_aside" and reason == NON_CONDUCT_REASON
    assert "12345" not in reason and "转" not in reason  # nothing is forwarded, so nothing says so


def test_low_confidence_goes_to_the_human_queue():
    state, decision, reason = screen(outcome("镇政府周五下午没人。", confidence=0.2, unit="dt-pc-ng-bm"))
    assert (state, decision) == ("review", None)
