"""Triage through the gateway on real Kafka and PostgreSQL: directory, daily run, sheet, officer queue."""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
from datetime import datetime

import orjson
from aiokafka import AIOKafkaConsumer
from sqlalchemy import select

from services.common.audit import verify_chain
from services.common.contracts.triage import ClueTriaged, DailySheetPublished, UnitUpserted
from services.triage.daily_run import SHANGHAI
from services.triage.model.cli import read_overrides
from services.triage.models import audit_log
from services.triage.units import DEMO_UNITS_FILE

from ..support import eventually

# 「材料齐全仍要求……」would read as an approval-service complaint (a 五必查 candidate the office keeps), which
# is not what this complaint is for: it is the plain buck-passing a unit is handed.
DUPLICATE = "南关街道便民服务中心窗口人员推诿扯皮，这个说归那个管，那个说归这个管，让我反复跑腿，前后跑了五趟。"
MUST = "我公司的招商项目审批迟迟不批，手续反复被退回，投资方已经表示要撤资。"
LAWLESS = "南关市场监管所执法人员向商户索要好处费两千元，不给就故意刁难，不让营业。"
VAGUE = "窗口人员上班玩手机，还收了好处费，材料也一拖再拖，几个部门互相推。"  # several problems at once: the human queue


async def post(suite, ids, line: str, text: str, **extra) -> dict:
    response = await suite.gateway.post(
        f"/api/v1/intake/feeds/{line}/reports",
        json={"external_id": f"T-{secrets.token_hex(6)}", "text": text, **extra},
        headers=ids.bearer("triage_officer"))
    assert response.status_code == 201, response.text
    return response.json()


async def run_through_gateway(suite, ids, run_date: str) -> dict:
    """POST a run (202, a job), follow it to done, return the sheet version it issued."""
    queued = await suite.gateway.post("/api/v1/triage/daily-runs", json={"run_date": run_date},
                                      headers=ids.bearer("triage_officer"))
    assert queued.status_code == 202, queued.text
    assert queued.json()["state"] == "queued" and queued.headers["location"].endswith(queued.json()["id"])

    async def finished():
        job = (await suite.gateway.get(f"/api/v1/triage/daily-runs/{queued.json()['id']}",
                                       headers=ids.bearer("auditor"))).json()
        return job if job["state"] in ("done", "failed") else None

    job = await eventually(finished)
    assert job["state"] == "done", job
    assert job["processed"] == job["total"] and job["version"] >= 1
    sheet = await suite.gateway.get(job["sheet"], headers=ids.bearer("auditor"))
    assert sheet.status_code == 200 and sheet.json()["version"] == job["version"]
    return sheet.json()


async def triage_clue(suite, ids, clue_id: str) -> dict | None:
    response = await suite.gateway.get(f"/api/v1/triage/clues/{clue_id}", headers=ids.bearer("triage_officer"))
    return response.json() if response.status_code == 200 else None


async def read_topic(bootstrap: str, topic: str, want) -> list[dict]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=None, enable_auto_commit=False)
    await consumer.start()
    # Keyed by event id: the relay publishes at least once, and a consumer's inbox sees a redelivered
    # event as the same one, so this is what "published once" means.
    seen: dict[str, dict] = {}
    try:
        async with asyncio.timeout(20):
            while not want(list(seen.values())):
                batch = await consumer.getmany(timeout_ms=500)
                for m in (m for msgs in batch.values() for m in msgs):
                    event = orjson.loads(m.value)
                    seen.setdefault(event["id"], event)
    finally:
        await consumer.stop()
    return list(seen.values())


async def test_startup_imports_the_configured_directory_only_into_an_empty_one(suite, settings_kwargs, tmp_path):
    from types import SimpleNamespace

    from services.triage.settings import TriageSettings
    from services.triage.startup import seed_reference_data
    from services.triage.units import count_units

    first = tmp_path / "units.csv"
    first.write_text("id,name,level,parent_id,category\nz-r,某区,region,,\nz-a,某区某局,agency,z-r,机关科室\n",
                     encoding="utf-8")
    second = tmp_path / "more.csv"
    second.write_text("id,name,level\nz-other,另一区,region\n", encoding="utf-8")
    state = suite.apps["triage"].state
    sessions = state.sessions
    async with sessions() as session:
        assert await count_units(session) == 0  # this module runs first: nothing imported yet
    for path in (first, second):
        app = SimpleNamespace(state=SimpleNamespace(
            settings=TriageSettings(**settings_kwargs, units_file=str(path)), sessions=sessions, outbox=state.outbox))
        await seed_reference_data(app)
    async with sessions() as session:
        assert await count_units(session) == 2  # the second file found the directory non-empty


async def test_taxonomy_is_served_to_staff_and_refused_to_the_public(suite, ids):
    served = await suite.gateway.get("/api/v1/triage/taxonomy", headers=ids.bearer("unit_handler", unit="dt-rsj-sb"))
    assert served.status_code == 200
    assert sum(len(f["types"]) for f in served.json()["families"]) == 13
    anonymous = await suite.gateway.get("/api/v1/triage/taxonomy")
    assert anonymous.status_code in (401, 403)


