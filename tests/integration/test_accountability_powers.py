"""Who decides what (R-AC-10), 五必查 (R-AC-9), and the commission's oversight of its own cases (R-AC-12),
through the gateway on the real stack."""

from __future__ import annotations

import secrets
from datetime import date, timedelta

from sqlalchemy import select, update

from services.accountability.models import award_ineligibility, cases
from services.accountability.service.cases import today_in_city
from services.common.contracts.accountability import (
    BenchmarkCasePublished,
    CaseConcluded,
)
from services.triage.competence import organization_sheet
from services.triage.models import clues as triage_clues

from ..support import eventually
from .test_accountability_cases import API, EventLog, a_unit, call


async def a_found_case(suite, headers, unit_id: str | None = None, **fields) -> tuple[str, str]:
    case = await call(suite, "POST", "/cases", headers, 201, json={"title": "审批服务不到位", "unit_id": unit_id, **fields})
    await call(suite, "POST", f"/cases/{case['id']}/transitions", headers, json={"action": "file"})
    person = await call(suite, "POST", f"/cases/{case['id']}/persons", headers, 201, json={
        "name": "周某", "post": "审批科科长", "rank": "township", "party_member": True, "responsibility": "direct"})
    await call(suite, "POST", f"/cases/{case['id']}/findings", headers, json={
        "finding": "substantiated", "summary": "查实", "outcome_summary": "您反映的问题属实，已依规处理。"})
    return case["id"], person["id"]


async def test_each_body_records_only_its_own_measures(suite, ids):
    commission, organization = ids.bearer("investigator"), ids.bearer("org_officer")
    case_id, person = await a_found_case(suite, commission)
    path = f"/cases/{case_id}/persons/{person}/measures"
    refused = await suite.gateway.post(API + path, headers=commission, json={"code": "demotion"})
    assert refused.status_code == 403 and "市委组织部" in refused.json()["detail"]
    assert refused.json()["type"].endswith("/not-competent-body")
    # The organization department cooperates in the commission's case: it records the 组织处理 …
    demoted = await call(suite, "POST", path, organization, 201, json={"code": "demotion"})
    assert (demoted["id"] and demoted["family"], demoted["name"]) == ("organizational_handling", "降职")
    # … but not a party sanction, nor the case's own decisions.
    party = await suite.gateway.post(API + path, headers=organization, json={"code": "party_warning"})
    assert party.status_code == 403 and "市纪委监委" in party.json()["detail"]
    decide = await suite.gateway.post(f"{API}/cases/{case_id}/transitions", headers=organization,
                                      json={"action": "decide"})
    assert decide.status_code == 403 and decide.json()["type"].endswith("/not-lead-body")
    await call(suite, "POST", path, commission, 201, json={"code": "party_warning"})
    await call(suite, "POST", path, commission, 201, json={"code": "inquiry_letter"})  # 函询: either body
    decided = await call(suite, "POST", f"/cases/{case_id}/transitions", commission, json={"action": "decide"})
    assert {m["code"] for m in decided["persons"][0]["measures"]} == {"demotion", "party_warning", "inquiry_letter"}


async def test_a_substantiated_must_investigate_case_costs_the_unit_its_awards_and_needs_a_measure(suite, ids, infra):
    unit_id = await a_unit(suite)
    officer = ids.bearer("investigator")
    case_id, person = await a_found_case(suite, officer, unit_id, must_investigate=True)
    async with suite.apps["accountability"].state.sessions() as session:
        flag = (await session.execute(select(award_ineligibility).where(
            award_ineligibility.c.unit_id == unit_id))).one()
    assert (str(flag.case_id), flag.rule, flag.year) == (case_id, "must_investigate", today_in_city().year)
    # Nobody held to account: 当事人一律严肃追责 — the case cannot be decided or closed.
    await call(suite, "POST", f"/cases/{case_id}/persons/{person}/exemption", officer, 201, json={
        "kind": "mitigate", "criteria": {"reform_missed_aim": True, "acted_under_policy": True, "diligent": True,
                                         "no_private_gain": True}, "reasons": "改革探索, 从轻处理"})
    await call(suite, "POST", f"/cases/{case_id}/transitions", officer, json={"action": "decide"})
    blocked = await suite.gateway.post(f"{API}/cases/{case_id}/transitions", headers=officer, json={"action": "close"})
    assert blocked.status_code == 409 and blocked.json()["type"].endswith("/must-investigate-unaccountable")
    assert "一律严肃追责" in blocked.json()["detail"]
    await call(suite, "POST", f"/cases/{case_id}/persons/{person}/measures", officer, 201, json={"code": "admonishment"})
    closed = await call(suite, "POST", f"/cases/{case_id}/transitions", officer, json={"action": "close"})
    assert closed["state"] == "closed"
    # Its own rule: no 一票否决, no 召回管理 is recorded by it.
    assert [m["code"] for m in closed["persons"][0]["measures"]] == ["admonishment"]


