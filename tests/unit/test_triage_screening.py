"""Screening rules, duplicates, routing and the directory file, without infrastructure."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from services.common.calendar import default_calendar
from services.common.errors import Problem
from services.triage import dedupe
from services.triage.daily_run import cutoff_at, last_cutoff_date, next_cutoff, run_date_of
from services.triage.screen import (
    NON_CONDUCT_REASON, ClueInput, Reference, can_move, daily_sheet, decide, triage_batch,
)
from services.triage.taxonomy import default_taxonomy
from services.triage.units import DEMO_UNITS_FILE, Directory, load_routing_rules, parse_directory, read_directory_file

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
RUN = date(2026, 11, 20)  # a Friday


def directory() -> Directory:
    return Directory.build([r.row() for r in read_directory_file(DEMO_UNITS_FILE)], load_routing_rules())


def clue(text: str, *, channel: str = "hotline_12345", unit_id: str | None = None, subject: str | None = None,
         enterprise: bool = False, at: datetime = T0) -> ClueInput:
    return ClueInput(id=uuid.uuid4(), tracking_number=f"ZF-{uuid.uuid4().hex[:8]}", channel=channel,
                     subject=subject, text=text, unit_id=unit_id, enterprise_related=enterprise, received_at=at)


def run(clues, references=()):
    return triage_batch(clues, list(references), taxonomy=default_taxonomy(), directory=directory(),
                        calendar=default_calendar(), run_date=RUN)


def test_the_same_complaint_from_two_channels_is_merged_and_keeps_both_sources():
    first = clue("南关街道便民服务中心窗口人员推诿扯皮，这个说归那个管，那个说归这个管，材料齐全仍要求反复跑腿。",
                 channel="hotline_12345")
    second = clue("南关街道便民服务中心窗口人员推诿扯皮，这个说归那个管，那个说归这个管，材料齐全还要求我反复跑腿！",
                  channel="qr_code",
                  at=T0 + timedelta(hours=2))
    other = clue("小区路灯不亮，街道说归城管，城管说归供电，踢皮球。")
    outcomes, _ = run([first, second, other])
    assert outcomes[1].decision == "merge" and outcomes[1].merged_into == first.id
    assert [s["channel"] for s in outcomes[0].sources] == ["qr_code"]
    assert outcomes[0].decision == "transfer" and outcomes[2].decision != "merge"


def test_a_duplicate_of_an_earlier_days_clue_merges_into_it():
    earlier = Reference(id=uuid.uuid4(), tracking_number="ZF-OLD", subject=None, received_at=T0 - timedelta(days=2),
                        text="不动产证办了三个月还没办好，每次去都说在走流程，一拖再拖。")
    outcomes, ref_sources = run([clue("不动产证办了三个月还没办好，每次去都说在走流程，一拖再拖，请督办。")], [earlier])
    assert outcomes[0].decision == "merge" and outcomes[0].merged_into == earlier.id
    assert ref_sources[earlier.id][0]["tracking_number"] == outcomes[0].clue.tracking_number


def test_clues_outside_the_duplicate_window_are_not_merged():
    old = Reference(id=uuid.uuid4(), tracking_number="ZF-OLD", subject=None, received_at=T0 - timedelta(days=30),
                    text="不动产证办了三个月还没办好，每次去都说在走流程，一拖再拖。")
    outcomes, _ = run([clue("不动产证办了三个月还没办好，每次去都说在走流程，一拖再拖。")], [old])
    assert outcomes[0].decision != "merge"


def test_a_must_investigate_clue_is_accepted_even_when_it_would_be_set_aside():
    outcomes, _ = run([clue("请问投资项目审批为什么迟迟不批，我们准备撤资。")])
    o = outcomes[0]
    assert o.decision == "accept" and o.reason.startswith(("五必查", "疑似五必查"))
    assert "investor_withdrawal" in o.triggers
    assert "investment_approval_service" in set(o.triggers) | set(o.classification.trigger_candidates)


def test_consultation_is_set_aside_with_a_true_reason():
    outcomes, _ = run([clue("请问身份证丢了怎么办理补办，需要带什么材料？")])
    assert outcomes[0].decision == "set_aside" and outcomes[0].reason == NON_CONDUCT_REASON


def test_a_conduct_complaint_that_mentions_a_neighbour_or_a_question_is_not_set_aside():
    # 请问 and 邻居 are the citizen's words, not a judgement that there is no conduct complaint
    outcomes, _ = run([clue("请问为什么我和邻居去社保大厅办事，工作人员上班时间一直玩手机不理人？")])
    assert outcomes[0].classification.conduct and outcomes[0].decision != "set_aside"


def test_enterprise_complaints_stay_with_the_office_on_the_fast_lane():
    text = "申请的稳岗返还过了半年还没到账，社保中心说政策落实不到位，一拖再拖。"
    plain, firm = run([clue(text), clue(text + "我们是一家小微企业。", at=T0 + timedelta(days=9))])[0]
    assert plain.decision == "transfer" and plain.deadline == default_calendar().add_working_days(RUN, 5)
    assert firm.enterprise and firm.decision == "accept"  # 涉企: never auto-transferred
    assert firm.deadline == default_calendar().add_working_days(RUN, 5) < default_calendar().add_working_days(RUN, 10)


def test_misconduct_is_accepted_by_the_office_rather_than_transferred():
    outcomes, _ = run([clue("南关市场监管所执法人员向商户索要好处费，不给就故意刁难。")])
    assert outcomes[0].classification.family == "misconduct" and outcomes[0].decision == "accept"
    assert outcomes[0].routed_unit_id == "dt-pc-scjg-ng"


def test_routing_prefers_the_poster_unit_then_a_named_unit_then_category_rules():
    d = directory()
    assert d.route(text="社保大厅推诿", subject=None, pre_routed="dt-yg-kq-bm") == ("dt-yg-kq-bm", "poster")
    assert d.route(text="市社会保险中心工作人员推诿", subject=None, pre_routed=None) == ("dt-rsj-sb", "named")
    assert d.route(text="养老金核定一拖再拖", subject=None, pre_routed=None) == ("dt-rsj-sb", "rule")
    assert d.route(text="说不清是哪里的问题", subject=None, pre_routed=None) == (None, "unrouted")


DISTRICTS_YAML = """
regions:
  - id: c
    name: 大同市市直
    agencies:
      - {id: c-cgj, name: 大同市城市管理局, aliases: [城管局, 城管]}
  - id: a
    name: 平城区
    aliases: [平城]
    agencies:
      - {id: a-cgj, name: 平城区城市管理局, aliases: [城管局, 城管], sections: [
           {id: a-cgj-zd, name: 平城区城管执法中队, aliases: [执法中队]}]}
      - {id: a-ng, name: 南关街道办事处, aliases: [南关]}
  - id: b
    name: 云冈区
    agencies:
      - {id: b-cgj, name: 云冈区城市管理局, aliases: [城管局, 城管], sections: [
           {id: b-cgj-zd, name: 云冈区城管执法中队, aliases: [执法中队]}]}
      - {id: b-kq, name: 口泉乡人民政府, aliases: [口泉乡]}
