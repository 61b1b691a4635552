"""Key projects (重点项目) through the gateway: the register with its 四个一, a phone check that is fine and
one that is not; the bad answer becomes a clue (channel 重点项目电话询问) kept by the commission and linked to
the project, the case opened on it is linked too, and the project view shows checks, clues and cases."""

from __future__ import annotations

from ..support import eventually

APPROVER = "kp-approval-unit"


async def test_a_key_project_from_register_to_phone_checks_clue_and_case(suite, ids):
    gw = suite.gateway
    office = ids.bearer("triage_officer")
    made = await gw.post("/api/v1/triage/projects", headers=office, json={
        "code": "DT-2017-S-001", "name": "大同市某新能源产业园项目", "level": "provincial",
        "owner": "某新能源有限公司", "owner_contact": "项目经理 王某 13800000000", "leader": "李副市长",
        "team": ["市发改委", "市自然资源局"], "approval_units": [APPROVER, "kp-other-unit"],
        "milestones": [{"name": "用地审批", "due": "2027-03-31"}]})
    assert made.status_code == 201, made.text
    project = made.json()
    assert project["level_label"] == "省级重点项目" and project["checks"] == [] and project["clues"] == []
    pid = project["id"]
    again = await gw.post("/api/v1/triage/projects", headers=office, json={
        "code": "DT-2017-S-001", "name": "重复登记", "level": "city", "owner": "某公司", "leader": "某领导",
        "team": ["某班子"], "approval_units": []})
    assert again.status_code == 409 and "已登记" in again.json()["detail"]

    # The units involved never read the register; org officers and auditors may.
    assert (await gw.get(f"/api/v1/triage/projects/{pid}", headers=ids.bearer("unit_handler", unit=APPROVER))
            ).status_code == 403
    assert (await gw.get("/api/v1/triage/projects", headers=ids.bearer("auditor"))).status_code == 200

    fine = await gw.post(f"/api/v1/triage/projects/{pid}/checks", headers=office, json={
        "spoke_with": "项目经理", "answers": {"obstruction": False, "delay": False, "extortion": False}})
    assert fine.status_code == 201, fine.text
    assert fine.json()["outcome_label"] == "未反映问题"
    vague = await gw.post(f"/api/v1/triage/projects/{pid}/checks", headers=office, json={
        "spoke_with": "项目经理", "answers": {"obstruction": False, "delay": True, "extortion": False}})
    assert vague.status_code == 422
    bad = await gw.post(f"/api/v1/triage/projects/{pid}/checks", headers=ids.bearer("investigator"), json={
        "spoke_with": "项目经理", "unit_id": APPROVER,
        "answers": {"obstruction": False, "delay": True, "extortion": True},
        "account": "规划许可已拖延两个月，经办人暗示需要请客才能加快"})
    assert bad.status_code == 201, bad.text
    assert bad.json()["problem_labels"] == ["推诿拖延", "吃拿卡要"]

    # Intake makes the clue; triage keeps it for the commission and links it to the project.
    async def linked():
        view = (await gw.get(f"/api/v1/triage/projects/{pid}", headers=office)).json()
        # (the view's queries each see the latest commit, so wait for the check's link as well)
        ready = view["clues"] and view["clues"][0]["decision"] == "accept"
        return ready and any(c["clue_id"] for c in view["checks"]) and view
    view = await eventually(linked)
    [clue] = view["clues"]
    assert clue["source_label"] == "电话询问发现" and "不转被反映单位" in clue["reason"]
    assert [c["clue_id"] for c in view["checks"] if c["problems"]] == [clue["clue_id"]]
    got = await gw.get(f"/api/v1/intake/clues/{clue['clue_id']}", headers=ids.bearer("investigator"))
    assert got.json()["channel"] == "project_check" and "大同市某新能源产业园项目" in got.json()["text"]
    assert "13800000000" not in got.json()["text"]
    assert (await gw.get(f"/api/v1/intake/clues/{clue['clue_id']}",
                         headers=ids.bearer("unit_handler", unit=APPROVER))).status_code == 404

    # The case accountability opens on the accepted clue is linked to the project as well.
    async def with_case():
        view = (await gw.get(f"/api/v1/triage/projects/{pid}", headers=office)).json()
        return view["cases"] and view
    view = await eventually(with_case)
    assert view["cases"][0]["source_label"] == "关联线索立案" and view["cases"][0]["case_number"]

    # A clue from any channel that names the project is linked to it on arrival.
    named = await gw.post("/api/v1/intake/reports", headers=office, json={
        "channel": "petition", "text": "大同市某新能源产业园项目落地迟缓，规划审批一拖再拖，企业准备撤资"})
    assert named.status_code == 201, named.text

    async def mentioned():
        view = (await gw.get(f"/api/v1/triage/projects/{pid}", headers=office)).json()
        return [c for c in view["clues"] if c["clue_id"] == named.json()["id"]]
    [link] = await eventually(mentioned)
    assert link["source_label"] == "线索提及项目"

    unknown = await gw.post(f"/api/v1/triage/projects/{pid}/links", headers=office,
                            json={"kind": "clue", "id": "00000000-0000-0000-0000-000000000001"})
    assert unknown.status_code == 422 and "线索" in unknown.json()["detail"]