async def test_unfounded_complaints_do_not_count_and_a_false_accusation_is_referred(suite, ids, infra):
    unit_id = await a_unit(suite)
    officer = ids.bearer("investigator")
    case = await call(suite, "POST", "/cases", officer, 201, json={"title": "反映某所长吃拿卡要", "unit_id": unit_id})
    await call(suite, "POST", f"/cases/{case['id']}/transitions", officer, json={"action": "file"})
    early = await suite.gateway.post(f"{API}/cases/{case['id']}/referral", headers=officer, json={"reason": "x"})
    assert early.status_code == 409
    await call(suite, "POST", f"/cases/{case['id']}/findings", officer, json={
        "finding": "unfounded", "summary": "经查不属实, 举报人捏造事实", "outcome_summary": "经核查，反映问题不属实。"})
    referred = await call(suite, "POST", f"/cases/{case['id']}/referral", officer, 201, json={
        "reason": "举报人多次捏造事实, 涉嫌诬告陷害"})
    assert referred["lead_body"] == "commission" and referred["state"] == "preliminary_check"
    assert case["case_number"] in referred["title"]
    assert (await call(suite, "GET", f"/cases/{case['id']}", officer))["referral"] == "false_accusation"
    org = await suite.gateway.post(f"{API}/cases/{case['id']}/referral", headers=ids.bearer("org_officer"),
                                   json={"reason": "x"})
    assert org.status_code == 403
    async with EventLog(infra, CaseConcluded) as log:
        outcome = (await eventually(lambda: log.matching(lambda e: e["case_id"] == case["id"])))[0]
    assert outcome["counts_against_unit"] is False

    # Any resolved case — here a cleared one — can become a 标杆案例, without names.
    await call(suite, "POST", f"/cases/{case['id']}/benchmark", officer, json={
        "title": "不实举报依规澄清", "summary": "经核查反映不属实, 及时澄清正名"})
    async with EventLog(infra, BenchmarkCasePublished) as log:
        precedent = (await eventually(lambda: log.matching(lambda e: e["case_id"] == case["id"])))[0]
    assert precedent["title"] == "不实举报依规澄清" and "不属实" in precedent["tags"]
    open_case = await call(suite, "POST", "/cases", officer, 201, json={"title": "在查"})
    unresolved = await suite.gateway.post(f"{API}/cases/{open_case['id']}/benchmark", headers=officer,
                                          json={"title": "t", "summary": "s"})
    assert unresolved.status_code == 409


