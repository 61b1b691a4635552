"""The unit complained about sees only what was transferred to it (services/common/scope.py), in every
service, through the gateway, on the real broker and database; a token mixing unit and commission roles
is refused. (Named to run after test_triage_daily, which expects an empty unit directory.)"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime

from services.common.contracts.triage import DailySheetCount, DailySheetPublished

from ..support import eventually
from .test_accountability_cases import publish_as

INTAKE, TRIAGE, ACC = "/api/v1/intake", "/api/v1/triage", "/api/v1/accountability"


async def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


async def a_routed_pair(suite, ids, unit: str) -> tuple[dict, dict]:
    """Two clues about ``unit``: one transferred (转办) to it, one the commission keeps (受理)."""
    officer = ids.bearer("triage_officer")
    made = []
    for text in ("区住建局窗口办事推诿，让群众来回跑了五次", "区住建局科长收受开发商购物卡，违反八项规定"):
        made.append(await ok(await suite.gateway.post(f"{INTAKE}/reports", headers=officer, json={
            "channel": "petition", "text": text, "unit_id": unit, "issue_receipt": False}), 201))
    transferred, kept = made

    async def in_triage():
        found = [await suite.gateway.get(f"{TRIAGE}/clues/{c['id']}", headers=officer) for c in made]
        return all(r.status_code == 200 for r in found)

    await eventually(in_triage)
    await ok(await suite.gateway.patch(f"{TRIAGE}/clues/{transferred['id']}", headers=officer, json={
        "type_code": "idle", "unit_id": unit, "decision": "transfer", "reason": "事权单位办理"}))
    await ok(await suite.gateway.patch(f"{TRIAGE}/clues/{kept['id']}", headers=officer, json={
        "unit_id": unit, "decision": "accept", "reason": "违反八项规定，作风办直接受理"}))

    async def screened():
        got = [await ok(await suite.gateway.get(f"{INTAKE}/clues/{c['id']}", headers=officer)) for c in made]
        return [g["status"] for g in got] == ["transferred", "accepted"]

    await eventually(screened)
    return transferred, kept


async def test_a_unit_handler_sees_only_what_was_transferred_to_it(suite, ids):
    unit = f"u-{secrets.token_hex(3)}"
    body = f"id,name,level\n{unit},某区住建局,agency\n".encode()
    await ok(await suite.gateway.post(f"{TRIAGE}/units:import", content=body, headers={
        **ids.bearer("admin"), "content-type": "text/csv"}))
    transferred, kept = await a_routed_pair(suite, ids, unit)
    handler = ids.bearer("unit_handler", unit=unit)

    # intake: the transferred clue, without whether the reporter is named or who recorded it; not the kept one
    seen = await ok(await suite.gateway.get(f"{INTAKE}/clues/{transferred['id']}", headers=handler))
    assert seen["id"] == transferred["id"] and not {"anonymous", "recorded_by"} & seen.keys()
    officer_view = await ok(await suite.gateway.get(f"{INTAKE}/clues/{transferred['id']}",
                                                   headers=ids.bearer("investigator")))
    assert {"anonymous", "recorded_by"} <= officer_view.keys()
    for path in (f"/clues/{kept['id']}", f"/clues/{kept['id']}/attachments"):
        assert (await suite.gateway.get(INTAKE + path, headers=handler)).status_code == 404

    # triage: the same
    listed = await ok(await suite.gateway.get(f"{TRIAGE}/clues", params={"limit": 500}, headers=handler))
    assert [c["id"] for c in listed["items"]] == [transferred["id"]]
    assert (await suite.gateway.get(f"{TRIAGE}/clues/{kept['id']}", headers=handler)).status_code == 404

    # accountability: the kept clue's case exists (初核) but is not the unit's to see before its decision
    investigator = ids.bearer("investigator")

    async def kept_case():
        # by the clue: the run's other tests (the Datong import among them) leave hundreds of cases before it
        cases = await ok(await suite.gateway.get(f"{ACC}/cases", params={"clue_id": kept["id"]},
                                                 headers=investigator))
        return [c for c in cases["items"] if kept["id"] in c["clue_ids"]]

    [case] = await eventually(kept_case)
    assert case["state"] == "preliminary_check"
    # The case was opened when triage screened the clue on arrival (即查即办), with the unit it routed to then; the
    # officer's later unit change does not move an open case, so the case's own unit's handler is the one to ask.
    handler = ids.bearer("unit_handler", unit=case["unit_id"])
    assert case["id"] not in [c["id"] for c in (await ok(await suite.gateway.get(f"{ACC}/cases",
                                                                               headers=handler)))["items"]]
    assert (await suite.gateway.get(f"{ACC}/cases/{case['id']}", headers=handler)).status_code == 404
    assert (await suite.gateway.get(f"{ACC}/cases/{case['id']}/rectifications",
                                    headers=handler)).status_code == 404

    # once decided: the decision only, never the clues, the persons, the internal facts or the title
    cid = case["id"]
    await ok(await suite.gateway.post(f"{ACC}/cases/{cid}/transitions", headers=investigator, json={"action": "file"}))
    person = (await ok(await suite.gateway.post(f"{ACC}/cases/{cid}/persons", headers=investigator, json={
        "name": "张三", "post": "科长", "rank": "township", "party_member": True, "responsibility": "direct"}),
        201))["id"]  # creating a person answers with that person
    await ok(await suite.gateway.post(f"{ACC}/cases/{cid}/findings", headers=investigator, json={
        "finding": "substantiated", "summary": "张三收受购物卡", "outcome_summary": "反映问题属实，已依规处理。"}))
    await ok(await suite.gateway.post(f"{ACC}/cases/{cid}/persons/{person}/measures", headers=investigator,
                                      json={"code": "written_self_criticism"}), 201)
    await ok(await suite.gateway.post(f"{ACC}/cases/{cid}/transitions", headers=investigator,
                                      json={"action": "decide"}))
    decided = await ok(await suite.gateway.get(f"{ACC}/cases/{cid}", headers=handler))
    assert decided["state"] == "decided" and decided["outcome_summary"] == "反映问题属实，已依规处理。"
    assert not {"title", "summary", "finding_summary", "clue_ids", "persons", "source"} & decided.keys()
    assert "张三" not in str(decided) and kept["tracking_number"] not in str(decided)
    assert cid in [c["id"] for c in (await ok(await suite.gateway.get(f"{ACC}/cases", headers=handler)))["items"]]
    assert "张三" not in (await suite.gateway.get(f"{ACC}/cases", headers=handler)).text


async def test_a_token_mixing_unit_and_commission_roles_is_refused(suite, ids):
    for roles in (("unit_handler", "triage_officer"), ("unit_handler", "investigator"), ("unit_handler", "admin")):
        mixed = ids.bearer(*roles, unit="u-mixed")
        for path in (f"{TRIAGE}/clues", f"{ACC}/cases", f"{INTAKE}/posters", "/api/v1/notification/inbox"):
            refused = await suite.gateway.get(path, headers=mixed)
            assert refused.status_code == 403, (roles, path, refused.text)
            assert refused.json()["type"].endswith("/forbidden-role-combination")
            assert "unit_handler" in refused.json()["detail"] and "不能同时持有" in refused.json()["detail"]


async def test_the_daily_notice_counts_only_what_was_transferred_to_the_unit(suite, ids):
    unit, today = f"u-{secrets.token_hex(3)}", date(2026, 11, 23)
    await publish_as(suite, "triage", DailySheetPublished(
        run_date=today, total=7, published_at=datetime.now(UTC),
        by_unit=[DailySheetCount(key=unit, count=7)], by_decision=[DailySheetCount(key="accept", count=5),
                                                                    DailySheetCount(key="transfer", count=2)],
        transferred_by_unit=[DailySheetCount(key=unit, count=2)]))
    handler = ids.bearer("unit_handler", unit=unit)

    async def notices():
        inbox = await ok(await suite.gateway.get("/api/v1/notification/inbox", headers=handler))
        return [m for m in inbox["items"] if m["template"].endswith("daily_sheet")]

    [notice] = await eventually(notices)
    assert "2件" in notice["body"] and "7件" not in notice["body"]