"""


def test_a_unit_name_several_districts_share_routes_within_the_clues_region():
    d = Directory.build([r.row() for r in parse_directory(DISTRICTS_YAML, fmt="yaml")])
    # the district named in the text, by its own name or by a unit only it has
    assert d.route(text="云冈区城管局的人把我的摊子收走了", subject=None, pre_routed=None) == ("b-cgj", "named")
    assert d.route(text="我在口泉乡摆摊，城管局的人态度恶劣", subject=None, pre_routed=None) == ("b-cgj", "named")
    assert d.route(text="我家在南关，城管局天天来罚款", subject=None, pre_routed=None) == ("a-cgj", "named")
    assert d.route(text="执法中队的人推搡老人", subject=None, pre_routed=None,
                   place="平城区南关街道") == ("a-cgj-zd", "named")
    # the place the clue gives wins over a district the text merely mentions
    assert d.route(text="城管局说这事归云冈区管，推来推去", subject=None, pre_routed=None,
                   place="平城区新建北路") == ("a-cgj", "named")
    # the subject places it too
    assert d.route(text="城管局执法不出示证件", subject="云冈区城管", pre_routed=None) == ("b-cgj", "named")
    # nothing says where: the first unit of that name in the directory (the city's own)
    assert d.route(text="城管局执法不出示证件", subject=None, pre_routed=None) == ("c-cgj", "named")
    # two districts named and no place: not guessed from either district, the city's unit
    assert d.route(text="平城区和云冈区的城管局互相推", subject=None, pre_routed=None) == ("c-cgj", "named")
    # a full name needs no region
    assert d.route(text="平城区城市管理局不作为", subject=None, pre_routed=None,
                   place="云冈区") == ("a-cgj", "named")


def test_routing_a_clue_through_the_batch_uses_its_place():
    d = Directory.build([r.row() for r in parse_directory(DISTRICTS_YAML, fmt="yaml")])
    c = dataclasses.replace(clue("城管局的执法人员掀了我的菜摊，还推了我一把。"), place="云冈区口泉乡")
    outcomes, _ = triage_batch([c], [], taxonomy=default_taxonomy(), directory=d, calendar=default_calendar(),
                               run_date=RUN)
    assert outcomes[0].routed_unit_id == "b-cgj"


def test_the_daily_sheet_counts_every_clue_once_per_dimension():
    outcomes, _ = run([clue("南关街道便民服务中心推诿扯皮，让我反复跑。"), clue("请问怎么办理居住证？")])
    sheet = daily_sheet(outcomes)
    for dim in ("by_channel", "by_type", "by_unit", "by_decision"):
        assert sum(e["count"] for e in sheet[dim]) == 2


def test_the_batch_is_reproducible():
    batch = [clue("不动产证办了三个月还没办好，一拖再拖。"), clue("不动产证办了三个月还没办好，一拖再拖！"),
             clue("窗口人员上班时间玩手机。")]
    first, second = run(batch)[0], run(batch)[0]
    assert [(o.decision, o.merged_into, o.deadline, o.reason) for o in first] == \
           [(o.decision, o.merged_into, o.deadline, o.reason) for o in second]


def test_dedupe_is_linear_in_candidates_not_quadratic():
    items = [dedupe.DedupeItem(f"第{i}号线索：某单位工作人员{i * 7919 % 10007}事项办理情况{i}", None, T0)
             for i in range(5000)]
    roots = dedupe.cluster(items)
    assert len(roots) == 5000 and all(r <= i for i, r in enumerate(roots))


def test_state_machine_allows_only_listed_moves():
    assert can_move("pending", "review") and can_move("review", "triaged")
    assert not can_move("triaged", "pending") and not can_move("review", "pending")


def test_the_cut_off_is_in_shanghai_time():
    assert cutoff_at(RUN, "17:30") == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    assert next_cutoff(datetime(2026, 11, 20, 10, 0, tzinfo=UTC), "17:30").date() == date(2026, 11, 21)


def test_a_clue_belongs_to_the_day_whose_cut_off_comes_next_and_the_catch_up_looks_at_the_last_one():
    before, at, after = (datetime(2026, 11, 20, 9, m, tzinfo=UTC) for m in (29, 30, 31))  # 17:29/30/31 local
    assert [run_date_of(t, "17:30") for t in (before, at, after)] == [RUN, RUN, date(2026, 11, 21)]
    assert last_cutoff_date(before, "17:30") == date(2026, 11, 19)  # early morning: yesterday's cut-off
    assert last_cutoff_date(at, "17:30") == RUN


def test_the_demo_directory_has_all_four_evaluation_categories():
    records = read_directory_file(DEMO_UNITS_FILE)
    assert {r.category for r in records if r.category} == {"机关科室", "基层站所", "科教文卫事业单位", "公共服务企业"}
    assert {r.level for r in records} == {"region", "agency", "section"}


def test_a_directory_csv_with_an_unknown_parent_is_refused():
    content = "id,name,level,parent_id\nu1,某局,agency,nowhere\n"
    with pytest.raises(Problem) as caught:
        parse_directory(content, fmt="csv")
    assert caught.value.status == 422


def test_12380_and_personnel_clues_stay_with_the_organization_department_instead_of_a_transfer():
    text = "市社会保险中心养老金核定一拖再拖，工作人员推诿扯皮，材料齐全仍要求反复跑腿。"
    hotline, organization = run([clue(text), clue(text + "（12380）", channel="hotline_12380",
                                                   at=T0 + timedelta(days=9))])[0]
    assert hotline.decision == "transfer"
    # R-AC-10: the organization department's line is never auto-transferred to a unit; it stays for its queue.
    assert organization.decision == "accept" and "市委组织部" in organization.reason
    assert organization.routed_unit_id == "dt-rsj-sb"  # the unit complained about, for the case
    # A 选人用人 problem (the tag) from any channel: the same, decided on the screening rules themselves.
    o = hotline
    o.classification = dataclasses.replace(o.classification, tags=(*o.classification.tags, "personnel_selection"))
    o.routed_unit_id = "dt-rsj-sb"
    state, decision, reason = decide(o, taxonomy=default_taxonomy(), primary_tracking=None, review_threshold=0.0,
                                     directory=directory())
    assert (state, decision) == ("triaged", "accept") and "市委组织部" in reason


def test_the_daily_run_chunks_keep_each_duplicate_cluster_whole_with_the_same_primaries():
    from services.triage.daily_run import chunks_of

    # two references (0, 1), then eight clues (2..9): c→a, e→reference 0, f→b, h→d
    primaries = [0, 1, 2, 3, 2, 5, 0, 3, 8, 5]
    clues = list("abcdefgh")
    chunks = list(chunks_of(clues, primaries, 2, 2))
    assert sorted(c for chunk, _ in chunks for c in chunk) == clues
    for chunk, mapped in chunks:
        for position, clue in enumerate(chunk):
            root = primaries[2 + clues.index(clue)]
            got = mapped[2 + position]
            # a reference stays the reference; an in-run primary is in the same chunk
            assert (got == root) if root < 2 else (chunk[got - 2] == clues[root - 2])
