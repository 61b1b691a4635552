"""Accountability's pure rules: the transition table, measures and forms, combinations, 一案双查, 容错免责."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.accountability import domain
from services.accountability.service.cases import format_case_number


def test_lifecycle_follows_the_seed_order():
    path = [("preliminary_check", "file"), ("filed", "substantiate"), ("substantiated", "decide"),
            ("decided", "rectify"), ("rectifying", "close")]
    for state, action in path:
        assert domain.next_state(state, action) is not None, (state, action)
    assert domain.next_state("preliminary_check", "dismiss") == "dismissed"
    assert domain.next_state("filed", "clear") == "unfounded"


@pytest.mark.parametrize("state,action", [
    ("preliminary_check", "close"),  # 初核 cannot jump to 结案
    ("preliminary_check", "decide"),
    ("unfounded", "decide"),  # no decisions on an unfounded finding
    ("closed", "file"),
    ("dismissed", "substantiate"),
])
def test_transitions_not_in_the_table_are_refused(state, action):
    assert domain.next_state(state, action) is None
    assert action not in domain.allowed_actions(state)


def test_every_state_and_action_in_the_table_is_named():
    for (source, action), target in domain.TRANSITIONS.items():
        assert source in domain.STATES and target in domain.STATES and action in domain.ACTIONS


def test_light_measures_are_counted_apart_from_organizational_handling():
    names = {family: [m.name for m in domain.MEASURES if m.family == family] for family in domain.FAMILIES}
    assert names["party_discipline"] == ["警告", "严重警告", "撤销党内职务", "留党察看", "开除党籍"]
    assert names["government_sanction"] == ["警告", "记过", "记大过", "降级", "撤职", "开除"]
    # What Datong's bulletin counts as 组织处理 (R-AC-11) …
    assert names["organizational_handling"] == ["停职检查", "调整岗位", "降职", "免职", "责令辞职", "黄牌警告", "召回管理"]
    # … and the light and early measures of 003 (提醒谈话、函询、约谈和诫勉谈话), which it does not.
    assert names["education"] == ["提醒谈话", "函询", "约谈", "批评教育", "书面检查", "通报批评", "诫勉"]
    assert all(m.form in (1, 2, 3) for m in domain.MEASURES)
    assert domain.measure_form("party_expulsion", transferred_for_prosecution=True) == 4


def test_party_sanction_for_a_non_member_is_refused():
    refusal = domain.check_measure("party_probation", party_member=False, existing_codes=[], exempted=False)
    assert refusal and refusal.slug == "party-sanction-for-non-member"
    assert domain.check_measure("gov_demerit", party_member=False, existing_codes=[], exempted=False) is None


def test_one_sanction_per_family_and_none_after_expulsion_from_post():
    second = domain.check_measure("party_serious_warning", party_member=True, existing_codes=["party_warning"],
                                  exempted=False)
    assert second and second.slug == "one-sanction-per-family"
    after_expulsion = domain.check_measure("post_adjustment", party_member=True, existing_codes=["gov_expulsion"],
                                           exempted=False)
    assert after_expulsion and after_expulsion.slug == "person-no-longer-in-post"
    # Light measures and a sanction of another family combine (e.g. 警告 + 书面检查).
    assert domain.check_measure("written_self_criticism", party_member=True, existing_codes=["party_warning"],
                                exempted=False) is None


def test_exempted_person_receives_no_measure():
    refusal = domain.check_measure("admonishment", party_member=True, existing_codes=[], exempted=True)
    assert refusal and refusal.slug == "person-exempted"


def test_exemption_needs_every_required_criterion():
    full = {c: True for c in domain.EXEMPTION_CRITERIA}
    # Wenzhou's reform path: the precondition 改革创新未能实现预期目标 comes before the three conditions.
    assert domain.unmet_exemption_criteria(full) == ["reform_missed_aim"]
    full["reform_missed_aim"] = True
    assert domain.unmet_exemption_criteria(full) == []
    assert domain.unmet_exemption_criteria({**full, "no_private_gain": False}) == ["no_private_gain"]
    assert list(domain.EXEMPTION_CRITERIA.values()) == ["严格依照上级有关精神决策、实施", "勤勉尽责", "未牟私利"]
    # 轻微责任豁免 has its own conditions; the reform path's do not satisfy it.
    assert domain.unmet_exemption_criteria(full, "minor") == list(domain.MINOR_CRITERIA)
    assert domain.unmet_exemption_criteria({c: True for c in domain.MINOR_CRITERIA}, "minor") == []


def test_each_family_is_decided_by_its_body():
    commission, organization = frozenset({"commission"}), frozenset({"organization"})
    assert domain.deciding_body_refusal("party_warning", organization).slug == "not-competent-body"
    assert domain.deciding_body_refusal("gov_demerit", organization).slug == "not-competent-body"
    assert domain.deciding_body_refusal("demotion", commission).slug == "not-competent-body"
    assert domain.deciding_body_refusal("demotion", organization) is None
    assert domain.deciding_body_refusal("inquiry_letter", commission) is None  # light: either body
    assert domain.deciding_body_refusal("interview", organization) is None
    assert domain.deciding_body_refusal("party_warning", None) is None  # admin, or the audited import


def test_twelve_three_eight_o_and_personnel_selection_go_to_the_organization_department():
    from services.common.competence import competent_body

    assert competent_body(channel="hotline_12380") == "organization"
    assert competent_body(channel="qr_code", tags=["personnel_selection"]) == "organization"
    assert competent_body(channel="hotline_12388", tags=["formalism"]) == "commission"


def test_a_substantiated_must_investigate_case_needs_someone_held_to_account():
    gap = domain.must_investigate_gap
    assert gap(must_investigate=True, finding="substantiated", persons_measured=0, persons_exempted=0,
               persons_total=1)
    assert gap(must_investigate=True, finding="substantiated", persons_measured=1, persons_exempted=0,
               persons_total=2) is None
    assert gap(must_investigate=True, finding="partly_substantiated", persons_measured=0, persons_exempted=2,
               persons_total=2) is None  # everyone exempted
    assert gap(must_investigate=True, finding="unfounded", persons_measured=0, persons_exempted=0,
               persons_total=0) is None
    assert gap(must_investigate=False, finding="substantiated", persons_measured=0, persons_exempted=0,
               persons_total=1) is None


def test_four_winds_cases_are_the_fast_lane_and_age_in_buckets():
    assert domain.time_limit_days(["formalism"]) == 30 < domain.time_limit_days(["mirror_lax_discipline"])
    assert [domain.ageing_bucket(d) for d in (-5, 0, 1, 30, 31, 90, 91)] == [
        "within", "within", "overdue_1_30", "overdue_1_30", "overdue_31_90", "overdue_31_90", "overdue_90_plus"]


def test_evaluation_consequences_only_suggest_and_go_to_the_deciding_body():
    assert domain.CONSEQUENCES["yellow_card"].body == "organization"
    assert domain.CONSEQUENCES["last_ranked_unit"].suggested_measure is None
    for rule in domain.CONSEQUENCES.values():
        if rule.suggested_measure:
            family = domain.MEASURES_BY_CODE[rule.suggested_measure].family
            assert domain.FAMILY_BODY[family] in (rule.body, None)


def test_joint_examination_applies_to_serious_or_unit_cases_only():
    assert domain.joint_examination_gaps(serious=False, unit_problem=False, leaders_held=set(),
                                         leaders_cleared=set()) == []
    assert domain.joint_examination_gaps(serious=True, unit_problem=False, leaders_held={"principal_leader"},
                                         leaders_cleared=set()) == ["leader_in_charge"]
    assert domain.joint_examination_gaps(serious=False, unit_problem=True, leaders_held={"principal_leader"},
                                         leaders_cleared={"leader_in_charge"}) == []


def test_collective_decision_is_no_excuse():
    assert domain.is_collective_excuse("该事项经班子集体研究决定")
    assert not domain.is_collective_excuse("分管负责人当时在外学习，未分管该项工作")


def test_enumerations_export_measures_with_their_form():
    data = domain.enumerations()
    warning = next(m for m in data["measures"] if m["code"] == "party_warning")
    assert warning == {"code": "party_warning", "name": "警告", "family": "party_discipline", "form": 2,
                       "party_only": True}
    assert {s["code"] for s in data["scopes"]} == {"unit", "sector", "citywide"}
    assert len(data["transitions"]) == len(domain.TRANSITIONS)


def test_case_number_is_human_readable_in_city_time():
    # 2026-12-31 17:00 UTC is already 2027 in Shanghai.
    assert format_case_number(datetime(2026, 12, 31, 17, tzinfo=UTC), 42) == "AC-2027-000042"


@pytest.mark.parametrize("method,path", [
    ("POST", "/api/v1/accountability/imports"), ("POST", "/api/v1/accountability/imports/xlsx"),
    ("GET", "/api/v1/accountability/imports/template.xlsx"), ("GET", "/api/v1/accountability/proposals"),
    ("POST", "/api/v1/accountability/proposals/01a2/decision"), ("GET", "/api/v1/accountability/ageing"),
    ("GET", "/api/v1/accountability/reports/four-winds/2026-11"),
])
def test_the_gateway_admits_only_staff_to_the_new_accountability_routes(method, path):
    from gateway.policy import admit
    from services.common.auth import Principal
    from services.common.errors import Problem

    for caller, status in ((Principal(kind="public", subject="anon"), 401),
                           (Principal(kind="hotline", subject="h", line="12380"), 403),
                           (Principal(kind="service", subject="sms"), 403)):
        with pytest.raises(Problem) as refused:
            admit(caller, method, path)
        assert refused.value.status == status
    assert admit(Principal(kind="staff", subject="s", roles=frozenset({"org_officer"})), method, path).audience == "staff"