async def test_ageing_and_the_monthly_four_winds_report(suite, ids):
    officer = ids.bearer("investigator")
    fast = await call(suite, "POST", "/cases", officer, 201, json={"title": "公款吃喝", "tags": ["eight_rules_banquet"]})
    slow = await call(suite, "POST", "/cases", officer, 201, json={"title": "推诿扯皮"})
    assert date.fromisoformat(fast["due_on"]) < date.fromisoformat(slow["due_on"])  # 快查快结
    retagged = await call(suite, "PATCH", f"/cases/{slow['id']}", officer, json={"tags": ["hedonism"]})
    assert retagged["due_on"] == fast["due_on"] and retagged["tags"] == ["hedonism"]
    async with suite.apps["accountability"].state.sessions() as session:
        await session.execute(update(cases).where(cases.c.id == fast["id"]).values(
            due_on=today_in_city() - timedelta(days=45)))
        await session.commit()
    view = await call(suite, "GET", "/ageing", officer, params={"limit": 500})
    item = next(i for i in view["items"] if i["id"] == fast["id"])
    assert (item["days_over"], item["bucket"]) == (45, "overdue_31_90")
    assert view["items"][0]["days_over"] >= 45  # most overdue first
    assert sum(b["count"] for b in view["buckets"]) >= 2

    await call(suite, "POST", f"/cases/{fast['id']}/transitions", officer, json={"action": "file"})
    person = await call(suite, "POST", f"/cases/{fast['id']}/persons", officer, 201, json={
        "name": "吴某", "party_member": True, "responsibility": "direct"})
    month = date.today().strftime("%Y-%m")
    before = await call(suite, "GET", f"/reports/four-winds/{month}", officer)
    await call(suite, "POST", f"/cases/{fast['id']}/findings", officer, json={
        "finding": "substantiated", "summary": "违规吃喝", "outcome_summary": "属实，已处理。",
        "concluded_on": date.today().isoformat()})
    await call(suite, "POST", f"/cases/{fast['id']}/persons/{person['id']}/measures", officer, 201,
               json={"code": "party_warning"})
    after = await call(suite, "GET", f"/reports/four-winds/{month}", officer)
    assert after["substantiated"] == before["substantiated"] + 1
    assert after["disciplined"] == before["disciplined"] + 1 and after["opened"] >= 1 and after["filed"] >= 1
    assert "违规吃喝" in {t["key"] for t in after["by_tag"]}
    assert (await suite.gateway.get(f"{API}/reports/four-winds/{month}",
                                    headers=ids.bearer("org_officer"))).status_code == 403


async def test_the_organization_department_sees_its_own_clues_and_sheet(suite, ids):
    org = await suite.gateway.post("/api/v1/intake/feeds/12380/reports", headers=ids.bearer("triage_officer"), json={
        "external_id": f"T-{secrets.token_hex(6)}", "text": "某局提拔干部违规操作，选人用人不公，群众意见很大。"})
    other = await suite.gateway.post("/api/v1/intake/feeds/12345/reports", headers=ids.bearer("triage_officer"), json={
        "external_id": f"T-{secrets.token_hex(6)}", "text": "窗口人员推诿扯皮，材料齐全仍要求反复跑腿。"})
    assert org.status_code == other.status_code == 201, org.text
    org_id, other_id = org.json()["id"], other.json()["id"]

    async def both_in_triage():
        async with suite.apps["triage"].state.sessions() as session:
            found = (await session.scalars(select(triage_clues.c.id).where(
                triage_clues.c.id.in_([org_id, other_id])))).all()
        return found if len(found) == 2 else None

    await eventually(both_in_triage)
    officer = ids.bearer("org_officer")
    queue = await suite.gateway.get("/api/v1/triage/clues", headers=officer, params={"limit": 500})
    assert queue.status_code == 200
    seen = {c["id"] for c in queue.json()["items"]}
    assert org_id in seen and other_id not in seen
    assert all(c["channel"] == "hotline_12380" or "personnel_selection" in c["tags"] for c in queue.json()["items"])
    assert (await suite.gateway.get(f"/api/v1/triage/clues/{other_id}", headers=officer)).status_code == 404
    assert (await suite.gateway.get(f"/api/v1/triage/clues/{org_id}", headers=officer)).status_code == 200
    # The commission, which leads, keeps seeing both.
    commission = await suite.gateway.get("/api/v1/triage/clues", headers=ids.bearer("investigator"),
                                         params={"limit": 500})
    assert {org_id, other_id} <= {c["id"] for c in commission.json()["items"]}

    # The sheet of its own matters: counted over 12380 and 选人用人 clues only (a date of this test's own).
    day = date(2001, 1, 1) + timedelta(days=secrets.randbelow(3000))
    async with suite.apps["triage"].state.sessions() as session:
        await session.execute(update(triage_clues).where(triage_clues.c.id.in_([org_id, other_id]))
                              .values(run_date=day, decision="accept"))
        await session.commit()
        sheet = await organization_sheet(session, {"total": 2, "sheet": {}}, day)
    assert sheet["total"] == 1 and sheet["sheet"]["by_channel"] == [{"key": "hotline_12380", "count": 1}]
