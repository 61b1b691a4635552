"""R-AC-7: the statistics reproduce Datong's bulletin to 2017-12 from generated cases.

截至2017年12月底，全市共查处不作为、慢作为、乱作为问题483起，处理704人，给予党政纪处分95人，组织处理189人，
对12名县处级干部问责处理。 (seeds/002)

The cases go through the service layer (the same functions the routes call), with noise the counts must
ignore: unfounded cases, cases found after the period, exempted persons, a person recorded twice."""

from __future__ import annotations

import secrets
from datetime import date, timedelta

from services.accountability.service import cases, persons
from services.common.db import session_scope

from .test_accountability_cases import call

TYPES = ["slow_passive_inefficient", "slow_indifferent", "inaction_lax", "misconduct_procedure",
         "slow_passing_the_buck"]
DISCIPLINE = ["party_warning", "gov_demerit", "party_serious_warning", "gov_warning", "party_probation",
              "gov_demotion"]
# 组织处理 as the bulletin counts it; the light measures (提醒谈话, 函询, 约谈, 诫勉…) are counted apart.
ORGANIZATIONAL = ["post_adjustment", "demotion", "suspension_for_review", "removal_from_office", "yellow_card",
                  "ordered_resignation"]
LIGHT = ["reminder_talk", "inquiry_letter", "interview", "admonishment", "written_self_criticism",
         "circulated_criticism", "criticism_education"]


async def generate_datong(session, outbox, region: str) -> None:
    start = date(2017, 8, 15)

    async def a_case(n: int, finding: str, on: date) -> str:
        case_id = await cases.open_case(session, outbox, actor="generator", title=f"问题{n}", source="officer",
                                        region=region, problem_family="slow_action",
                                        problem_type=TYPES[n % len(TYPES)])
        await cases.transition_case(session, outbox, case_id=case_id, action="file", actor="generator")
        return case_id, finding, on

    async def find(case):
        case_id, finding, on = case
        await cases.record_finding(session, outbox, case_id=case_id, finding=finding, summary="查实",
                                   outcome_summary="已处理", actor="generator", concluded_on=on)

    async def person(case_id, i: int, *, rank: str, responsibility: str | None = "direct") -> str:
        return await persons.add_person(
            session, case_id=case_id, actor="generator", name=f"干部{i:04d}", post="科员", unit_id=f"{region}-U{i % 50}",
            rank=rank, party_member=True, responsibility=responsibility, leader_role=None)

    counted = [await a_case(n, "substantiated" if n % 3 else "partly_substantiated",
                            start + timedelta(days=n % 138)) for n in range(483)]
    holders: dict[int, object] = {}
    for i in range(704):  # 704 distinct persons; the first 483 one per case, the rest spread over them
        case_id = counted[i if i < 483 else i % 483][0]
        rank = "county" if i % 59 == 0 else ("township" if i % 3 else "general")
        holders[i] = (case_id, await person(case_id, i, rank=rank))
    for j in range(10):  # the same ten persons again in another case: still ten persons, not twenty
        await person(counted[400 + j][0], j, rank="county" if j == 0 else "township")
    for n in range(5):  # exempted (容错免责): not counted as handled
        exempted = await person(counted[n][0], 9000 + n, rank="county")
        holders[9000 + n] = (counted[n][0], exempted)
    for n in range(3):  # recorded during the check, no responsibility, no measure: not handled
        await person(counted[n][0], 9100 + n, rank="county", responsibility=None)
    for case in counted:
        await find(case)
    for n in range(5):
        case_id, person_id = holders[9000 + n]
        await persons.record_exemption(
            session, outbox, case_id=case_id, person_id=person_id, kind="exempt", actor="generator",
            criteria={"reform_missed_aim": True, "acted_under_policy": True, "diligent": True, "no_private_gain": True},
            reasons="依照部署先行先试", benchmark=False, benchmark_title=None, benchmark_summary=None)
    for i in range(95):  # 给予党政纪处分 95人
        case_id, person_id = holders[i]
        await persons.record_measure(session, case_id=case_id, person_id=person_id, code=DISCIPLINE[i % 6],
                                     transferred_for_prosecution=i == 7, note=None, actor="generator")
    for i in range(65, 254):  # 组织处理 189人, thirty of whom were also disciplined
        case_id, person_id = holders[i]
        await persons.record_measure(session, case_id=case_id, person_id=person_id, code=ORGANIZATIONAL[i % 6],
                                     transferred_for_prosecution=False, note=None, actor="generator")
    for i in range(200, 500):  # 提醒谈话、函询、约谈、诫勉… for 300 persons: not 组织处理 (R-AC-11)
        case_id, person_id = holders[i]
        await persons.record_measure(session, case_id=case_id, person_id=person_id, code=LIGHT[i % 7],
                                     transferred_for_prosecution=False, note=None, actor="generator")

    # Outside the bulletin: unfounded cases in the period, substantiated ones found in January 2018.
    for n in range(20):
        case = await a_case(1000 + n, "unfounded", date(2017, 11, 1))
        await person(case[0], 10000 + n, rank="county")
        await find(case)
    for n in range(7):  # evaluation-origin cases in the period: counted apart (filter by origin)
        case_id = await cases.open_case(session, outbox, actor="generator", title=f"测评{n}", source="evaluation",
                                        region=region, problem_family="slow_action", problem_type=TYPES[0])
        await cases.transition_case(session, outbox, case_id=case_id, action="file", actor="generator")
        pid = await person(case_id, 30000 + n, rank="township")
        await find((case_id, "substantiated", date(2017, 12, 20)))
        await persons.record_measure(session, case_id=case_id, person_id=pid, code="yellow_card",
                                     transferred_for_prosecution=False, note=None, actor="generator")
    for n in range(10):
        case = await a_case(2000 + n, "substantiated", date(2018, 1, 5))
        pid = await person(case[0], 20000 + n, rank="county")
        await find(case)
        await persons.record_measure(session, case_id=case[0], person_id=pid, code="party_warning",
                                     transferred_for_prosecution=False, note=None, actor="generator")


