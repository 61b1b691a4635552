"""Campaign drives (专项行动) through the gateway: phases, a task handed to a lead and a responsible unit with
a deadline, each unit told in its inbox, progress reported by the units themselves (their own part only),
overdue parts surfaced to the 督查考评办 and escalated by notification's daily pass; a unit that reported
done is not escalated."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy import select

from services.common.db import session_scope
from services.notification import service as notification
from services.notification.models import deadlines
from services.notification.service.drives import part_id

from ..support import eventually

LEAD, OTHER, STRANGER = "drv-lead-unit", "drv-resp-unit", "drv-stranger-unit"


async def test_a_drive_task_is_handed_out_reported_and_its_overdue_part_escalated(suite, ids):
    gw = suite.gateway
    office = ids.bearer("evaluation_admin")
    today = date.today()
    made = await gw.post("/api/v1/evaluation/drives", headers=office, json={
        "title": "作风问题大起底专项行动", "phases": [
            {"name": "学习", "starts_on": str(today - timedelta(days=30)), "ends_on": str(today - timedelta(days=11))},
            {"name": "自查自纠", "starts_on": str(today - timedelta(days=10)), "ends_on": str(today + timedelta(days=20))}]})
    assert made.status_code == 201, made.text
    drive = made.json()
    assert drive["current_phase"] == "自查自纠"
    bad_order = await gw.post("/api/v1/evaluation/drives", headers=office, json={
        "title": "顺序错误的行动", "phases": [{"name": "集中处理", "starts_on": "2027-03-01", "ends_on": "2027-03-31"},
                                         {"name": "深入排查", "starts_on": "2027-01-01", "ends_on": "2027-01-31"}]})
    assert bad_order.status_code == 422 and "先后顺序" in bad_order.json()["detail"]

    task = await gw.post(f"/api/v1/evaluation/drives/{drive['id']}/tasks", headers=office, json={
        "title": "梳理窗口服务作风问题清单", "phase": "自查自纠", "lead_unit": LEAD, "responsible_units": [OTHER],
        "deadline": str(today - timedelta(days=1)), "handed_down_from": "市委巡察反馈意见"})
    assert task.status_code == 201, task.text
    tid = task.json()["id"]
    assert [p["role_label"] for p in task.json()["parts"]] == ["牵头单位", "责任单位"]
    unknown_phase = await gw.post(f"/api/v1/evaluation/drives/{drive['id']}/tasks", headers=office, json={
        "title": "某任务", "phase": "巩固年", "lead_unit": LEAD, "deadline": str(today)})
    assert unknown_phase.status_code == 422 and "阶段" in unknown_phase.json()["detail"]

    # Each unit hears of its task in its inbox.
    async def told():
        inbox = await gw.get("/api/v1/notification/inbox", headers=ids.bearer("unit_handler", unit=OTHER))
        return [m for m in inbox.json()["items"] if m["template"] == "unit/drive_task_assigned"]
    [message] = await eventually(told)
    assert "梳理窗口服务作风问题清单" in message["body"] and "责任单位" in message["body"]

    # Units report their own part only; a stranger unit sees nothing of the drive.
    lead = ids.bearer("unit_handler", unit=LEAD)
    done = await gw.post(f"/api/v1/evaluation/drives/tasks/{tid}/reports", headers=lead,
                         json={"progress": "问题清单已梳理完毕并上报", "percent": 100, "done": True})
    assert done.status_code == 201, done.text
    assert [p["state_label"] for p in done.json()["parts"]] == ["已完成"]
    stranger = ids.bearer("unit_handler", unit=STRANGER)
    assert (await gw.get(f"/api/v1/evaluation/drives/{drive['id']}", headers=stranger)).status_code == 404
    assert (await gw.post(f"/api/v1/evaluation/drives/tasks/{tid}/reports", headers=stranger,
                          json={"progress": "冒名报送", "percent": 10})).status_code == 404
    half = await gw.post(f"/api/v1/evaluation/drives/tasks/{tid}/reports", headers=lead,
                         json={"progress": "完成", "percent": 50, "done": True})
    assert half.status_code == 422

    # The office sees the other unit's part overdue; notification escalates it, not the lead's.
    overdue = (await gw.get("/api/v1/evaluation/drives/overdue", headers=office)).json()
    assert [(o["unit_id"], o["state_label"]) for o in overdue if o["task_id"] == tid] == [(OTHER, "逾期未完成")]
    assert (await gw.get("/api/v1/evaluation/drives/overdue", headers=lead)).status_code == 403

    async def watches():
        async with suite.apps["notification"].state.sessions() as session:
            rows = (await session.execute(select(deadlines).where(deadlines.c.kind == "drive_task"))).all()
        mine = {r.ref_id: r for r in rows}
        lead_part, other_part = mine.get(part_id(uuid.UUID(tid), LEAD)), mine.get(part_id(uuid.UUID(tid), OTHER))
        return lead_part and other_part and lead_part.resolved_at and (lead_part, other_part)
    await eventually(watches)
    async with session_scope(suite.apps["notification"].state.sessions) as session:
        await notification.remind_and_escalate(session, notifier=suite.apps["notification"].state.notifier,
                                               today=today + timedelta(days=30))
    lead_part, other_part = await watches()
    assert other_part.escalated_on is not None and lead_part.escalated_on is None

    async def notice():
        inbox = await gw.get("/api/v1/notification/inbox", headers=ids.bearer("unit_handler", unit=OTHER))
        return [m for m in inbox.json()["items"] if m["template"] == "unit/overdue_notice"]
    [overdue_notice] = await eventually(notice)
    assert "专项行动任务" in overdue_notice["body"]


async def test_a_self_inspection_list_is_kept_per_unit_and_level_and_signed_off_on_evidence(suite, ids):
    gw = suite.gateway
    unit = ids.bearer("unit_handler", unit=LEAD)
    listed = await gw.post("/api/v1/evaluation/self-checks", headers=unit, json={
        "level": "leadership", "mirror": "want_not", "problem": "班子成员对重点项目审批推诿扯皮，不想担当",
        "plan": "建立项目审批领导包联制度，每周调度一次", "deadline": "2027-03-31", "responsible": "局长 赵某",
        "unit_id": OTHER})  # a unit cannot file for another: its own unit is taken from the token
    assert listed.status_code == 201, listed.text
    item = listed.json()
    assert (item["unit_id"], item["level_label"], item["mirror_label"], item["state_label"]) == (
        LEAD, "领导班子", "不想为", "整改中")
    bad = await gw.post("/api/v1/evaluation/self-checks", headers=unit, json={
        "level": "boss", "mirror": "want_not", "problem": "某问题描述", "plan": "某整改措施", "deadline": "2027-03-31",
        "responsible": "某人"})
    assert bad.status_code == 422

    # Another unit neither lists nor touches it.
    other = ids.bearer("unit_handler", unit=OTHER)
    assert item["id"] not in {i["id"] for i in (await gw.get("/api/v1/evaluation/self-checks", headers=other)).json()}
    assert (await gw.post(f"/api/v1/evaluation/self-checks/{item['id']}/rectified", headers=other,
                          json={"evidence": "冒名报送佐证"})).status_code == 404

    office = ids.bearer("evaluation_admin")
    early = await gw.post(f"/api/v1/evaluation/self-checks/{item['id']}/review", headers=office,
                          json={"decision": "sign_off", "review": "september_check"})
    assert early.status_code == 409 and "佐证" in early.json()["detail"]
    done = await gw.post(f"/api/v1/evaluation/self-checks/{item['id']}/rectified", headers=unit,
                         json={"evidence": "包联制度文件及三次调度会议纪要"})
    assert done.json()["state_label"] == "已报整改待销号"
    returned = await gw.post(f"/api/v1/evaluation/self-checks/{item['id']}/review", headers=office, json={
        "decision": "return", "review": "september_check", "verdict": "superficial", "refer_to": "organization"})
    assert returned.status_code == 200, returned.text
    assert returned.json()["state_label"] == "退回重改" and "表面整改" in returned.json()["review_note"]
    assert "移送组织部" in returned.json()["review_note"]

    # The organization department finds it in its proposals queue (a suggestion, never a decided measure).
    async def proposed():
        # by unit: the run's other tests leave more proposals than one page holds
        queue = await gw.get("/api/v1/accountability/proposals", headers=ids.bearer("org_officer"),
                             params={"unit_id": LEAD})
        return [p for p in queue.json()["items"] if p["unit_id"] == LEAD and "表面整改" in p["title"]]
    [proposal] = await eventually(proposed)
    assert proposal["status"] == "pending" and "班子成员对重点项目审批推诿扯皮" in proposal["reason"]
    assert (await gw.post(f"/api/v1/evaluation/self-checks/{item['id']}/review", headers=unit,
                          json={"decision": "sign_off", "review": "september_check"})).status_code == 403
    await gw.post(f"/api/v1/evaluation/self-checks/{item['id']}/rectified", headers=unit,
                  json={"evidence": "补充项目审批时限台账，平均审批时长由30天降至12天"})
    signed = await gw.post(f"/api/v1/evaluation/self-checks/{item['id']}/review", headers=office,
                           json={"decision": "sign_off", "review": "december_lookback"})
    assert signed.json()["state_label"] == "已销号" and signed.json()["review_note"].startswith("十二月回头看")
