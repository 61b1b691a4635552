"""Where accountability and evaluation meet: evaluation's words for a consequence become the proposal and
the case it opens; accountability's outcomes (不属实, 了结, 五必查 award loss) reach the evaluation scores."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from services.common.auth import Principal
from services.common.contracts.evaluation import Consequence
from services.common.ids import new_id

from ..support import eventually
from .test_accountability_cases import a_unit, call, publish_as
from .test_accountability_events import case_of, results, triaged

EVAL = "/api/v1/evaluation"


async def test_proposals_say_why_and_name_exactly_whom_evaluation_holds_to_account(suite, ids):
    vetoed = await a_unit(suite, name="某街道办")
    last = await a_unit(suite, name="某局")
    older = await a_unit(suite, name="某所")
    campaign = new_id()
    await publish_as(suite, "evaluation", results(
        campaign,
        Consequence(kind="recall_management", unit_id=vetoed, unit_name="某街道办", reason="一票否决: 发生重大责任事故",
                    title="被一票否决, 建议对主要负责人或相关负责人召回管理",
                    held_to_account="主要负责人或相关负责人", grounds=["vetoed"]),
        Consequence(kind="last_ranked_unit", unit_id=last, unit_name="某局", reason="机关科室 排名最后一位 (9/9)",
                    title="测评排名最后一位, 建议对党政主要负责人问责", held_to_account="党政主要负责人",
                    grounds=["last_ranked"]),
        # An event from before evaluation sent its own words: the rule's wording and leaders stand in.
        Consequence(kind="yellow_card", unit_id=older, unit_name="某所", reason="测评不合格"),
    ))
    commission, organization = ids.bearer("investigator"), ids.bearer("org_officer")

    async def queued(headers, unit_id):
        items = (await call(suite, "GET", "/proposals", headers, params={"limit": 500}))["items"]
        return next((p for p in items if p["campaign"] == str(campaign) and p["unit_id"] == unit_id), None)

    recall = await eventually(lambda: queued(organization, vetoed))
    assert recall["title"].endswith("被一票否决, 建议对主要负责人或相关负责人召回管理")
    assert "连续两次" not in recall["title"]
    assert (recall["held_to_account"], recall["grounds"]) == ("主要负责人或相关负责人", ["vetoed"])
    assert [(p["leader_role"], p["name"], p["post"]) for p in recall["persons"]] == [
        ("principal_leader", "王局长", "主要负责人或相关负责人")]
    ranked_last = await eventually(lambda: queued(commission, last))
    assert ranked_last["title"].endswith("测评排名最后一位, 建议对党政主要负责人问责")
    # Jintan: the party and government principals, not the leader in charge.
    assert [(p["leader_role"], p["name"], p["post"]) for p in ranked_last["persons"]] == [
        ("principal_leader", "王局长", "党政主要负责人")]
    old = await eventually(lambda: queued(organization, older))
    assert old["title"].endswith("测评不合格, 建议对主要负责人黄牌警告") and old["grounds"] == []
    assert [(p["leader_role"], p["post"]) for p in old["persons"]] == [("principal_leader", "主要负责人")]

    # Accepting opens a case that names exactly those persons, under the title that says why.
    accepted = await call(suite, "POST", f"/proposals/{ranked_last['id']}/decision", commission,
                          json={"decision": "accept"})
    case = await call(suite, "GET", f"/cases/{accepted['case_id']}", commission)
    assert case["title"].endswith("测评排名最后一位, 建议对党政主要负责人问责") and "党政主要负责人" in case["summary"]
    assert [(p["name"], p["post"], p["leader_role"], p["responsibility"]) for p in case["persons"]] == [
        ("王局长", "党政主要负责人", "principal_leader", "principal_leadership")]
    accepted = await call(suite, "POST", f"/proposals/{recall['id']}/decision", organization,
                          json={"decision": "accept"})
    case = await call(suite, "GET", f"/cases/{accepted['case_id']}", organization)
    assert "一票否决" in case["title"] and "连续两次" not in case["title"]
    assert [(p["name"], p["post"]) for p in case["persons"]] == [("王局长", "主要负责人或相关负责人")]


async def test_unfounded_and_dismissed_complaints_and_award_loss_reach_the_scores_as_they_should(suite, ids):
    tag = secrets.token_hex(3)
    category = f"机关科室-{tag}"
    complained = await a_unit(suite, name="被投诉局", category=category)
    must = await a_unit(suite, name="五必查局", category=category)
    clean = await a_unit(suite, name="无投诉局", category=category)
    now = datetime.now(UTC)
    unfounded, dismissed, standing = (triaged(unit_id=complained, received_at=now) for _ in range(3))
    await publish_as(suite, "triage", unfounded, dismissed, standing)
    officer = ids.bearer("investigator")
    unfounded_case = await eventually(lambda: case_of(suite, unfounded.clue_id))
    dismissed_case = await eventually(lambda: case_of(suite, dismissed.clue_id))
    await eventually(lambda: case_of(suite, standing.clue_id))
    await call(suite, "POST", f"/cases/{unfounded_case}/transitions", officer, json={"action": "file"})
    await call(suite, "POST", f"/cases/{unfounded_case}/findings", officer, json={
        "finding": "unfounded", "summary": "经查不属实", "outcome_summary": "经核查, 反映问题不属实。"})
    await call(suite, "POST", f"/cases/{dismissed_case}/transitions", officer,
               json={"action": "dismiss", "reason": "反映问题已在其他渠道处理完毕"})
    # A substantiated 五必查 case: the unit loses its year's award eligibility (R-AC-9), no veto, no recall.
    five = await call(suite, "POST", "/cases", officer, 201, json={
        "title": "项目审批久拖不决", "unit_id": must, "must_investigate": True})
    await call(suite, "POST", f"/cases/{five['id']}/transitions", officer, json={"action": "file"})
    await call(suite, "POST", f"/cases/{five['id']}/findings", officer, json={
        "finding": "substantiated", "summary": "审批久拖", "outcome_summary": "问题属实, 已依规处理。"})

    admin = ids.bearer("evaluation_admin")
    r = await suite.gateway.post(f"{EVAL}/campaigns", headers=admin, json={
        "name": f"接缝 {tag}", "series": f"seam-{tag}", "year": now.year, "categories": [category],
        "weights": {"data": 1.0}, "exemplars_per_category": 3, "min_ballots": 1, "rule_preset": "custom",
        "rules": ["veto_recall", "unqualified_yellow_card", "award_ineligible_no_excellent", "exemplars"]})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]

    async def imported():
        r = await suite.gateway.post(f"{EVAL}/campaigns/{cid}/units:import-directory", headers=admin)
        return r.json()["units"] == 3

    await eventually(imported)
    assert (await suite.gateway.post(f"{EVAL}/campaigns/{cid}/transitions", json={"action": "open"},
                                     headers=admin)).status_code == 200
    r = await suite.evaluation.post(
        f"{EVAL}/campaigns/{cid}/ballots:batch",
        headers=ids.internal(Principal(kind="service", subject="service:sms-gateway")),
        json={"ballots": [{"voter": f"1370000{secrets.randbelow(10**4):04d}", "channel": "sms", "ratings": {u: 3}}
                          for u in (complained, must, clean)]})
    assert r.status_code == 200 and r.json()["accepted"] == 3, r.text

    async def settled():
        r = await suite.gateway.get(f"{EVAL}/campaigns/{cid}/rankings", headers=ids.bearer("auditor"))
        ranking = {u["unit_id"]: u for u in r.json()["categories"][0]["ranking"]}
        if len(ranking) == 3 and ranking[complained]["score"] == 99.0 and ranking[must]["no_excellent_reasons"] \
                and ranking[must]["score"] == 95.0:
            return r.json()
        return None

    body = await eventually(settled)
    ranking = {u["unit_id"]: u for u in body["categories"][0]["ranking"]}
    # Only the standing complaint counts: the unfounded one and the one closed without filing do not.
    assert ranking[complained]["score"] == 99.0 and ranking[complained]["grade"] == "excellent"
    # Award loss bars 优秀 and the exemplar list, and nothing else: no veto, no recall, no yellow card.
    assert ranking[must]["grade"] == "qualified" and not ranking[must]["vetoed"]
    assert "取消年度综合类评先评优资格" in ranking[must]["no_excellent_reasons"][0]
    assert ranking[clean]["score"] == 100.0 and ranking[clean]["grade"] == "excellent"
    consequences = {(c["kind"], c["unit_id"]) for c in body["consequences"]}
    assert consequences == {("exemplar", clean), ("exemplar", complained)}
