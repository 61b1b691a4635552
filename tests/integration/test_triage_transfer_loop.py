"""The transfer's way back through the gateway (转办 → 办理结果 → 审核 → 反馈), as its users play it:
a citizen reports by a poster's QR page, the officer transfers the clue, the unit handler files its result
with evidence, the officer returns it once (退回重办) and then accepts it, the citizen reads the outcome
by the receipt code and rates the handling by the link, and the officer can still open a case.

Runs after ``test_triage_daily`` (it imports the unit directory, which that module must find empty)."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select

from services.common.db import session_scope
from services.notification import service as notification
from services.notification.models import deadlines, ratings
from services.triage.units import DEMO_UNITS_FILE

from ..support import eventually

UNIT = "dt-pc-ng-bm"
OTHER_UNIT = "dt-yg-kq-bm"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def directory(suite, ids) -> None:
    imported = await suite.gateway.post("/api/v1/triage/units:import", content=DEMO_UNITS_FILE.read_bytes(),
                                        headers={**ids.bearer("admin"), "content-type": "application/yaml"})
    assert imported.status_code == 200, imported.text


async def citizen_reports(suite, ids) -> dict:
    poster = await suite.gateway.post("/api/v1/intake/posters", headers=ids.bearer("triage_officer"), json={
        "unit_id": UNIT, "place": "南关街道便民服务中心", "title": "作风问题随手拍"})
    assert poster.status_code == 201, poster.text
    report = await suite.gateway.post(f"/api/v1/intake/qr/{poster.json()['code']}/reports",
                                      headers={"accept": "application/json"},
                                      data={"text": "便民服务中心窗口人员上班时间玩手机，群众排队无人办理。"})
    assert report.status_code == 201, report.text
    return report.json()


async def transferred(suite, ids, clue_id: str, unit: str = UNIT) -> None:
    async def in_triage():
        got = await suite.gateway.get(f"/api/v1/triage/clues/{clue_id}", headers=ids.bearer("triage_officer"))
        return got.status_code == 200
    await eventually(in_triage)
    moved = await suite.gateway.patch(f"/api/v1/triage/clues/{clue_id}", headers=ids.bearer("triage_officer"),
                                      json={"decision": "transfer", "unit_id": unit, "reason": "属地单位办理"})
    assert moved.status_code == 200, moved.text


async def unit_files(suite, ids, clue_id: str, *, unit: str = UNIT, with_evidence: bool = True):
    files = [("evidence", ("处理记录.pdf", PDF, "application/pdf"))] if with_evidence else None
    return await suite.gateway.post(
        f"/api/v1/triage/transfers/{clue_id}/results", headers=ids.bearer("unit_handler", unit=unit),
        data={"actions": "调取监控、约谈当事窗口人员", "findings": "反映情况属实，已对当事人批评教育",
              "finding": "substantiated", "responsible": "张某（窗口负责人）"}, files=files)


async def receipt(suite, code: str) -> dict:
    got = await suite.gateway.get(f"/api/v1/intake/receipts/{code}")
    assert got.status_code == 200, got.text
    return got.json()


async def test_a_transfer_comes_back_is_returned_once_then_concludes_and_is_rated(suite, ids):
    await directory(suite, ids)
    report = await citizen_reports(suite, ids)
    clue_id, code = report["id"], report["receipt_code"]
    await transferred(suite, ids, clue_id)

    # The unit handler sees the transfer in its own list; another unit neither sees nor files it.
    mine = await suite.gateway.get("/api/v1/triage/transfers", headers=ids.bearer("unit_handler", unit=UNIT))
    assert mine.status_code == 200, mine.text
    [item] = [t for t in mine.json()["items"] if t["clue_id"] == clue_id]
    assert item["state"] == "assigned" and item["state_label"] == "待办理" and item["deadline"]
    theirs = await suite.gateway.get("/api/v1/triage/transfers", headers=ids.bearer("unit_handler", unit=OTHER_UNIT))
    assert clue_id not in {t["clue_id"] for t in theirs.json()["items"]}
    refused = await unit_files(suite, ids, clue_id, unit=OTHER_UNIT)
    assert refused.status_code == 404 and refused.json()["detail"] == "没有这条转办线索。"
    officer_cannot_file = await suite.gateway.post(f"/api/v1/triage/transfers/{clue_id}/results",
                                                   headers=ids.bearer("triage_officer"), data={"actions": "x"})
    assert officer_cannot_file.status_code == 403
    incomplete = await suite.gateway.post(f"/api/v1/triage/transfers/{clue_id}/results",
                                          headers=ids.bearer("unit_handler", unit=UNIT), data={"actions": "已处理"})
    assert incomplete.status_code == 422 and "责任人" in incomplete.json()["detail"]
    not_a_document = await suite.gateway.post(
        f"/api/v1/triage/transfers/{clue_id}/results", headers=ids.bearer("unit_handler", unit=UNIT),
        data={"actions": "调取监控", "findings": "属实", "responsible": "张某"},
        files=[("evidence", ("a.exe", b"MZ\x90\x00" * 64, "application/octet-stream"))])
    assert not_a_document.status_code == 415 and "格式不受支持" in not_a_document.json()["detail"]
    cannot_review_yet = await suite.gateway.post(f"/api/v1/triage/transfers/{clue_id}/review",
                                                 headers=ids.bearer("triage_officer"),
                                                 json={"decision": "return", "reason": "太简单"})
    assert cannot_review_yet.status_code == 409 and "待办理" in cannot_review_yet.json()["detail"]

    # Round 1: filed with evidence, on time; the deadline stops being watched.
    filed = await unit_files(suite, ids, clue_id)
    assert filed.status_code == 201, filed.text
    body = filed.json()
    assert body["state"] == "filed" and body["results"][0]["on_time"] is True
    [evidence] = body["results"][0]["evidence"]
    assert evidence["media_type"] == "application/pdf" and evidence["name"] == "处理记录.pdf"
    result_id = body["results"][0]["id"]
    blob = await suite.gateway.get(f"/api/v1/triage/transfers/{clue_id}/results/{result_id}/evidence/0",
                                   headers=ids.bearer("triage_officer"))
    assert blob.status_code == 200 and blob.content == PDF
    public_blob = await suite.gateway.get(f"/api/v1/triage/transfers/{clue_id}/results/{result_id}/evidence/0")
    assert public_blob.status_code == 401
    twice = await unit_files(suite, ids, clue_id)
    assert twice.status_code == 409

    async def watch():
        async with suite.apps["notification"].state.sessions() as session:
            return (await session.execute(select(deadlines).where(deadlines.c.ref_id == clue_id))).first()
    settled = await eventually(lambda: _resolved(watch))
    # The daily 督办 pass long after the deadline escalates nothing: the unit answered.
    async with session_scope(suite.apps["notification"].state.sessions) as session:
        counts = await notification.remind_and_escalate(
            session, notifier=suite.apps["notification"].state.notifier,
            today=date.fromordinal(settled.deadline.toordinal() + 30))
    assert (await watch()).escalated_on is None, counts

    # The officer returns it with a reason; the unit is told, and the new deadline is watched.
    no_reason = await suite.gateway.post(f"/api/v1/triage/transfers/{clue_id}/review",
                                         headers=ids.bearer("triage_officer"), json={"decision": "return"})
    assert no_reason.status_code == 422
    unit_cannot_review = await suite.gateway.post(f"/api/v1/triage/transfers/{clue_id}/review",
                                                  headers=ids.bearer("unit_handler", unit=UNIT),
                                                  json={"decision": "accept", "outcome_summary": "好"})
    assert unit_cannot_review.status_code == 403
    returned = await suite.gateway.post(f"/api/v1/triage/transfers/{clue_id}/review",
                                        headers=ids.bearer("triage_officer"),
                                        json={"decision": "return", "reason": "未说明整改措施，请补充"})
    assert returned.status_code == 200, returned.text
    assert (returned.json()["state"], returned.json()["round"], returned.json()["returns"]) == ("returned", 2, 1)

    async def return_notice():
        inbox = await suite.gateway.get("/api/v1/notification/inbox", headers=ids.bearer("unit_handler", unit=UNIT))
        return [m for m in inbox.json()["items"] if m["template"] == "unit/transfer_returned"
                and report["tracking_number"] in m["body"]]
    [notice] = await eventually(return_notice)
    assert "未说明整改措施，请补充" in notice["body"] and "重新报送" in notice["body"]
    reopened = await eventually(lambda: _open(watch))
    assert reopened.deadline.isoformat() == returned.json()["deadline"]

    # Round 2 filed and accepted: the clue concludes; the reporter hears the outcome by the receipt code.
    assert (await unit_files(suite, ids, clue_id, with_evidence=False)).status_code == 201
    accepted = await suite.gateway.post(f"/api/v1/triage/transfers/{clue_id}/review",
                                        headers=ids.bearer("triage_officer"),
                                        json={"decision": "accept",
                                              "outcome_summary": "承办单位已对当事人批评教育，并调整窗口值守安排。"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state_label"] == "已办结"
    assert [r["review"] for r in accepted.json()["results"]] == ["returned", "accepted"]

    async def concluded():
        status = await receipt(suite, code)
        return status if status["status"] == "concluded" and any(
            f["stage"] == "rating-request" for f in status["feedback"]) else None
    status = await eventually(concluded)
    [outcome] = [f for f in status["feedback"] if f["stage"] == "transfer-concluded"]
    assert "调整窗口值守安排" in outcome["message"] and "属实" in outcome["message"]
    assert "张某" not in str(status)  # the person responsible is the officer's to read, not the reporter's
    [ask] = [f for f in status["feedback"] if f["stage"] == "rating-request"]
    link = re.search(r"https?://\S+/api/v1/notification/ratings/(\S+)", ask["message"])
    assert link, ask["message"]
    token = link.group(1)

    # The rating link is public through the gateway: JSON for a client, then a rating with a comment.
    seen = await suite.gateway.get(f"/api/v1/notification/ratings/{token}")
    assert seen.status_code == 200, seen.text
    assert seen.json()["answered"] is False
    rated = await suite.gateway.post(f"/api/v1/notification/ratings/{token}",
                                     json={"rating": 4, "comment": "处理及时"})
    assert rated.status_code == 201, rated.text
    again = await suite.gateway.post(f"/api/v1/notification/ratings/{token}", json={"rating": 1})
    assert again.status_code == 409 and "只能评价一次" in again.json()["detail"]
    async with suite.apps["notification"].state.sessions() as session:
        row = (await session.execute(select(ratings).where(ratings.c.clue_id == clue_id))).one()
    assert (row.rating, row.comment, row.case_id) == (4, "处理及时", None)

    # The unit heard it passed; statistics count the transfer, the on-time results and the return.
    stats = await suite.gateway.get("/api/v1/triage/transfers/stats", headers=ids.bearer("triage_officer"))
    assert stats.status_code == 200, stats.text
    [unit_counts] = [u for u in stats.json()["by_unit"] if u["unit_id"] == UNIT]
    assert unit_counts["transfers"] >= 1 and unit_counts["returned"] >= 1 and unit_counts["concluded"] >= 1
    assert unit_counts["on_time"] >= 2 and stats.json()["labels"]["returned"] == "退回重办"
    assert (await suite.gateway.get("/api/v1/triage/transfers/stats",
                                    headers=ids.bearer("unit_handler", unit=UNIT))).status_code == 403


async def test_an_officer_turns_a_transferred_clue_into_a_case(suite, ids):
    await directory(suite, ids)
    report = await citizen_reports(suite, ids)
    clue_id = report["id"]
    await transferred(suite, ids, clue_id)
    assert (await unit_files(suite, ids, clue_id)).status_code == 201
    # The result shows misconduct: the officer screens the clue again, as accepted for supervision.
    opened = await suite.gateway.patch(f"/api/v1/triage/clues/{clue_id}", headers=ids.bearer("triage_officer"),
                                       json={"decision": "accept", "reason": "办理结果显示存在违纪问题，转立案核查"})
    assert opened.status_code == 200, opened.text

    async def case():
        listed = await suite.gateway.get("/api/v1/accountability/cases", headers=ids.bearer("investigator"),
                                         params={"clue_id": clue_id})
        assert listed.status_code == 200, listed.text
        return [c for c in listed.json()["items"] if report["tracking_number"] in c["title"]]
    assert await eventually(case)
    # No longer a transfer: the unit can neither see it in its list nor file for it.
    mine = await suite.gateway.get("/api/v1/triage/transfers", headers=ids.bearer("unit_handler", unit=UNIT))
    assert clue_id not in {t["clue_id"] for t in mine.json()["items"]}
    assert (await unit_files(suite, ids, clue_id)).status_code == 404


async def _resolved(watch):
    row = await watch()
    return row if row is not None and row.resolved_at is not None else None


async def _open(watch):
    row = await watch()
    return row if row is not None and row.resolved_at is None else None


async def test_an_unrated_handling_is_reminded_once_with_a_link_that_answers_the_same_request(suite, ids):
    await directory(suite, ids)
    report = await citizen_reports(suite, ids)
    clue_id, code = report["id"], report["receipt_code"]
    await transferred(suite, ids, clue_id)
    assert (await unit_files(suite, ids, clue_id)).status_code == 201
    assert (await suite.gateway.post(f"/api/v1/triage/transfers/{clue_id}/review", headers=ids.bearer("triage_officer"),
                                     json={"decision": "accept", "outcome_summary": "已整改。"})).status_code == 200

    async def asked():
        async with suite.apps["notification"].state.sessions() as session:
            return (await session.execute(select(ratings).where(ratings.c.clue_id == clue_id))).first()
    await eventually(asked)
    notifier = suite.apps["notification"].state.notifier

    async def reminder_pass(today: date) -> int:
        async with session_scope(suite.apps["notification"].state.sessions) as session:
            return await notification.remind_unrated(session, notifier=notifier, today=today)
    today = notification.today_local()
    assert await reminder_pass(today) == 0  # just asked: too early
    later = date.fromordinal(today.toordinal() + 10)  # well past 3 working days
    assert await reminder_pass(later) >= 1
    assert (await asked()).reminded_on == later
    assert await reminder_pass(later) == 0  # once only

    async def reminded():
        status = await receipt(suite, code)
        return [f for f in status["feedback"] if f["stage"] == "rating-reminder"]
    [message] = await eventually(reminded)
    token = re.search(r"/api/v1/notification/ratings/(\S+)", message["message"]).group(1)
    rated = await suite.gateway.post(f"/api/v1/notification/ratings/{token}", json={"rating": 5})
    assert rated.status_code == 201, rated.text
    assert (await asked()).rating == 5


async def test_a_late_return_event_never_reopens_a_round_the_unit_already_answered(suite):
    """The transfer's events travel on three topics, not ordered with each other: handled out of order,
    a round's filing before its return, the deadline stays settled and nothing escalates."""
    import uuid
    from datetime import UTC, datetime

    from services.common.contracts.transfers import TransferResultFiled, TransferReturned
    from services.notification.service import transfers as loop

    clue_id, now = uuid.uuid4(), datetime.now(UTC)
    common = dict(clue_id=clue_id, result_id=uuid.uuid4(), tracking_number="ZF-20261201-999999", unit_id=UNIT)
    notifier = suite.apps["notification"].state.notifier
    async with session_scope(suite.apps["notification"].state.sessions) as session:
        await loop.transfer_result_filed(session, notifier=notifier, source=f"t-{clue_id}-2", event=TransferResultFiled(
            **common, round=2, deadline=date(2026, 12, 8), on_time=True, filed_at=now))
        await loop.transfer_returned(session, notifier=notifier, source=f"t-{clue_id}-r", event=TransferReturned(
            **common, round=2, reason="补充材料", deadline=date(2026, 12, 8), working_days=5, returned_at=now))
    async with suite.apps["notification"].state.sessions() as session:
        row = (await session.execute(select(deadlines).where(deadlines.c.ref_id == clue_id))).one()
    assert row.resolved_at is not None and row.round == 2
