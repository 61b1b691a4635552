"""Inspections (明察暗访) through the gateway: the month's theme, a covert plan and a holiday plan, a visit
with on-site evidence, a finding and a walk-in report that become clues the commission keeps (accepted at
once by triage, a case opened, nothing shown to the inspected unit), results reported by the deadline, and
the counts per unit and theme."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image
from sqlalchemy import select

from services.intake.inspection_models import inspection_evidence

from ..media import jpeg_with_gps
from ..support import eventually

TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date()
MONTH = f"{TODAY:%Y-%m}"
UNIT, OTHER = "insp-unit-a", "insp-unit-b"
LEAD, MEMBER = "insp-lead", "insp-member"


async def test_a_covert_inspection_from_plan_to_kept_clues_results_and_counts(suite, ids):
    gw = suite.gateway
    office = ids.bearer("triage_officer")
    theme = await gw.put(f"/api/v1/intake/inspections/themes/{MONTH}", headers=office,
                         json={"theme": "窗口单位服务作风"})
    assert theme.status_code == 200, theme.text

    # The plan takes the month's theme (一月一主题) when it names none; results are due after the last day.
    made = await gw.post("/api/v1/intake/inspections/plans", headers=office, json={
        "kind": "covert", "target_units": [UNIT, OTHER], "team": [MEMBER], "leader": LEAD,
        "starts_on": str(TODAY - timedelta(days=1)), "ends_on": str(TODAY + timedelta(days=2))})
    assert made.status_code == 201, made.text
    plan = made.json()
    assert (plan["theme"], plan["kind_label"], plan["state_label"]) == ("窗口单位服务作风", "暗访", "检查中")
    assert plan["report_due"] > plan["ends_on"] and LEAD in plan["team"]
    pid = plan["id"]

    # The inspected unit never reaches a plan; staff outside the team cannot record for it.
    assert (await gw.get("/api/v1/intake/inspections/plans", headers=ids.bearer("unit_handler", unit=UNIT))
            ).status_code == 403
    stranger = await gw.post(f"/api/v1/intake/inspections/plans/{pid}/findings",
                             headers=ids.bearer("investigator", subject="someone-else"),
                             json={"text": "窗口人员上班时间玩手机", "recommendation": "约谈"})
    assert stranger.status_code == 403 and "检查组成员" in stranger.json()["detail"]

    # A visit with a photo: its GPS position and camera data are stripped before it is stored.
    member = ids.bearer("investigator", subject=MEMBER)
    visit = await gw.post(f"/api/v1/intake/inspections/plans/{pid}/visits", headers=member,
                          data={"unit_id": UNIT, "place": "市政务服务中心二楼窗口", "notes": "上午十点暗访，3号窗口无人"},
                          files=[("evidence", ("现场.jpg", jpeg_with_gps(), "image/jpeg"))])
    assert visit.status_code == 201, visit.text
    assert visit.json()["evidence_count"] == 1
    async with suite.apps["intake"].state.sessions() as session:
        [stored] = (await session.execute(select(inspection_evidence).where(
            inspection_evidence.c.visit_id == visit.json()["id"]))).all()
    blobs = Path(suite.apps["intake"].state.settings.data_dir) / "attachments"
    kept = (blobs / stored.sha256[:2] / stored.sha256[2:4] / stored.sha256).read_bytes()
    assert not Image.open(io.BytesIO(kept)).getexif()
    outside = await gw.post(f"/api/v1/intake/inspections/plans/{pid}/visits", headers=member,
                            data={"unit_id": "not-targeted", "place": "某处"})
    assert outside.status_code == 422 and "检查对象" in outside.json()["detail"]

    # The finding becomes a clue on channel inspection, with the visit's evidence and the team's advice.
    finding = await gw.post(f"/api/v1/intake/inspections/plans/{pid}/findings", headers=member, json={
        "visit_id": visit.json()["id"], "text": "3号窗口工作人员上班时间离岗，群众排队无人办理",
        "recommendation": "建议对窗口负责人诫勉谈话并通报"})
    assert finding.status_code == 201, finding.text
    clue_id = finding.json()["clue_id"]
    tracking = finding.json()["tracking_number"]
    clue = await gw.get(f"/api/v1/intake/clues/{clue_id}", headers=ids.bearer("investigator"))
    assert clue.json()["channel"] == "inspection" and clue.json()["unit_id"] == UNIT
    evidence = await gw.get(f"/api/v1/intake/clues/{clue_id}/attachments", headers=ids.bearer("investigator"))
    assert len(evidence.json()) == 1

    # Triage keeps it for the commission at once (no daily run, no transfer); accountability opens a case.
    async def screened():
        got = await gw.get(f"/api/v1/triage/clues/{clue_id}", headers=office)
        return got.status_code == 200 and got.json()["state"] == "triaged" and got.json()
    triaged = await eventually(screened)
    assert triaged["decision"] == "accept" and "不转被检查单位" in triaged["reason"]

    async def case():
        # by clue: the run's other tests (the Datong import among them) leave hundreds of cases before it
        listed = await gw.get("/api/v1/accountability/cases", headers=ids.bearer("investigator"),
                              params={"clue_id": clue_id})
        return [c for c in listed.json()["items"] if tracking in c["title"]]
    assert await eventually(case)
    unit = ids.bearer("unit_handler", unit=UNIT)
    assert (await gw.get(f"/api/v1/intake/clues/{clue_id}", headers=unit)).status_code == 404
    transfers = await gw.get("/api/v1/triage/transfers", headers=unit)
    assert clue_id not in {t["clue_id"] for t in transfers.json()["items"]}

    # 现场举报投诉台: a walk-in goes straight to the team under way, kept too; the reporter gets a code.
    walk_in = await gw.post("/api/v1/intake/inspections/walk-ins", headers=ids.bearer("triage_officer"), json={
        "text": "办理营业执照被要求反复补材料，窗口人员态度生硬", "hall": "市政务服务中心一楼大厅",
        "unit_id": UNIT})
    assert walk_in.status_code == 201, walk_in.text
    assert walk_in.json()["plan_id"] == pid and walk_in.json()["source_label"] == "现场举报投诉台移交"
    assert walk_in.json()["receipt_code"]

    async def walk_in_kept():
        got = await gw.get(f"/api/v1/triage/clues/{walk_in.json()['clue_id']}", headers=office)
        return got.status_code == 200 and got.json()["decision"] == "accept"
    assert await eventually(walk_in_kept)

    # 限期报送结果: reported once, on time; the counts per unit and theme include both findings.
    report = await gw.post(f"/api/v1/intake/inspections/plans/{pid}/report", headers=ids.bearer(
        "investigator", subject=LEAD), json={"summary": "暗访窗口2个，发现问题2个，已移交线索"})
    assert report.status_code == 200, report.text
    assert report.json()["state_label"] == "已按期报送结果" and len(report.json()["finding_list"]) == 2
    again = await gw.post(f"/api/v1/intake/inspections/plans/{pid}/report", headers=ids.bearer(
        "investigator", subject=LEAD), json={"summary": "再次报送检查结果"})
    assert again.status_code == 409
    stats = (await gw.get("/api/v1/intake/inspections/stats", headers=ids.bearer("auditor"),
                          params={"month": MONTH})).json()
    assert {"unit_id": UNIT, "visits": 1, "findings": 2} in stats["by_unit"]
    assert {"theme": "窗口单位服务作风", "visits": 1, "findings": 2} in stats["by_theme"]
    assert {"state": "reported", "state_label": "已按期报送结果", "count": 1} in stats["by_state"]
    sheet = await gw.get("/api/v1/intake/inspections/stats.csv", headers=ids.bearer("auditor"),
                         params={"month": MONTH})
    assert sheet.status_code == 200 and sheet.content.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM, for Excel
    lines = sheet.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "月份,维度,名称,检查次数,发现问题"
    assert f"{MONTH},检查主题,窗口单位服务作风,1,2" in lines


async def test_holiday_plans_take_their_dates_from_the_calendar_and_bad_plans_are_chinese_problems(suite, ids):
    office = ids.bearer("investigator")
    made = await suite.gateway.post("/api/v1/intake/inspections/plans", headers=office, json={
        "kind": "open", "theme": "节日期间四风问题", "target_units": [UNIT], "team": [MEMBER], "leader": LEAD,
        "holiday": "春节"})
    assert made.status_code == 201, made.text
    plan = made.json()
    assert plan["holiday"] == "春节" and plan["starts_on"] <= plan["ends_on"]
    assert plan["ends_on"] >= str(TODAY)  # the next 春节, not one already past

    wrong = await suite.gateway.post("/api/v1/intake/inspections/plans", headers=office, json={
        "kind": "open", "theme": "节日期间四风问题", "target_units": [UNIT], "team": [MEMBER], "leader": LEAD,
        "holiday": "国庆", "starts_on": "2026-03-01", "ends_on": "2026-03-05"})
    assert wrong.status_code == 422 and "国庆" in wrong.json()["detail"]
    no_theme = await suite.gateway.post("/api/v1/intake/inspections/plans", headers=office, json={
        "kind": "circuit", "target_units": [UNIT], "team": [MEMBER], "leader": LEAD,
        "starts_on": "2031-03-01", "ends_on": "2031-03-05"})
    assert no_theme.status_code == 422 and "月度主题" in no_theme.json()["detail"]
    bad_month = await suite.gateway.get("/api/v1/intake/inspections/stats", headers=office,
                                        params={"month": "2026-13"})
    assert bad_month.status_code == 422 and "YYYY-MM" in bad_month.json()["detail"]
