"""Scheduled reviews through the gateway (R-SU-4): the September 大检查 and the December 回头看 as rounds across
every unit's self-inspection list, with sign-off (销号) on evidence, a sham rectification returned and
referred as a proposal to the commission, a closed round refusing decisions, and the 回头看 reopening an
item signed off earlier that turns out 虚假整改. A unit reads its own part of a round only."""

from __future__ import annotations

from ..support import eventually

RA, RB = "rv-unit-a", "rv-unit-b"


async def _item(gw, headers, problem: str) -> str:
    made = await gw.post("/api/v1/evaluation/self-checks", headers=headers, json={
        "level": "middle", "mirror": "dare_not", "problem": problem, "plan": "制定整改方案并逐项落实",
        "deadline": "2031-08-31", "responsible": "科长 某某"})
    assert made.status_code == 201, made.text
    return made.json()["id"]


async def test_september_check_and_december_lookback_as_rounds(suite, ids):
    gw = suite.gateway
    office = ids.bearer("evaluation_admin")
    unit_a, unit_b = ids.bearer("unit_handler", unit=RA), ids.bearer("unit_handler", unit=RB)
    fixed = await _item(gw, unit_a, "窗口审批不敢签字，层层请示")
    idle = await _item(gw, unit_a, "干部遇事推给上级，不敢担当")
    sham = await _item(gw, unit_b, "执法检查走过场，问题不敢碰硬")
    for item, headers, evidence in ((fixed, unit_a, "签批授权清单及一个月审批台账"),
                                    (sham, unit_b, "整改报告一份")):
        assert (await gw.post(f"/api/v1/evaluation/self-checks/{item}/rectified", headers=headers,
                              json={"evidence": evidence})).status_code == 200

    assert (await gw.post("/api/v1/evaluation/reviews", headers=unit_a, json={
        "kind": "september_check", "year": 2031, "due": "2031-09-30"})).status_code == 403
    opened = await gw.post("/api/v1/evaluation/reviews", headers=office, json={
        "kind": "september_check", "year": 2031, "due": "2031-09-30"})
    assert opened.status_code == 201, opened.text
    round_ = opened.json()
    assert (round_["title"], round_["state_label"]) == ("2031年九月大检查", "检查中")
    rid = round_["id"]
    mine = {u["unit_id"]: u for u in round_["units"]}
    assert mine[RA]["items"] == 2 and mine[RB]["items"] == 1 and mine[RA]["pending"] == 2
    twice = await gw.post("/api/v1/evaluation/reviews", headers=office, json={
        "kind": "september_check", "year": 2031, "due": "2031-09-30"})
    assert twice.status_code == 409 and "已经开始" in twice.json()["detail"]

    # 销号 on evidence; an item not yet rectified cannot be signed off; one decision per item and round.
    signed = await gw.post(f"/api/v1/evaluation/reviews/{rid}/items/{fixed}", headers=office,
                           json={"decision": "sign_off"})
    assert signed.status_code == 200, signed.text
    assert signed.json()["state_label"] == "已销号" and signed.json()["review_note"].startswith("2031年九月大检查")
    again = await gw.post(f"/api/v1/evaluation/reviews/{rid}/items/{fixed}", headers=office,
                          json={"decision": "return", "verdict": "false"})
    assert again.status_code == 409 and "已作结论" in again.json()["detail"]
    early = await gw.post(f"/api/v1/evaluation/reviews/{rid}/items/{idle}", headers=office,
                          json={"decision": "sign_off"})
    assert early.status_code == 409 and "佐证" in early.json()["detail"]
    no_verdict = await gw.post(f"/api/v1/evaluation/reviews/{rid}/items/{sham}", headers=office,
                               json={"decision": "return"})
    assert no_verdict.status_code == 422 and "敷衍整改" in no_verdict.json()["detail"]
    assert (await gw.post(f"/api/v1/evaluation/reviews/{rid}/items/{sham}", headers=unit_b,
                          json={"decision": "sign_off"})).status_code == 403
    returned = await gw.post(f"/api/v1/evaluation/reviews/{rid}/items/{sham}", headers=office, json={
        "decision": "return", "verdict": "perfunctory", "refer_to": "commission", "note": "整改报告与实际不符"})
    assert returned.status_code == 200, returned.text
    assert "移送纪委监委" in returned.json()["review_note"]

    # The round per unit; a unit sees its own part only.
    view = (await gw.get(f"/api/v1/evaluation/reviews/{rid}", headers=office)).json()
    mine = {u["unit_id"]: u for u in view["units"]}
    assert (mine[RA]["signed_off"], mine[RA]["pending"]) == (1, 1)
    assert mine[RB]["verdicts"] == {"敷衍整改": 1} and mine[RB]["referred"] == 1
    own = (await gw.get(f"/api/v1/evaluation/reviews/{rid}", headers=unit_b)).json()
    assert {e["unit_id"] for e in own["entries"]} == {RB} and [u["unit_id"] for u in own["units"]] == [RB]

    # The commission receives the referral as a proposal naming the round.
    async def proposed():
        queue = await gw.get("/api/v1/accountability/proposals", headers=ids.bearer("auditor"),
                             params={"unit_id": RB})
        return [p for p in queue.json()["items"] if p["unit_id"] == RB and "2031年九月大检查" in p["title"]]
    [proposal] = await eventually(proposed)
    assert proposal["status"] == "pending" and "敷衍整改" in proposal["title"]
    assert "执法检查走过场" in proposal["reason"]

    closed = await gw.post(f"/api/v1/evaluation/reviews/{rid}/close", headers=office)
    assert closed.status_code == 200 and closed.json()["state_label"] == "已结束"
    # Closing drafts the round's 通报 in notification, for an editor to review (referrals are not in it).
    async def drafted():
        drafts = (await gw.get("/api/v1/notification/bulletins/drafts", headers=ids.bearer("org_officer"))).json()
        return [d for d in drafts["items"] if d["kind"] == "review_round" and d["data"].get("review_id") == rid]
    [draft] = await eventually(drafted)
    assert draft["title"] == "2031年九月大检查情况通报"
    assert f"{RB}：检查1项，销号0项，退回重改1项（敷衍整改1项）" in draft["body"]
    assert f"{RA}：检查2项，销号1项，未完成整改1项" in draft["body"]
    assert "移送" not in draft["body"] and "纪委" not in draft["body"]

    late = await gw.post(f"/api/v1/evaluation/reviews/{rid}/items/{idle}", headers=office,
                         json={"decision": "return", "verdict": "superficial"})
    assert late.status_code == 409 and "已结束" in late.json()["detail"]

    # 回头看 covers items already signed off too: the one signed off in September is found 虚假整改 and reopened.
    lookback = await gw.post("/api/v1/evaluation/reviews", headers=office, json={
        "kind": "december_lookback", "year": 2031, "due": "2031-12-31"})
    assert lookback.status_code == 201, lookback.text
    lid = lookback.json()["id"]
    assert fixed in {e["item_id"] for e in lookback.json()["entries"]}
    reopened = await gw.post(f"/api/v1/evaluation/reviews/{lid}/items/{fixed}", headers=office,
                             json={"decision": "return", "verdict": "false", "refer_to": "organization"})
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["state_label"] == "退回重改" and reopened.json()["signed_off_at"] is None
    assert reopened.json()["review_note"].startswith("2031年十二月回头看：认定为虚假整改")
    rounds = (await gw.get("/api/v1/evaluation/reviews", headers=ids.bearer("org_officer"))).json()
    assert {r["title"] for r in rounds} >= {"2031年九月大检查", "2031年十二月回头看"}