async def test_only_an_admin_imports_the_directory_and_each_unit_is_published(suite, ids, infra):
    body = DEMO_UNITS_FILE.read_bytes()
    refused = await suite.gateway.post("/api/v1/triage/units:import", content=body, headers={
        **ids.bearer("triage_officer"), "content-type": "application/yaml"})
    assert refused.status_code == 403
    imported = await suite.gateway.post("/api/v1/triage/units:import", content=body, headers={
        **ids.bearer("admin"), "content-type": "application/yaml"})
    assert imported.status_code == 200, imported.text
    count = imported.json()["imported"]
    unit = await suite.gateway.get("/api/v1/triage/units/dt-pc-ng-bm", headers=ids.bearer("investigator"))
    assert unit.json()["category"] == "基层站所" and unit.json()["parent_id"] == "dt-pc-ng"
    assert count >= 3
    # The topic is shared with the run's other tests (other units are published there too), so wait for the
    # imported units by id, not for a count that other tests' units could reach first.
    wanted = {"dt", "dt-pc-ng", "dt-pc-ng-bm"}
    events = await read_topic(infra["KAFKA_BOOTSTRAP_SERVERS"], UnitUpserted.topic(infra["KAFKA_TOPIC_PREFIX"]),
                              lambda seen: wanted <= {e["data"]["unit_id"] for e in seen})
    assert {e["data"]["unit_id"] for e in events} >= wanted


async def test_the_daily_run_screens_clues_once_per_date_and_publishes_the_sheet(suite, ids, infra):
    first = await post(suite, ids, "12345", DUPLICATE, subject="南关街道便民服务中心")
    second = await post(suite, ids, "12388", DUPLICATE.replace("。", "！请尽快处理。"), subject="南关街道便民服务中心")
    must = await post(suite, ids, "12345", MUST)
    lawless = await post(suite, ids, "12380", LAWLESS)
    vague = await post(suite, ids, "12345", VAGUE)
    for clue in (first, second, must, lawless, vague):
        await eventually(lambda c=clue: triage_clue(suite, ids, c["id"]))

    today = datetime.now(SHANGHAI).date().isoformat()
    refused = await suite.gateway.post("/api/v1/triage/daily-runs", json={"run_date": today},
                                       headers=ids.bearer("investigator"))
    assert refused.status_code == 403
    ran = await run_through_gateway(suite, ids, today)
    again = await run_through_gateway(suite, ids, today)  # a re-run: a new version of the same day's sheet
    assert again["version"] == ran["version"] + 1 and again["total"] == ran["total"]
    assert again["by_decision"] == ran["by_decision"]
    older = await suite.gateway.get(f"/api/v1/triage/daily-sheets/{today}", params={"version": ran["version"]},
                                    headers=ids.bearer("auditor"))
    assert older.status_code == 200 and older.json()["version"] == ran["version"]

    got = {c["id"]: await triage_clue(suite, ids, c["id"]) for c in (first, second, must, lawless, vague)}
    # the complaint is about the 便民服务中心: it goes to its supervising 街道, never to the centre itself
    assert got[first["id"]]["decision"] == "transfer" and got[first["id"]]["routed_unit_id"] == "dt-pc-ng"
    assert got[first["id"]]["route_reason"] == "accused:dt-pc-ng-bm"
    assert got[first["id"]]["sources"][0]["channel"] == "hotline_12388"
    assert got[second["id"]]["decision"] == "merge" and got[second["id"]]["merged_into"] == first["id"]
    assert got[must["id"]]["decision"] == "accept" and got[must["id"]]["must_investigate"]
    assert got[must["id"]]["enterprise_related"] and got[must["id"]]["deadline"]
    assert got[lawless["id"]]["family"] == "misconduct" and got[lawless["id"]]["evidence"]
    assert got[vague["id"]]["state"] == "review" and got[vague["id"]]["decision"] is None

    assert all(got[c["id"]]["model_version"] == ran["model_version"] for c in (first, must, lawless))
    sheet = await suite.gateway.get(f"/api/v1/triage/daily-sheets/{today}", headers=ids.bearer("auditor"))
    assert sheet.status_code == 200 and sheet.json()["total"] >= 5 and sheet.json()["model_version"]
    as_csv = await suite.gateway.get(f"/api/v1/triage/daily-sheets/{today}.csv", headers=ids.bearer("auditor"))
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert {"渠道", "问题类型", "责任单位", "处置方式", "合计"} <= {r["维度"] for r in rows}

    prefix, bootstrap = infra["KAFKA_TOPIC_PREFIX"], infra["KAFKA_BOOTSTRAP_SERVERS"]
    triaged = await read_topic(bootstrap, ClueTriaged.topic(prefix),
                               lambda seen: {first["id"], must["id"]} <= {e["data"]["clue_id"] for e in seen})
    assert vague["id"] not in {e["data"]["clue_id"] for e in triaged}  # waits for an officer
    sheets = await read_topic(bootstrap, DailySheetPublished.topic(prefix),
                              lambda seen: any(e["data"]["run_date"] == today for e in seen))
    # one sheet published per version (the re-run's is the newer)
    assert len([e for e in sheets if e["data"]["run_date"] == today]) == again["version"]

    # 五必查 can never be set aside, even by an officer, not even by first taking the trigger off
    aside = await suite.gateway.patch(f"/api/v1/triage/clues/{must['id']}", json={
        "decision": "set_aside", "reason": "重复反映"}, headers=ids.bearer("triage_officer"))
    assert aside.status_code == 409 and aside.json()["type"].endswith("must-investigate-cannot-be-set-aside")
    relabelled = await suite.gateway.patch(f"/api/v1/triage/clues/{must['id']}", json={
        "triggers": [], "decision": "accept", "reason": "核实不属于五必查情形"}, headers=ids.bearer("triage_officer"))
    assert relabelled.status_code == 200 and relabelled.json()["must_investigate"]
    aside = await suite.gateway.patch(f"/api/v1/triage/clues/{must['id']}", json={
        "decision": "set_aside", "reason": "重复反映"}, headers=ids.bearer("triage_officer"))
    assert aside.status_code == 409
    # an officer decides the low-confidence clue, with a reason that is audited
    no_reason = await suite.gateway.patch(f"/api/v1/triage/clues/{vague['id']}", json={"decision": "accept"},
                                          headers=ids.bearer("triage_officer"))
    assert no_reason.status_code == 422
    decided = await suite.gateway.patch(f"/api/v1/triage/clues/{vague['id']}", json={
        "type_code": "idle", "unit_id": "dt-yg-kq-bm", "decision": "transfer", "reason": "核实为乡便民服务站脱岗"},
        headers=ids.bearer("triage_officer", subject="officer-7"))
    assert decided.status_code == 200, decided.text
    assert decided.json()["state"] == "triaged" and decided.json()["family"] == "inaction"
    assert decided.json()["deadline"] is not None and decided.json()["overridden"]
    async with suite.apps["triage"].state.sessions() as session:
        entries = (await session.execute(select(audit_log).where(audit_log.c.entity_id == vague["id"]))).all()
        assert entries[0].actor == "officer-7" and entries[0].details["reason"] == "核实为乡便民服务站脱岗"
        assert (await verify_chain(session, audit_log)).intact
    # the override teaches the classifier: `zuofeng triage train` reads it as a labelled example
    taught = [e for e in await read_overrides(infra["DATABASE_URL"]) if e.text == VAGUE]
    assert [(e.conduct, e.family, e.type, e.source) for e in taught] == [(True, "inaction", "idle", "override")]

    confirmed = await suite.gateway.post(f"/api/v1/triage/daily-sheets/{today}/confirm",
                                         headers=ids.bearer("triage_officer", subject="officer-7"))
    assert confirmed.status_code == 200 and confirmed.json()["confirmed_by"] == "officer-7"


