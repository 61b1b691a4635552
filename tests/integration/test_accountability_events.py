"""Accountability's consumed events (triaged clues, evaluation results) and its rectification ledger worker."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from services.accountability.models import case_clues, cases, measures, persons, proposals, rectifications
from services.accountability.service.ledger import detect_overdue
from services.common.contracts.accountability import RectificationAssigned, RectificationOverdue
from services.common.contracts.evaluation import CategoryResult, Consequence, ResultsPublished
from services.common.contracts.triage import ClueTriaged
from services.common.db import session_scope
from services.common.ids import new_id

from ..support import eventually
from .test_accountability_cases import API, EventLog, a_decided_case, a_unit, call, publish_as


def triaged(clue_id: uuid.UUID | None = None, **fields) -> ClueTriaged:
    clue_id = clue_id or new_id()
    return ClueTriaged(**{"clue_id": clue_id, "tracking_number": f"ZF-20261121-{secrets.randbelow(10**6):06d}",
                          "run_date": date.today(), "decision": "accept", "family": "slow_action",
                          "type_code": "slow_passing_the_buck", **fields})


async def case_of(suite, clue_id: uuid.UUID):
    async with suite.apps["accountability"].state.sessions() as session:
        return await session.scalar(select(case_clues.c.case_id).where(case_clues.c.clue_id == clue_id))


async def test_accepted_clue_opens_one_case_and_a_merged_duplicate_joins_it(suite, ids):
    unit_id = await a_unit(suite)
    first = triaged(unit_id=unit_id)
    # Triage re-screening the same clue (a second event for it) must not open a second case.
    await publish_as(suite, "triage", first, triaged(first.clue_id, unit_id=unit_id,
                                                     tracking_number=first.tracking_number))
    case_id = await eventually(lambda: case_of(suite, first.clue_id))
    duplicate = triaged(decision="merge", merged_into=first.clue_id, unit_id=unit_id, tags=["eight_rules_banquet"])
    set_aside = triaged(decision="set_aside", reason="不属于受理范围")
    must = triaged(decision="transfer", must_investigate=True, must_investigate_triggers=["investor_withdrawal"])
    organization = triaged(channel="hotline_12380", tags=["formalism"])
    await publish_as(suite, "triage", duplicate, set_aside, must, organization)
    must_case = await eventually(lambda: case_of(suite, must.clue_id))
    org_case = await eventually(lambda: case_of(suite, organization.clue_id))
    officer = ids.bearer("investigator")
    must_detail = await call(suite, "GET", f"/cases/{must_case}", officer)
    assert must_detail["must_investigate"] is True and must_detail["lead_body"] == "commission"
    # 12380 is the organization department's line: the case it opens is led by it and keeps the clue's tags,
    # with the fast-lane time limit of a 四风 case.
    org_detail = await call(suite, "GET", f"/clues/{organization.clue_id}/case", officer)
    assert (org_detail["id"], org_detail["lead_body"], org_detail["tags"]) == (str(org_case), "organization",
                                                                              ["formalism"])
    opened_on = datetime.fromisoformat(org_detail["opened_at"]).astimezone(ZoneInfo("Asia/Shanghai")).date()
    assert org_detail["due_on"] == (opened_on + timedelta(days=30)).isoformat()
    tagged = await call(suite, "GET", "/cases", officer, params={"tag": "formalism", "origin": "clue",
                                                                 "clue_id": str(organization.clue_id)})
    assert [c["id"] for c in tagged["items"]] == [str(org_case)]
    refused = await suite.gateway.post(f"{API}/cases/{org_case}/transitions", headers=officer,
                                       json={"action": "file"})
    assert refused.status_code == 403 and "市委组织部" in refused.json()["detail"]
    await call(suite, "POST", f"/cases/{org_case}/transitions", ids.bearer("org_officer"), json={"action": "file"})
    assert await eventually(lambda: case_of(suite, duplicate.clue_id)) == case_id
    assert await case_of(suite, set_aside.clue_id) is None

    detail = await call(suite, "GET", f"/cases/{case_id}", ids.bearer("investigator"))
    assert detail["clue_ids"] == [str(first.clue_id), str(duplicate.clue_id)]
    assert detail["source"] == "clue" and detail["problem_type"] == "slow_passing_the_buck"
    assert detail["tags"] == ["eight_rules_banquet"]  # the repeat's tags join the case
    assert detail["unit_name"] == "市质量技术监督局"
    async with suite.apps["accountability"].state.sessions() as session:
        opened = await session.scalar(select(func.count()).select_from(case_clues).where(
            case_clues.c.clue_id.in_([first.clue_id, duplicate.clue_id])))
    assert opened == 2


def results(campaign_id: uuid.UUID, *consequences: Consequence) -> ResultsPublished:
    return ResultsPublished(campaign_id=campaign_id, name="2026年万人评机关", period="2026",
                            published_at=datetime.now(UTC), categories=[
                                CategoryResult(category="机关科室", ranking=[], top_ten=[], bottom_ten=[])],
                            consequences=list(consequences))


async def test_evaluation_consequences_arrive_as_proposals_that_the_competent_officer_decides(suite, ids):
    yellow = await a_unit(suite, name="某街道办")
    last = await a_unit(suite, name="某局")
    campaign = new_id()
    event = results(
        campaign,
        Consequence(kind="yellow_card", unit_id=yellow, unit_name="某街道办", reason="测评不合格"),
        Consequence(kind="last_ranked_unit", unit_id=last, unit_name="某局", reason="机关科室类排名末位"),
        Consequence(kind="exemplar", unit_id=last, unit_name="某局", reason="not a matter for accountability"),
    )
    # Published twice (a re-run of the publication): still one proposal per consequence.
    await publish_as(suite, "evaluation", event)
    await publish_as(suite, "evaluation", results(campaign, *event.consequences))

    async def proposed():
        async with suite.apps["accountability"].state.sessions() as session:
            rows = (await session.execute(select(proposals).where(
                proposals.c.origin_key.like(f"evaluation:{campaign}:%")))).all()
            return rows if len(rows) >= 2 else None

    rows = {r.kind: r for r in await eventually(proposed)}
    assert set(rows) == {"yellow_card", "last_ranked_unit"}
    # No sanction that nobody decided: no case, no measure exists yet.
    async with suite.apps["accountability"].state.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(cases).where(
            cases.c.origin_key.like(f"evaluation:{campaign}:%"))) == 0

    commission, organization = ids.bearer("investigator"), ids.bearer("org_officer")
    org_queue = await call(suite, "GET", "/proposals", organization, params={"limit": 500})
    mine = next(p for p in org_queue["items"] if p["id"] == str(rows["yellow_card"].id))
    assert (mine["body_name"], mine["status_name"], mine["suggested_measure_name"]) == ("市委组织部", "待研判", "黄牌警告")
    assert mine["persons"][0]["name"] == "王局长"
    assert str(rows["last_ranked_unit"].id) not in {p["id"] for p in org_queue["items"]}
    commission_queue = await call(suite, "GET", "/proposals", commission, params={"limit": 500})
    assert str(rows["yellow_card"].id) not in {p["id"] for p in commission_queue["items"]}
    assert str(rows["last_ranked_unit"].id) in {p["id"] for p in commission_queue["items"]}

    yellow_path = f"/proposals/{rows['yellow_card'].id}/decision"
    not_ours = await suite.gateway.post(API + yellow_path, headers=commission, json={"decision": "accept"})
    assert not_ours.status_code == 403 and "市委组织部" in not_ours.json()["detail"]
    no_reason = await suite.gateway.post(API + yellow_path, headers=organization, json={"decision": "modify",
                                                                                       "suggested_measure": "interview"})
    assert no_reason.status_code == 422
    modified = await call(suite, "POST", yellow_path, organization, json={
        "decision": "modify", "suggested_measure": "interview", "reason": "首次不合格, 先约谈主要负责人"})
    assert (modified["status"], modified["suggested_measure_name"]) == ("modified", "约谈")
    again = await suite.gateway.post(API + yellow_path, headers=organization, json={"decision": "accept"})
    assert again.status_code == 409

    carded = await call(suite, "GET", f"/cases/{modified['case_id']}", organization)
    assert (carded["state"], carded["source"], carded["lead_body"]) == ("preliminary_check", "evaluation", "organization")
    assert carded["campaign"] == str(campaign) and "约谈" in carded["summary"]
    leader = carded["persons"][0]
    assert leader["name"] == "王局长" and leader["measures"] == []
    # Measures come only after a substantiated finding, decided the usual way.
    early = await suite.gateway.post(f"{API}/cases/{carded['id']}/persons/{leader['id']}/measures",
                                     headers=organization, json={"code": "interview"})
    assert early.status_code == 409 and "认定属实" in early.json()["detail"]

    declined = await call(suite, "POST", f"/proposals/{rows['last_ranked_unit'].id}/decision", commission, json={
        "decision": "decline", "reason": "排名末位系样本不足所致, 不予追责"})
    assert (declined["status"], declined["case_id"]) == ("declined", None)
    listed = await call(suite, "GET", "/cases", commission, params={"origin": "evaluation", "campaign": str(campaign)})
    assert [c["id"] for c in listed["items"]] == [modified["case_id"]]

    # A later event on the same topic proves both earlier ones were handled; still exactly two proposals.
    await publish_as(suite, "evaluation", results(new_id()))
    async with suite.apps["accountability"].state.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(proposals).where(
            proposals.c.origin_key.like(f"evaluation:{campaign}:%")))
        measured = await session.scalar(select(func.count()).select_from(measures).join(
            persons, persons.c.id == measures.c.person_id).where(persons.c.case_id == uuid.UUID(modified["case_id"])))
    assert (total, measured) == (2, 0)


async def test_overdue_item_is_reported_once_and_a_look_back_reopens_the_closed_case(suite, ids, infra):
    unit_id = await a_unit(suite)
    officer = ids.bearer("investigator")
    case = await a_decided_case(suite, ids, unit_id)
    case_id = case["id"]
    deadline = date.today() + timedelta(days=3)
    past = await suite.gateway.post(f"{API}/cases/{case_id}/rectifications", headers=officer, json={
        "task": "t", "deadline": (date.today() - timedelta(days=3)).isoformat()})
    assert past.status_code == 422
    item = await call(suite, "POST", f"/cases/{case_id}/rectifications", officer, 201, json={
        "task": "窗口办事流程公开", "deadline": deadline.isoformat(), "responsible": "办公室"})
    assert (await call(suite, "GET", f"/cases/{case_id}", officer))["state"] == "rectifying"

    app = suite.apps["accountability"]
    later = deadline + timedelta(days=2)
    async with session_scope(app.state.sessions) as session:
        assert await detect_overdue(session, app.state.outbox, today=later) >= 1
    async with session_scope(app.state.sessions) as session:
        assert await detect_overdue(session, app.state.outbox, today=later) == 0  # nothing new to report
        overdue_for = await session.scalar(select(rectifications.c.overdue_for).where(
            rectifications.c.id == uuid.UUID(item["id"])))
    assert overdue_for == deadline

    async with EventLog(infra, RectificationOverdue) as overdue, EventLog(infra, RectificationAssigned) as assigned:
        assert await eventually(lambda: assigned.matching(lambda e: e["rectification_id"] == item["id"]))
        assert await eventually(lambda: overdue.matching(lambda e: e["rectification_id"] == item["id"]))
        assert len(await overdue.matching(lambda e: e["rectification_id"] == item["id"])) == 1

    handler = ids.bearer("unit_handler", unit=unit_id)
    await call(suite, "POST", f"/cases/{case_id}/rectifications/{item['id']}/evidence", handler,
               json={"evidence": "流程已上墙并在网站公开"})
    await call(suite, "POST", f"/cases/{case_id}/rectifications/{item['id']}/sign-off", officer)
    closed = await call(suite, "POST", f"/cases/{case_id}/transitions", officer, json={"action": "close"})
    assert closed["state"] == "closed"

    reopened = await call(suite, "POST", f"/cases/{case_id}/rectifications/{item['id']}/look-back", officer, json={
        "reason": "回头看发现流程公开后又撤下", "deadline": (date.today() + timedelta(days=15)).isoformat()})
    assert reopened["status"] == "open" and reopened["look_backs"] == 1 and reopened["evidence"] is None
    assert (await call(suite, "GET", f"/cases/{case_id}", officer))["state"] == "rectifying"
    again = await suite.gateway.post(f"{API}/cases/{case_id}/rectifications/{item['id']}/look-back",
                                     headers=officer, json={"reason": "x", "deadline": date.today().isoformat()})
    assert again.status_code == 409

    # Overdue again under the new deadline: a new commitment, so one new report.
    async with session_scope(app.state.sessions) as session:
        await session.execute(update(rectifications).where(rectifications.c.id == uuid.UUID(item["id"]))
                              .values(deadline=date.today() + timedelta(days=1)))
    async with session_scope(app.state.sessions) as session:
        assert await detect_overdue(session, app.state.outbox, today=date.today() + timedelta(days=30)) >= 1
    listed = await call(suite, "GET", "/rectifications", handler, params={"overdue": "false"})
    assert [r["id"] for r in listed["items"]] == [item["id"]]


async def test_a_case_opened_before_its_unit_was_known_gets_the_unit_from_the_directory_later(suite, ids):
    unit_id = f"U-late-{secrets.token_hex(3)}"
    clue = triaged(unit_id=unit_id)
    await publish_as(suite, "triage", clue)
    case_id = await eventually(lambda: case_of(suite, clue.clue_id))
    await a_unit(suite, unit_id=unit_id, name="某县行政审批局")

    async def named():
        detail = await call(suite, "GET", f"/cases/{case_id}", ids.bearer("investigator"))
        return detail if detail["unit_name"] else None

    detail = await eventually(named)
    assert (detail["unit_name"], detail["region"]) == ("某县行政审批局", "城区")
