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


async def _events(bootstrap: str, topic: str, want, within: float = 20.0) -> list[dict]:
    """The payloads on ``topic`` (read from the start of the run's own topic) for which ``want`` holds."""
    import asyncio

    import orjson
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    found: list[dict] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not found and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    envelope = orjson.loads(record.value)
                    data = envelope.get("data", envelope)
                    if want(data):
                        found.append(data)
    finally:
        await consumer.stop()
    return found


async def test_a_project_trigger_names_the_project(suite, ids, settings_kwargs):
    """项目迟迟不落地 / 投资业主撤回投资 about a registered project (by its name or an alias) name the project in
    the trigger's record: on the clue, in the project view, and on key-project-trigger-raised."""
    from services.common.contracts.projects import KeyProjectTriggerRaised

    gw = suite.gateway
    office = ids.bearer("triage_officer")
    made = await gw.post("/api/v1/triage/projects", headers=office, json={
        "code": "DT-2017-C-088", "name": "大同市御河东岸智能装备制造基地项目", "aliases": ["御河智造基地"],
        "level": "city", "owner": "某智能装备有限公司", "leader": "王副市长", "team": ["市工信局"],
        "approval_units": [APPROVER]})
    assert made.status_code == 201, made.text
    project = made.json()
    assert project["aliases"] == ["御河智造基地"] and project["must_investigate"] == []
    pid = project["id"]
    short = await gw.patch(f"/api/v1/triage/projects/{pid}", headers=office, json={"aliases": ["基地"]})
    assert short.status_code == 422  # too short an alias would name half the city's clues
    nothing = await gw.patch(f"/api/v1/triage/projects/{pid}", headers=office, json={})
    assert nothing.status_code == 422 and "没有要修改" in nothing.json()["detail"]

    # An alias named, and the project stalls while the investor is leaving: two project 五必查.
    text = "御河智造基地签约两年了迟迟未开工，用地手续一直批不下来，投资方已经准备撤资转到外地"
    sent = await gw.post("/api/v1/intake/reports", headers=office, json={"channel": "petition", "text": text})
    assert sent.status_code == 201, sent.text
    clue_id = sent.json()["id"]

    async def linked():
        view = (await gw.get(f"/api/v1/triage/projects/{pid}", headers=office)).json()
        return [c for c in view["clues"] if c["clue_id"] == clue_id] and view
    view = await eventually(linked)
    [clue] = view["clues"]
    assert clue["source_label"] == "线索提及项目" and clue["matched"] == "御河智造基地"
    codes = {t["code"] for t in clue["triggers"]}
    assert {"project_slow", "investor_withdrawal"} <= codes, clue
    slow = next(t for t in clue["triggers"] if t["code"] == "project_slow")
    assert slow["record"] == "五必查·项目迟迟不落地：重点项目“大同市御河东岸智能装备制造基地项目”（DT-2017-C-088）"
    assert {m["label"] for m in view["must_investigate"]} >= {"项目迟迟不落地", "投资业主撤回投资"}

    # The clue's own read (triage) names the project for the commission's staff only.
    read = (await gw.get(f"/api/v1/triage/clues/{clue_id}", headers=office)).json()
    [named] = read["key_projects"]
    assert named["code"] == "DT-2017-C-088" and any("投资业主撤回投资" in t["record"] for t in named["triggers"])

    [event] = await _events(settings_kwargs["kafka_bootstrap_servers"],
                            KeyProjectTriggerRaised.topic(settings_kwargs["topic_prefix"]),
                            lambda d: d.get("clue_id") == clue_id)
    assert event["project_code"] == "DT-2017-C-088" and "project_slow" in event["triggers"]
    assert text not in str(event)  # only the tracking number travels

    # A new alias is matched from the next clue on (the matcher is rebuilt once the change is committed).
    renamed = await gw.patch(f"/api/v1/triage/projects/{pid}", headers=office, json={"aliases": ["御河东岸基地"]})
    assert renamed.status_code == 200 and renamed.json()["aliases"] == ["御河东岸基地"]
    later = await gw.post("/api/v1/intake/reports", headers=office, json={
        "channel": "petition", "text": "御河东岸基地的施工许可拖了半年还没办下来"})

    async def later_linked():
        view = (await gw.get(f"/api/v1/triage/projects/{pid}", headers=office)).json()
        return [c for c in view["clues"] if c["clue_id"] == later.json()["id"]]
    [link] = await eventually(later_linked)
    assert link["matched"] == "御河东岸基地"

    # A clue naming no project is linked to none.
    plain = await gw.post("/api/v1/intake/reports", headers=office, json={
        "channel": "petition", "text": "某街道办事处工作人员上班时间玩手机，群众办事等了一个上午"})
    got = await eventually(lambda: _triage_clue(gw, office, plain.json()["id"]))
    assert got["key_projects"] == []


async def _triage_clue(gw, headers, clue_id):
    response = await gw.get(f"/api/v1/triage/clues/{clue_id}", headers=headers)
    return response.json() if response.status_code == 200 else None
