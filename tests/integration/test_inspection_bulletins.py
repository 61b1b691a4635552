"""一月一主题、一月一通报 and 限期报送结果 through the gateway: a month's inspection findings per unit and theme
drafted as a bulletin in notification for review, published by an editor; each plan's result deadline watched
by notification, the reminder and escalation going to the office only (never to the inspected unit), and
closed when the team reports."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from services.common.db import session_scope
from services.notification import service as notification
from services.notification.models import deadlines, deliveries

from ..support import eventually

TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date()
MONTH = "2026-10"
UNIT_A, UNIT_B = "ib-unit-a", "ib-unit-b"
LEAD = "ib-lead"


async def test_the_months_inspection_bulletin_and_the_result_deadline(suite, ids):
    gw = suite.gateway
    office = ids.bearer("triage_officer")
    lead = ids.bearer("investigator", subject=LEAD)
    assert (await gw.put(f"/api/v1/intake/inspections/themes/{MONTH}", headers=office,
                         json={"theme": "项目审批一线作风"})).status_code == 200
    late = await gw.post("/api/v1/intake/inspections/plans", headers=office, json={
        "kind": "covert", "target_units": [UNIT_A, UNIT_B], "team": ["ib-member"], "leader": LEAD,
        "starts_on": "2026-10-12", "ends_on": "2026-10-14"})
    assert late.status_code == 201, late.text
    soon = await gw.post("/api/v1/intake/inspections/plans", headers=office, json={
        "kind": "open", "theme": "窗口服务", "target_units": [UNIT_A], "team": ["ib-member"], "leader": LEAD,
        "starts_on": "2026-10-20", "ends_on": "2026-10-21", "report_due": str(TODAY + timedelta(days=1))})
    assert soon.status_code == 201, soon.text
    late_id, soon_id = late.json()["id"], soon.json()["id"]
    for unit, text in ((UNIT_A, "审批窗口工作人员对项目材料反复要求补正"), (UNIT_A, "窗口负责人上班时间不在岗"),
                       (UNIT_B, "项目现场服务专员推诿，不接电话")):
        found = await gw.post(f"/api/v1/intake/inspections/plans/{late_id}/findings", headers=lead,
                              json={"text": text, "recommendation": "约谈提醒并限期整改", "unit_id": unit})
        assert found.status_code == 201, found.text
    assert (await gw.post(f"/api/v1/intake/inspections/plans/{soon_id}/findings", headers=lead, json={
        "text": "窗口服务态度生硬，群众反映强烈", "recommendation": "通报批评", "unit_id": UNIT_A})).status_code == 201

    # Who may ask for the bulletin, and for which month.
    assert (await gw.post(f"/api/v1/intake/inspections/bulletins/{MONTH}",
                          headers=ids.bearer("unit_handler", unit=UNIT_A))).status_code == 403
    bad = await gw.post("/api/v1/intake/inspections/bulletins/2026-13", headers=office)
    assert bad.status_code == 422 and "YYYY-MM" in bad.json()["detail"]
    empty = await gw.post("/api/v1/intake/inspections/bulletins/2019-01", headers=office)
    assert empty.status_code == 422 and "没有明察暗访计划" in empty.json()["detail"]
    asked = await gw.post(f"/api/v1/intake/inspections/bulletins/{MONTH}", headers=office)
    assert asked.status_code == 202, asked.text
    assert asked.json()["plans"] == 2 and asked.json()["status_label"] == "已提交通报初稿，待审核发布"

    # Notification drafts it for review; it is not public until an editor publishes it.
    editor = ids.bearer("org_officer")

    async def drafted():
        drafts = (await gw.get("/api/v1/notification/bulletins/drafts", headers=editor)).json()["items"]
        return [d for d in drafts if d["kind"] == "inspection_monthly" and d["period"] == MONTH]
    [draft] = await eventually(drafted)
    assert draft["title"] == "2026年10月明察暗访情况通报（项目审批一线作风）"
    body = draft["body"]
    assert "共开展明察暗访2次" in body and "发现问题4个" in body
    assert f"{UNIT_A}被检查0次、发现问题3个" in body and f"{UNIT_B}被检查0次、发现问题1个" in body
    assert "“窗口服务”检查0点次、发现问题1个" in body
    assert "约谈" not in body and "不接电话" not in body  # counts only: no finding's text, no recommendation
    public = (await gw.get("/api/v1/notification/bulletins", headers=ids.as_public())).json()["items"]
    assert all(b["id"] != draft["id"] for b in public)

    # Asked again (another finding since), the draft takes the new counts; once published it stays.
    assert (await gw.post(f"/api/v1/intake/inspections/plans/{late_id}/findings", headers=lead, json={
        "text": "另一处窗口无人值守", "recommendation": "约谈", "unit_id": UNIT_B})).status_code == 201
    assert (await gw.post(f"/api/v1/intake/inspections/bulletins/{MONTH}", headers=office)).status_code == 202

    async def refreshed():
        [d] = await drafted()
        return "发现问题5个" in d["body"] and d
    draft = await eventually(refreshed)
    published = await gw.post(f"/api/v1/notification/bulletins/{draft['id']}:publish", headers=editor, json={})
    assert published.status_code == 200, published.text
    public = (await gw.get("/api/v1/notification/bulletins?kind=inspection_monthly", headers=ids.as_public()))
    assert [b["id"] for b in public.json()["items"]] == [draft["id"]]

    # 限期报送结果: both plans' deadlines are watched; the daily pass escalates the late one and reminds of
    # the other, to the office alone.
    async def watched():
        async with suite.apps["notification"].state.sessions() as session:
            rows = (await session.execute(select(deadlines).where(deadlines.c.kind == "inspection_result"))).all()
        mine = {str(r.ref_id): r for r in rows}
        return late_id in mine and soon_id in mine and mine
    watches = await eventually(watched)
    assert watches[late_id].unit_id == "inspection-team"
    assert "项目审批一线作风" in watches[late_id].label and "暗访检查结果" in watches[late_id].label
    async with session_scope(suite.apps["notification"].state.sessions) as session:
        await notification.remind_and_escalate(session, notifier=suite.apps["notification"].state.notifier,
                                               today=TODAY)
    watches = await watched()
    assert watches[late_id].escalated_on == TODAY
    assert watches[soon_id].reminded_on == TODAY and watches[soon_id].escalated_on is None
    async with suite.apps["notification"].state.sessions() as session:
        to_units = (await session.execute(select(deliveries.c.template).where(
            deliveries.c.unit_id.in_([UNIT_A, UNIT_B, "inspection-team"])))).all()
    assert to_units == []  # a covert plan's deadline never reaches the unit it inspected

    # The team reports: the watch is closed.
    reported = await gw.post(f"/api/v1/intake/inspections/plans/{soon_id}/report", headers=lead,
                             json={"summary": "发现问题1个，已移交处理"})
    assert reported.status_code == 200, reported.text

    async def closed():
        return (await watched())[soon_id].resolved_at is not None
    assert await eventually(closed)