async def test_statistics_reproduce_datongs_bulletin_exactly(suite, ids):
    region = f"大同-{secrets.token_hex(3)}"
    app = suite.apps["accountability"]
    async with session_scope(app.state.sessions) as session:
        await generate_datong(session, app.state.outbox, region)

    auditor = ids.bearer("auditor")
    bulletin = await call(suite, "GET", "/stats", auditor,
                          params={"from": "2017-01-01", "to": "2017-12-31", "region": region, "origin": "officer"})
    assert (bulletin["problems"], bulletin["persons"], bulletin["disciplined"],
            bulletin["organizational_handling"], bulletin["county_level"]) == (483, 704, 95, 189, 12)
    assert bulletin["education"] == 300  # counted, but apart
    evaluation = await call(suite, "GET", "/stats", auditor,
                            params={"from": "2017-01-01", "to": "2017-12-31", "region": region, "origin": "evaluation"})
    assert (evaluation["problems"], evaluation["persons"], evaluation["organizational_handling"]) == (7, 7, 7)
    everything = await call(suite, "GET", "/stats", auditor,
                            params={"from": "2017-01-01", "to": "2017-12-31", "region": region})
    assert (everything["problems"], everything["persons"]) == (490, 711)
    forms = {f["key"]: f["count"] for f in bulletin["by_form"]}
    # person-times at each person's heaviest form: the disciplined or handled, and those with light measures only
    assert sum(forms.values()) == 95 + 189 - 30 + (500 - 254)
    assert forms["4"] == 1  # the one transferred for prosecution
    assert sum(t["count"] for t in bulletin["by_type"]) == 483 and len(bulletin["by_type"]) == len(TYPES)
    assert bulletin["by_family"] == [{"key": "slow_action", "count": 483}]

    county = await call(suite, "GET", "/stats", auditor,
                        params={"from": "2017-01-01", "to": "2017-12-31", "region": region, "rank": "county",
                                "origin": "officer"})
    assert (county["persons"], county["county_level"]) == (12, 12)
    # Cases in which a county-level cadre was held to account: one of the twelve appears in two cases.
    assert county["problems"] == 13

    january = await call(suite, "GET", "/stats", auditor,
                         params={"from": "2018-01-01", "to": "2018-01-31", "region": region})
    assert (january["problems"], january["persons"], january["disciplined"]) == (10, 10, 10)

    bad = await suite.gateway.get("/api/v1/accountability/stats", headers=auditor,
                                  params={"from": "2018-01-01", "to": "2017-01-31"})
    assert bad.status_code == 422
    handler = ids.bearer("unit_handler", unit="U-x")
    assert (await suite.gateway.get("/api/v1/accountability/stats", headers=handler)).status_code == 403