async def test_a_unit_handler_sees_only_its_own_units_clues(suite, ids):
    today = datetime.now(SHANGHAI).date().isoformat()
    mine = await suite.gateway.get("/api/v1/triage/clues", params={"run_date": today, "limit": 500},
                                   headers=ids.bearer("unit_handler", unit="dt-pc-ng"))
    assert mine.status_code == 200
    assert mine.json()["items"] and all(c["routed_unit_id"] == "dt-pc-ng" for c in mine.json()["items"])
    other_id = next(c["id"] for c in (await suite.gateway.get(
        "/api/v1/triage/clues", params={"run_date": today, "decision": "accept", "limit": 500},
        headers=ids.bearer("triage_officer"))).json()["items"] if c["routed_unit_id"] != "dt-pc-ng")
    hidden = await suite.gateway.get(f"/api/v1/triage/clues/{other_id}",
                                     headers=ids.bearer("unit_handler", unit="dt-pc-ng"))
    assert hidden.status_code == 404
    cannot_override = await suite.gateway.patch(f"/api/v1/triage/clues/{other_id}", json={
        "decision": "accept", "reason": "试图越权"}, headers=ids.bearer("unit_handler", unit="dt-pc-ng"))
    assert cannot_override.status_code == 403


async def test_benchmark_cases_are_suggested_for_a_clue(suite, ids):
    today = datetime.now(SHANGHAI).date().isoformat()
    clue = (await suite.gateway.get("/api/v1/triage/clues", params={"run_date": today, "type_code": "buck_passing"},
                                    headers=ids.bearer("triage_officer"))).json()["items"][0]
    cases = await suite.gateway.get(f"/api/v1/triage/clues/{clue['id']}/benchmark-cases",
                                    headers=ids.bearer("investigator"))
    assert cases.status_code == 200 and cases.json()
    assert cases.json()[0]["problem_type"] == "buck_passing"


async def test_a_future_or_malformed_run_date_is_a_problem(suite, ids):
    future = await suite.gateway.post("/api/v1/triage/daily-runs", json={"run_date": "2999-01-01"},
                                      headers=ids.bearer("triage_officer"))
    assert future.status_code == 422 and future.json()["type"].endswith("run-date-in-future")
    missing = await suite.gateway.get("/api/v1/triage/daily-sheets/2001-01-01", headers=ids.bearer("auditor"))
    assert missing.status_code == 404
