"""Accountability through the gateway on real Kafka and PostgreSQL: a case's whole life, its guards and events."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta

from aiokafka import AIOKafkaConsumer
from sqlalchemy import select

from services.accountability.models import audit_log, award_ineligibility, cases, units
from services.common.audit import verify_chain
from services.common.contracts.accountability import CaseClosed, CaseConcluded, CaseOpened, UnitAwardIneligible
from services.common.contracts.base import EventContract
from services.common.contracts.triage import UnitUpserted
from services.common.db import session_scope
from services.common.events import CloudEvent

from ..support import eventually

API = "/api/v1/accountability"


class EventLog:
    """Reads one topic of the test run from the beginning, on the real broker."""

    def __init__(self, infra, contract: type[EventContract]) -> None:
        self.topic = contract.topic(infra["KAFKA_TOPIC_PREFIX"])
        self.consumer = AIOKafkaConsumer(self.topic, bootstrap_servers=infra["KAFKA_BOOTSTRAP_SERVERS"],
                                         auto_offset_reset="earliest", enable_auto_commit=False)
        self.seen: list[dict] = []

    async def __aenter__(self) -> EventLog:
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.consumer.stop()

    async def matching(self, predicate) -> list[dict]:
        batches = await self.consumer.getmany(timeout_ms=200)
        for records in batches.values():
            self.seen.extend(CloudEvent.from_bytes(r.value).data for r in records)
        return [e for e in self.seen if predicate(e)]


async def publish_as(suite, service: str, *contracts: EventContract) -> None:
    """Another service's event, through that service's own outbox and relay (nothing faked)."""
    app = suite.apps[service]
    async with session_scope(app.state.sessions) as session:
        await app.state.outbox.publish_many(session, list(contracts))


async def a_unit(suite, **overrides) -> str:
    unit_id = overrides.pop("unit_id", f"U-{secrets.token_hex(4)}")
    await publish_as(suite, "triage", UnitUpserted(
        unit_id=unit_id, name=overrides.pop("name", "市质量技术监督局"), level="agency", region="城区",
        principal_leader="王局长", leader_in_charge="李副局长", **overrides))

    async def known():
        async with suite.apps["accountability"].state.sessions() as session:
            return await session.scalar(select(units.c.unit_id).where(units.c.unit_id == unit_id))

    await eventually(known)
    return unit_id


async def call(suite, method: str, path: str, headers, expect: int = 200, **kwargs) -> dict:
    response = await suite.gateway.request(method, API + path, headers=headers, **kwargs)
    assert response.status_code == expect, response.text
    return response.json()


async def a_decided_case(suite, ids, unit_id: str, **case_fields) -> dict:
    officer = ids.bearer("investigator")
    case = await call(suite, "POST", "/cases", officer, 201, json={"title": "未及时传达市政府文件", "unit_id": unit_id,
                                                                   **case_fields})
    await call(suite, "POST", f"/cases/{case['id']}/transitions", officer, json={"action": "file"})
    person = (await call(suite, "POST", f"/cases/{case['id']}/persons", officer, 201, json={
        "name": "张三", "post": "办公室主任", "rank": "township", "party_member": True, "responsibility": "direct"}))["id"]
    await call(suite, "POST", f"/cases/{case['id']}/findings", officer, json={
        "finding": "substantiated", "summary": "办公室主任张三未及时传达文件", "outcome_summary": "您反映的问题属实，已依规处理。"})
    await call(suite, "POST", f"/cases/{case['id']}/persons/{person}/measures", officer, 201,
               json={"code": "written_self_criticism"})
    return await call(suite, "POST", f"/cases/{case['id']}/transitions", officer, json={"action": "decide"})


async def test_a_serious_unit_case_runs_its_whole_life_with_joint_examination(suite, ids, infra):
    unit_id = await a_unit(suite)
    officer = ids.bearer("investigator")
    case = await call(suite, "POST", "/cases", officer, 201, json={
        "title": "市政府安排工作未按时完成", "unit_id": unit_id, "serious": True, "problem_type": "slow_uncoordinated",
        "problem_family": "slow_action"})
    assert case["state"] == "preliminary_check" and case["case_number"].startswith("AC-")
    assert case["region"] == "城区" and case["unit_name"] == "市质量技术监督局"
    assert case["joint_examination"]["principal_leader"] == "王局长"
    case_id = case["id"]

    # 初核 cannot jump to 结案: a clear, stable problem naming what is allowed.
    refused = await suite.gateway.post(f"{API}/cases/{case_id}/transitions", json={"action": "close"}, headers=officer)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/invalid-transition")
    assert set(refused.json()["allowed_actions"]) == {"file", "dismiss"}

    await call(suite, "POST", f"/cases/{case_id}/transitions", officer, json={"action": "file"})
    person = await call(suite, "POST", f"/cases/{case_id}/persons", officer, 201, json={
        "name": "赵主任", "post": "办公室主任", "rank": "township", "party_member": False, "responsibility": "direct"})
    assert person["name"] == "赵主任" and person["case_id"] == case_id  # the person created, not the case
    direct = person["id"]
    naming = await suite.gateway.post(f"{API}/cases/{case_id}/findings", headers=officer, json={
        "finding": "partly_substantiated", "summary": "未传达文件", "outcome_summary": "赵主任已受到处理。"})
    assert naming.status_code == 422 and naming.json()["type"].endswith("/outcome-names-person")
    await call(suite, "POST", f"/cases/{case_id}/findings", officer, json={
        "finding": "partly_substantiated", "summary": "赵主任未传达文件精神", "outcome_summary": "您反映的问题部分属实，已责成整改。"})

    party_for_non_member = await suite.gateway.post(
        f"{API}/cases/{case_id}/persons/{direct}/measures", json={"code": "party_warning"}, headers=officer)
    assert party_for_non_member.status_code == 422
    assert party_for_non_member.json()["type"].endswith("/party-sanction-for-non-member")
    measure = await call(suite, "POST", f"/cases/{case_id}/persons/{direct}/measures", officer, 201,
                         json={"code": "circulated_criticism"})
    assert (measure["form"], measure["family"], measure["name"]) == (1, "education", "通报批评")
    await call(suite, "POST", f"/cases/{case_id}/transitions", officer, json={"action": "decide"})

    # 一案双查: neither leader examined yet.
    blocked = await suite.gateway.post(f"{API}/cases/{case_id}/transitions", json={"action": "close"}, headers=officer)
    assert blocked.status_code == 409, blocked.text
    assert blocked.json()["type"].endswith("/joint-examination-incomplete")
    assert set(blocked.json()["missing"]) == {"principal_leader", "leader_in_charge"}
    excuse = await suite.gateway.post(f"{API}/cases/{case_id}/leader-clearances", headers=officer, json={
        "leader_role": "leader_in_charge", "reason": "该事项经局党组集体研究决定"})
    assert excuse.status_code == 422 and excuse.json()["type"].endswith("/collective-decision-no-excuse")
    await call(suite, "POST", f"/cases/{case_id}/leader-clearances", officer, 201, json={
        "leader_role": "leader_in_charge", "reason": "分管负责人当时不分管办公室，文件未经其手"})
    still = await suite.gateway.post(f"{API}/cases/{case_id}/transitions", json={"action": "close"}, headers=officer)
    assert still.json()["missing"] == ["principal_leader"]

    # The principal leader, named by the unit directory, is brought in after the first decision (一案双查).
    leader = await call(suite, "POST", f"/cases/{case_id}/persons", officer, 201, json={
        "leader_role": "principal_leader", "party_member": True, "responsibility": "principal_leadership",
        "rank": "county"})
    assert leader["name"] == "王局长" and leader["post"] == "主要负责人"
    await call(suite, "POST", f"/cases/{case_id}/persons/{leader['id']}/measures", officer, 201,
               json={"code": "admonishment"})
    assert (await call(suite, "GET", f"/cases/{case_id}", officer))["joint_examination"]["missing"] == []

    # Rectification: the unit's handler sees and answers only its own unit's items.
    item = await call(suite, "POST", f"/cases/{case_id}/rectifications", officer, 201, json={
        "task": "建立文件传达台账", "deadline": (date.today() + timedelta(days=10)).isoformat(), "responsible": "办公室"})
    pending = await suite.gateway.post(f"{API}/cases/{case_id}/transitions", json={"action": "close"}, headers=officer)
    assert pending.status_code == 409 and pending.json()["type"].endswith("/rectification-pending")
    no_evidence = await suite.gateway.post(f"{API}/cases/{case_id}/rectifications/{item['id']}/sign-off",
                                           headers=officer)
    assert no_evidence.status_code == 409 and no_evidence.json()["type"].endswith("/evidence-required")
    stranger = ids.bearer("unit_handler", unit="U-someone-else")
    assert (await suite.gateway.get(f"{API}/cases/{case_id}", headers=stranger)).status_code == 404
    assert (await suite.gateway.post(f"{API}/cases/{case_id}/rectifications/{item['id']}/evidence",
                                     json={"evidence": "x"}, headers=stranger)).status_code == 404
    handler = ids.bearer("unit_handler", unit=unit_id)
    mine = await call(suite, "GET", "/rectifications", handler)
    assert [r["id"] for r in mine["items"]] == [item["id"]]
    assert (await call(suite, "GET", "/cases", handler))["items"][0]["id"] == case_id
    await call(suite, "POST", f"/cases/{case_id}/rectifications/{item['id']}/evidence", handler,
               json={"evidence": "已建立文件传达台账并抽查三个月记录"})
    signed = await call(suite, "POST", f"/cases/{case_id}/rectifications/{item['id']}/sign-off", officer)
    assert signed["status"] == "signed_off"

    closed = await call(suite, "POST", f"/cases/{case_id}/transitions", officer, json={"action": "close"})
    assert closed["state"] == "closed" and closed["allowed_actions"] == ["reopen"]

    async with EventLog(infra, CaseConcluded) as concluded, EventLog(infra, CaseClosed) as closed_log, \
            EventLog(infra, CaseOpened) as opened:
        assert await eventually(lambda: opened.matching(lambda e: e["case_id"] == case_id))
        outcome = (await eventually(lambda: concluded.matching(lambda e: e["case_id"] == case_id)))[0]
        assert outcome["finding"] == "partly_substantiated" and outcome["counts_against_unit"] is True
        assert "赵" not in outcome["outcome_summary"] and "王" not in outcome["outcome_summary"]
        assert await eventually(lambda: closed_log.matching(lambda e: e["case_id"] == case_id))
    # A major (serious) case costs no award by itself (that is 五必查's rule), but its unit holds a
    # 专题民主生活会 within 30 days of closing.
    follow_ups = await call(suite, "GET", "/follow-ups", officer, params={"status": "open"})
    mine = next(f for f in follow_ups if f["case_id"] == case_id)
    assert mine["due_on"] in {(date.today() + timedelta(days=d)).isoformat() for d in (29, 30, 31)}  # city day
    assert (await call(suite, "GET", "/follow-ups", handler))[0]["case_id"] == case_id
    held = await call(suite, "POST", f"/cases/{case_id}/life-meeting", officer, json={
        "held_on": date.today().isoformat(), "minutes": "局党组召开专题民主生活会, 剖析原因, 查找问题"})
    assert held["status"] == "done" and held["overdue"] is False
    async with suite.apps["accountability"].state.sessions() as session:
        assert await session.scalar(select(award_ineligibility.c.unit_id).where(
            award_ineligibility.c.unit_id == unit_id)) is None

    async with suite.apps["accountability"].state.sessions() as session:
        actions = (await session.scalars(select(audit_log.c.action).where(
            audit_log.c.entity_type == "case", audit_log.c.entity_id == case_id).order_by(audit_log.c.seq))).all()
        assert actions[:3] == ["case.opened", "case.file", "case.substantiate"] and actions[-2:] == ["case.close", "case.life-meeting-held"]
        assert (await verify_chain(session, audit_log)).intact


async def test_a_leader_recorded_before_the_decision_satisfies_joint_examination(suite, ids):
    unit_id = await a_unit(suite)
    officer = ids.bearer("org_officer")
    case = await call(suite, "POST", "/cases", officer, 201, json={"title": "单位推诿扯皮", "unit_id": unit_id,
                                                                   "unit_problem": True})
    case_id = case["id"]
    await call(suite, "POST", f"/cases/{case_id}/transitions", officer, json={"action": "file"})
    assert case["lead_body"] == "organization"  # opened by the organization department, led by it
    for role, responsibility in (("principal_leader", "principal_leadership"),
                                 ("leader_in_charge", "important_leadership")):
        await call(suite, "POST", f"/cases/{case_id}/persons", officer, 201, json={
            "leader_role": role, "party_member": True, "responsibility": responsibility, "rank": "county"})
    case = await call(suite, "GET", f"/cases/{case_id}", officer)
    assert {p["name"] for p in case["persons"]} == {"王局长", "李副局长"}
    mismatch = await suite.gateway.post(f"{API}/cases/{case_id}/persons", headers=officer, json={
        "leader_role": "leader_in_charge", "party_member": True, "responsibility": "direct"})
    assert mismatch.status_code == 422
    await call(suite, "POST", f"/cases/{case_id}/findings", officer, json={
        "finding": "substantiated", "summary": "单位推诿", "outcome_summary": "问题属实，已处理。"})
    for person in case["persons"]:
        await call(suite, "POST", f"/cases/{case_id}/persons/{person['id']}/measures", officer, 201,
                   json={"code": "admonishment"})
    await call(suite, "POST", f"/cases/{case_id}/transitions", officer, json={"action": "decide"})
    detail = await call(suite, "GET", f"/cases/{case_id}", officer)
    assert detail["joint_examination"]["missing"] == []
    closed = await call(suite, "POST", f"/cases/{case_id}/transitions", officer, json={"action": "close"})
    assert closed["state"] == "closed"


async def test_auditor_reads_but_cannot_act_and_the_public_cannot_read(suite, ids):
    unit_id = await a_unit(suite)
    case = await a_decided_case(suite, ids, unit_id)
    auditor = ids.bearer("auditor")
    assert (await call(suite, "GET", f"/cases/{case['id']}", auditor))["state"] == "decided"
    assert (await suite.gateway.post(f"{API}/cases/{case['id']}/transitions", json={"action": "close"},
                                     headers=auditor)).status_code == 403
    assert (await suite.gateway.get(f"{API}/cases/{case['id']}")).status_code in (401, 403)
    handler = ids.bearer("unit_handler", unit=unit_id)
    assert (await suite.gateway.post(f"{API}/cases", json={"title": "x"}, headers=handler)).status_code == 403


async def test_exemption_needs_the_whole_checklist_and_can_become_a_benchmark(suite, ids, infra):
    from services.common.contracts.accountability import BenchmarkCasePublished

    unit_id = await a_unit(suite)
    officer = ids.bearer("investigator")
    case = await call(suite, "POST", "/cases", officer, 201, json={"title": "先行先试审批改革出现偏差",
                                                                   "unit_id": unit_id})
    case_id = case["id"]
    await call(suite, "POST", f"/cases/{case_id}/transitions", officer, json={"action": "file"})
    person = (await call(suite, "POST", f"/cases/{case_id}/persons", officer, 201, json={
        "name": "钱科长", "post": "审批科科长", "rank": "township", "party_member": True, "responsibility": "direct"}))["id"]
    await call(suite, "POST", f"/cases/{case_id}/findings", officer, json={
        "finding": "substantiated", "summary": "审批改革偏差", "outcome_summary": "问题属实，已依规处理。"})
    # Wenzhou: the three conditions hold, but the precondition (a reform that missed its aim) is not affirmed.
    criteria = {"acted_under_policy": True, "diligent": True, "no_private_gain": True}
    unmet = await suite.gateway.post(f"{API}/cases/{case_id}/persons/{person}/exemption", headers=officer,
                                     json={"criteria": criteria, "reasons": "改革探索"})
    assert unmet.status_code == 422 and unmet.json()["unmet"] == ["reform_missed_aim"]
    assert "改革创新未能实现预期目标" in unmet.json()["detail"]
    minor = await suite.gateway.post(f"{API}/cases/{case_id}/persons/{person}/exemption", headers=officer,
                                     json={"basis": "minor", "criteria": criteria, "reasons": "情节轻微"})
    assert minor.status_code == 422 and minor.json()["unmet"] == ["minor_circumstances", "corrected_in_time",
                                                                  "no_adverse_effect"]
    await call(suite, "POST", f"/cases/{case_id}/persons/{person}/exemption", officer, 201, json={
        "criteria": {**criteria, "reform_missed_aim": True}, "reasons": "依照市政府改革部署先行先试，程序合规，未谋私利",
        "benchmark": True, "benchmark_title": "审批改革先行先试容错案例"})
    case = await call(suite, "GET", f"/cases/{case_id}", officer)
    assert (case["persons"][0]["exemption"]["kind"], case["persons"][0]["exemption"]["basis"]) == ("exempt", "reform")
    refused = await suite.gateway.post(f"{API}/cases/{case_id}/persons/{person}/measures", headers=officer,
                                       json={"code": "admonishment"})
    assert refused.status_code == 422 and refused.json()["type"].endswith("/person-exempted")
    async with EventLog(infra, BenchmarkCasePublished) as benchmarks:
        published = (await eventually(lambda: benchmarks.matching(lambda e: e["case_id"] == case_id)))[0]
    assert published["title"] == "审批改革先行先试容错案例" and "钱" not in published["summary"]


async def test_unfounded_case_publishes_a_clarification_not_a_typical_case(suite, ids, infra):
    from services.common.contracts.accountability import TypicalCasePublished

    unit_id = await a_unit(suite)
    officer = ids.bearer("investigator")
    case = await call(suite, "POST", "/cases", officer, 201, json={"title": "反映某科长吃拿卡要", "unit_id": unit_id})
    case_id = case["id"]
    await call(suite, "POST", f"/cases/{case_id}/transitions", officer, json={"action": "file"})
    await call(suite, "POST", f"/cases/{case_id}/findings", officer, json={
        "finding": "unfounded", "summary": "经查不属实", "outcome_summary": "经核查，反映问题不属实。"})
    typical = await suite.gateway.post(f"{API}/cases/{case_id}/typical-cases", headers=officer, json={
        "title": "t", "body": "b", "scope": "citywide"})
    assert typical.status_code == 409
    note = await call(suite, "POST", f"/cases/{case_id}/clarifications", officer, 201, json={
        "title": "关于对某科长的澄清正名", "body": "经核查，反映问题不属实，予以澄清。", "scope": "sector"})
    assert note["kind"] == "clarification" and note["case_number"] == case["case_number"]

    decided = await a_decided_case(suite, ids, unit_id)
    published = await call(suite, "POST", f"/cases/{decided['id']}/typical-cases", officer, 201, json={
        "title": "市质监局办公室主任张三未及时传达文件被书面检查", "body": "点名道姓通报", "scope": "citywide"})
    listed = await call(suite, "GET", "/typical-cases", ids.bearer("auditor"), params={"scope": "citywide"})
    assert published["id"] in [i["id"] for i in listed["items"]]
    month = datetime.now(UTC).strftime("%Y-%m")
    bulletin = await call(suite, "GET", f"/bulletins/{month}", ids.bearer("org_officer"))
    assert {published["id"], note["id"]} <= {i["id"] for i in bulletin["typical_cases"]}
    assert bulletin["stats"]["problems"] >= 1
    async with EventLog(infra, TypicalCasePublished) as log:
        async def both():
            found = await log.matching(lambda e: e["case_id"] in (case_id, decided["id"]))
            return found if len(found) >= 2 else None

        kinds = await eventually(both)
    assert sorted(k["kind"] for k in kinds) == ["clarification", "typical"]


async def test_dismissal_needs_a_reason_and_tells_the_reporter_without_details(suite, ids, infra):
    officer = ids.bearer("investigator")
    case = await call(suite, "POST", "/cases", officer, 201, json={"title": "反映不具体"})
    missing = await suite.gateway.post(f"{API}/cases/{case['id']}/transitions", json={"action": "dismiss"},
                                       headers=officer)
    assert missing.status_code == 422
    dismissed = await call(suite, "POST", f"/cases/{case['id']}/transitions", officer,
                           json={"action": "dismiss", "reason": "反映内容无具体事实，无法核查"})
    assert dismissed["state"] == "dismissed" and dismissed["finding"] == "closed_without_filing"
    async with EventLog(infra, CaseConcluded) as log:
        event = (await eventually(lambda: log.matching(lambda e: e["case_id"] == case["id"])))[0]
    assert event["finding"] == "closed_without_filing" and "无具体事实" not in event["outcome_summary"]
    async with suite.apps["accountability"].state.sessions() as session:
        assert await session.scalar(select(cases.c.state).where(cases.c.id == case["id"])) == "dismissed"


async def test_marking_a_found_case_must_investigate_flags_its_unit_once_and_lists_page_by_cursor(suite, ids, infra):
    unit_id = await a_unit(suite)
    officer = ids.bearer("investigator")
    first = await a_decided_case(suite, ids, unit_id)
    second = await a_decided_case(suite, ids, unit_id)
    null_title = await suite.gateway.patch(f"{API}/cases/{first['id']}", headers=officer, json={"title": None})
    assert null_title.status_code == 422
    serious = await call(suite, "PATCH", f"/cases/{first['id']}", officer, json={"serious": True})
    assert serious["serious"] is True  # 重大 is not 五必查: no award loss from it
    async with suite.apps["accountability"].state.sessions() as session:
        assert await session.scalar(select(award_ineligibility.c.case_id).where(
            award_ineligibility.c.unit_id == unit_id)) is None
    for case in (first, second):
        patched = await call(suite, "PATCH", f"/cases/{case['id']}", officer, json={"must_investigate": True})
        assert patched["must_investigate"] is True
    async with EventLog(infra, UnitAwardIneligible) as log:
        flags = await eventually(lambda: log.matching(lambda e: e["unit_id"] == unit_id))
        assert flags[0]["case_id"] == first["id"] and flags[0]["rule"] == "must_investigate"
        assert "取消" in flags[0]["reason"] and "综合类评先评优" in flags[0]["reason"]
    async with suite.apps["accountability"].state.sessions() as session:
        flagged = (await session.execute(select(award_ineligibility.c.case_id).where(
            award_ineligibility.c.unit_id == unit_id))).scalars().all()
    assert [str(c) for c in flagged] == [first["id"]]  # the second serious case adds no second flag

    handler = ids.bearer("unit_handler", unit=unit_id)
    page = await call(suite, "GET", "/cases", handler, params={"limit": 1})
    assert [c["id"] for c in page["items"]] == [first["id"]] and page["next_cursor"] == first["id"]
    rest = await call(suite, "GET", "/cases", handler, params={"limit": 1, "cursor": page["next_cursor"]})
    assert [c["id"] for c in rest["items"]] == [second["id"]]
    last = await call(suite, "GET", "/cases", handler, params={"limit": 1, "cursor": rest["next_cursor"]})
    assert last == {"items": [], "next_cursor": None}
