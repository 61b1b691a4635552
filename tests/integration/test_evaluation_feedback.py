"""Higher-level feedback handed down as tasks (交办) through the gateway: a 巡视反馈意见 with items, each a drive
task for its lead and responsible units with a deadline; the units see their own items only and report on
them; notification puts the task in each unit's inbox; the document shows how far its rectification got."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ..support import eventually

TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date()

LEAD, OTHER, OUTSIDER = "fb-lead", "fb-other", "fb-outsider"


async def test_a_feedback_document_is_handed_down_as_tasks_and_tracked(suite, ids):
    gw = suite.gateway
    office = ids.bearer("evaluation_admin")
    body = {
        "kind": "inspection_tour", "title": "省委第三巡视组关于巡视某市的反馈意见", "issued_by": "省委第三巡视组",
        "doc_number": "省巡反〔2026〕3号", "received_on": str(TODAY - timedelta(days=40)),
        "items": [
            {"text": "重点项目审批环节多、时限长，存在推诿拖延", "requirement": "压减审批环节，明确办理时限",
             "lead_unit": LEAD, "responsible_units": [OTHER], "deadline": str(TODAY + timedelta(days=60))},
            {"text": "部分窗口单位作风不实，群众办事来回跑", "lead_unit": OTHER,
             "deadline": str(TODAY - timedelta(days=1))},
        ]}
    assert (await gw.post("/api/v1/evaluation/feedback", headers=ids.bearer("unit_handler", unit=LEAD),
                          json=body)).status_code == 403
    early = await gw.post("/api/v1/evaluation/feedback", headers=office, json={
        **body, "items": [{**body["items"][0], "deadline": str(TODAY - timedelta(days=90))}]})
    assert early.status_code == 422 and "整改时限" in early.json()["detail"]
    made = await gw.post("/api/v1/evaluation/feedback", headers=office, json=body)
    assert made.status_code == 201, made.text
    doc = made.json()
    assert doc["kind_label"] == "巡视反馈意见" and [i["seq_label"] for i in doc["items"]] == ["第1条", "第2条"]
    first, second = (i["task"] for i in doc["items"])
    assert first["handed_down_from"] == "巡视反馈意见《省委第三巡视组关于巡视某市的反馈意见》第1条"
    assert first["responsible_units"] == [LEAD, OTHER] and first["deadline"] == body["items"][0]["deadline"]
    assert doc["progress"]["label"] == "共2条，已完成0条，逾期1条"  # the second is past its deadline
    drive = (await gw.get(f"/api/v1/evaluation/drives/{doc['drive_id']}", headers=office)).json()
    assert drive["title"] == "省委第三巡视组关于巡视某市的反馈意见整改落实" and len(drive["tasks"]) == 2

    # Each unit sees the items it answers for; a unit with none sees no document.
    lead = ids.bearer("unit_handler", unit=LEAD)
    mine = (await gw.get(f"/api/v1/evaluation/feedback/{doc['id']}", headers=lead)).json()
    assert [i["seq"] for i in mine["items"]] == [1]
    assert [p["unit_id"] for p in mine["items"][0]["task"]["parts"]] == [LEAD]
    outsider = ids.bearer("unit_handler", unit=OUTSIDER)
    assert (await gw.get(f"/api/v1/evaluation/feedback/{doc['id']}", headers=outsider)).status_code == 404
    assert all(d["id"] != doc["id"] for d in (await gw.get("/api/v1/evaluation/feedback", headers=outsider)).json())

    # The units report on the item's task; the document counts it done when every unit's part is.
    for headers in (lead, ids.bearer("unit_handler", unit=OTHER)):
        done = await gw.post(f"/api/v1/evaluation/drives/tasks/{first['id']}/reports", headers=headers,
                             json={"progress": "审批环节由12个压减为6个", "percent": 100, "done": True})
        assert done.status_code == 201, done.text
    tracked = (await gw.get(f"/api/v1/evaluation/feedback/{doc['id']}", headers=ids.bearer("auditor"))).json()
    assert tracked["progress"]["label"] == "共2条，已完成1条，逾期1条"
    overdue = (await gw.get("/api/v1/evaluation/drives/overdue", headers=office)).json()
    late = [(o["unit_id"], o["state_label"]) for o in overdue if o["task_id"] == second["id"]]
    assert late == [(OTHER, "逾期未完成")]

    # A later item is numbered on; notification tells the unit, naming where the task came from.
    more = await gw.post(f"/api/v1/evaluation/feedback/{doc['id']}/items", headers=office, json={"items": [
        {"text": "干部队伍担当意识不强", "lead_unit": LEAD, "deadline": str(TODAY + timedelta(days=30))}]})
    assert more.status_code == 201 and more.json()["items"][-1]["seq_label"] == "第3条"

    async def told():
        inbox = await gw.get("/api/v1/notification/inbox", headers=lead)
        return [m for m in inbox.json()["items"] if "省委第三巡视组" in m["body"] and "第3条" in m["body"]]
    assert await eventually(told)
