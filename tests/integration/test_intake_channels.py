"""Intake channels on real PostgreSQL and Kafka: hotline feeds (single, batch), staff channels, Open311."""

from __future__ import annotations

import asyncio
import re
import secrets

from sqlalchemy import func, select

from services.common.auth import Principal
from services.intake.models import clues

TRACKING = re.compile(r"^ZF-\d{8}-\d{6}$")


def ticket(**overrides) -> dict:
    return {"external_id": f"T-{secrets.token_hex(6)}", "text": "办事窗口推诿扯皮，群众反复跑腿。", **overrides}


async def count_clues(suite, *conditions) -> int:
    async with suite.apps["intake"].state.sessions() as session:
        return await session.scalar(select(func.count()).select_from(clues).where(*conditions))


async def test_each_line_maps_its_own_field_names(suite, ids):
    gdbh = f"GD-{secrets.token_hex(5)}"
    response = await suite.intake.post(
        "/api/v1/intake/feeds/12345/reports", headers=ids.as_hotline("12345"),
        json={"gdbh": gdbh, "ldnr": "审批材料齐全仍不予受理", "fydx": "区行政审批局", "cbdw": "U-SP",
              "sfsq": True, "wtfl": "审批服务"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert TRACKING.match(body["tracking_number"]) and body["channel"] == "hotline_12345"
    async with suite.apps["intake"].state.sessions() as session:
        row = (await session.execute(select(clues).where(clues.c.external_id == gdbh))).one()
    assert (row.unit_id, row.subject, row.enterprise_related, row.category_hint, row.recorded_by) == (
        "U-SP", "区行政审批局", True, "审批服务", "hotline-12345")


async def test_a_hotline_key_pushes_only_to_its_own_line(suite, ids):
    response = await suite.intake.post("/api/v1/intake/feeds/12388/reports", json=ticket(),
                                       headers=ids.as_hotline("12345"))
    assert response.status_code == 403
    assert response.json()["type"].endswith("/forbidden-line")
    public = await suite.intake.post("/api/v1/intake/feeds/12388/reports", json=ticket(), headers=ids.as_public())
    assert public.status_code == 403


async def test_concurrent_repush_of_one_ticket_makes_one_clue(suite, ids):
    report = ticket()
    responses = await asyncio.gather(*(
        suite.intake.post("/api/v1/intake/feeds/12388/reports", json=report, headers=ids.as_hotline("12388"))
        for _ in range(8)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 7 + [201], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len({r.json()["tracking_number"] for r in responses}) == 1
    assert await count_clues(suite, clues.c.external_id == report["external_id"]) == 1


async def test_batch_reports_each_item_and_keeps_the_valid_ones(suite, ids):
    earlier = ticket()
    first = await suite.intake.post("/api/v1/intake/feeds/12380/reports", json=earlier,
                                    headers=ids.as_hotline("12380"))
    assert first.status_code == 201
    fresh = ticket()
    items = [
        fresh,
        {"external_id": "missing-text"},
        {"case_no": f"C-{secrets.token_hex(4)}", "report_content": "干部吃拿卡要"},  # 12380's own names
        earlier,
        fresh,  # twice in the same batch
        "not an object",
    ]
    response = await suite.intake.post("/api/v1/intake/feeds/12380/reports:batch", json={"reports": items},
                                       headers=ids.as_hotline("12380"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["created"], body["duplicates"], body["rejected"]) == (2, 2, 2)
    outcomes = [r["outcome"] for r in body["results"]]
    assert outcomes == ["created", "rejected", "created", "duplicate", "duplicate", "rejected"]
    assert body["results"][1]["errors"][0]["loc"] == ["body", "reports", 1, "text"]
    assert body["results"][3]["id"] == first.json()["id"]
    assert body["results"][4]["id"] == body["results"][0]["id"]
    assert await count_clues(suite, clues.c.external_id == fresh["external_id"]) == 1


async def test_batches_over_500_are_refused_whole(suite, ids):
    items = [ticket() for _ in range(501)]
    response = await suite.intake.post("/api/v1/intake/feeds/12345/reports:batch", json={"reports": items},
                                       headers=ids.as_hotline("12345"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert await count_clues(suite, clues.c.external_id == items[0]["external_id"]) == 0


async def test_malformed_and_incomplete_feeds_are_problems(suite, ids):
    before = await count_clues(suite)
    malformed = await suite.intake.post("/api/v1/intake/feeds/12345/reports", content=b'{"external_id": ',
                                        headers={**ids.as_hotline("12345"), "content-type": "application/json"})
    assert malformed.status_code == 422 and malformed.headers["content-type"] == "application/problem+json"
    wrong_type = await suite.intake.post("/api/v1/intake/feeds/12345/reports",
                                         json={"external_id": "X", "text": "t", "enterprise_related": "maybe"},
                                         headers=ids.as_hotline("12345"))
    assert wrong_type.status_code == 422
    assert wrong_type.json()["errors"][0]["loc"] == ["body", "enterprise_related"]
    assert "maybe" not in wrong_type.text  # inputs are never echoed
    assert await count_clues(suite) == before


async def test_every_staff_channel_records_who_entered_it(suite, ids):
    for channel in ("petition", "media", "online", "walk_in", "inspection", "mayor_line"):
        response = await suite.gateway.post(
            "/api/v1/intake/reports", headers=ids.bearer("triage_officer", subject=f"desk-{channel}"),
            json={"channel": channel, "text": f"{channel} 渠道反映的作风问题", "enterprise_related": channel == "media"})
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["channel"] == channel and TRACKING.match(body["tracking_number"])
        assert body["receipt_code"]  # anonymous: the code is shown this once
        async with suite.apps["intake"].state.sessions() as session:
            row = (await session.execute(select(clues).where(clues.c.id == body["id"]))).one()
        assert row.recorded_by == f"staff:desk-{channel}"
        assert row.enterprise_related is (channel == "media")


async def test_staff_channels_refuse_unit_handlers_and_hotline_channels(suite, ids):
    handler = await suite.gateway.post("/api/v1/intake/reports", headers=ids.bearer("unit_handler", unit="U1"),
                                       json={"channel": "walk_in", "text": "t"})
    assert handler.status_code == 403
    hotline = await suite.gateway.post("/api/v1/intake/reports", headers=ids.bearer("triage_officer"),
                                       json={"channel": "hotline_12345", "text": "t"})
    assert hotline.status_code == 422


async def test_tracking_numbers_are_unique_and_dated(suite, ids):
    responses = await asyncio.gather(*(
        suite.intake.post("/api/v1/intake/feeds/12345/reports", json=ticket(), headers=ids.as_hotline("12345"))
        for _ in range(20)))
    numbers = [r.json()["tracking_number"] for r in responses]
    assert len(set(numbers)) == 20 and all(TRACKING.match(n) for n in numbers)
    assert len({n[:11] for n in numbers}) == 1


async def test_open311_client_can_list_services_report_and_follow(suite, ids):
    services = await suite.gateway.get("/open311/v2/services.json")
    assert services.status_code == 200
    codes = {s["service_code"] for s in services.json()}
    assert {"inaction", "slow_action", "misconduct", "enterprise"} <= codes
    assert all(s["type"] == "realtime" and s["metadata"] is False for s in services.json())

    created = await suite.gateway.post("/open311/v2/requests.json", data={
        "api_key": "civic-app", "service_code": "enterprise", "lat": "31.23", "long": "121.47",
        "description": "项目审批拖了三个月没有答复", "first_name": "四", "last_name": "李", "phone": "13800000001"})
    assert created.status_code == 200, created.text
    [answer] = created.json()
    assert set(answer) == {"service_request_id", "service_notice", "account_id"}
    fetched = await suite.gateway.get(f"/open311/v2/requests/{answer['service_request_id']}.json")
    assert fetched.status_code == 200
    [request] = fetched.json()
    assert request["status"] == "open" and request["service_code"] == "enterprise"
    assert request["lat"] == 31.23 and request["requested_datetime"].endswith("+08:00")
    assert "李" not in fetched.text and "13800000001" not in fetched.text
    async with suite.apps["intake"].state.sessions() as session:
        row = (await session.execute(select(clues).where(clues.c.id == answer["service_request_id"]))).one()
    assert row.channel == "open311" and row.enterprise_related and not row.anonymous


async def test_open311_clients_query_requests_by_id_service_window_and_status_in_json_and_xml(suite, ids):
    from datetime import UTC, date, datetime, timedelta
    from xml.etree import ElementTree as ET

    from services.common.contracts.triage import ClueTriaged, UnitUpserted
    from services.common.events import CloudEvent
    from services.intake.handlers import on_clue_triaged, on_unit_upserted

    made = []
    for code in ("enterprise", "inaction"):
        created = await suite.gateway.post("/open311/v2/requests.json", data={
            "api_key": "civic-app", "service_code": code, "address_string": "某区政务中心", "description": "窗口推诿"})
        made.append(created.json()[0]["service_request_id"])
    # Triage transfers the first with a deadline: the unit's answer is expected by the end of that day.
    async with suite.apps["intake"].state.sessions.begin() as session:
        event = ClueTriaged(clue_id=made[0], tracking_number="ZF-x", run_date=date(2026, 11, 22),
                            decision="transfer", unit_id="dt-pc", deadline=date(2026, 12, 4))
        await on_clue_triaged(session, event, CloudEvent(id="e1", source="/t", type="t", subject=made[0], time=datetime.now(UTC), data={}))
        await on_unit_upserted(session, UnitUpserted(unit_id="dt-pc", name="大同市平城区", level="region"),
                               CloudEvent(id="e2", source="/t", type="t", subject="dt-pc", time=datetime.now(UTC), data={}))

    by_ids = await suite.gateway.get("/open311/v2/requests.json", params={"service_request_id": ",".join(made)})
    assert by_ids.status_code == 200 and {r["service_request_id"] for r in by_ids.json()} == set(made)
    [first] = [r for r in by_ids.json() if r["service_request_id"] == made[0]]
    assert first["expected_datetime"] == "2026-12-04T23:59:59+08:00" and first["agency_responsible"] == "大同市平城区"
    enterprise = await suite.gateway.get("/open311/v2/requests.json", params={"service_code": "enterprise"})
    assert made[0] in {r["service_request_id"] for r in enterprise.json()}
    assert made[1] not in {r["service_request_id"] for r in enterprise.json()}
    closed = await suite.gateway.get("/open311/v2/requests.json", params={"status": "closed"})
    assert not {r["service_request_id"] for r in closed.json()} & set(made)
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    future = await suite.gateway.get("/open311/v2/requests.json", params={"start_date": later})
    assert future.status_code == 200 and future.json() == []
    too_wide = await suite.gateway.get("/open311/v2/requests.json", params={
        "start_date": "2026-01-01T00:00:00+08:00", "end_date": "2026-06-01T00:00:00+08:00"})
    assert too_wide.status_code == 400 and too_wide.json()[0]["code"] == 400
    garbled = await suite.gateway.get("/open311/v2/requests.json", params={"start_date": "yesterday"})
    assert garbled.status_code == 400 and "start_date" in garbled.json()[0]["description"]

    as_xml = await suite.gateway.get("/open311/v2/requests.xml", params={"service_request_id": made[0]})
    assert as_xml.headers["content-type"].startswith("text/xml")
    [request] = ET.fromstring(as_xml.content).findall("request")
    assert request.findtext("service_request_id") == made[0] and request.findtext("status") == "open"
    services = ET.fromstring((await suite.gateway.get("/open311/v2/services.xml")).content)
    assert "enterprise" in {s.findtext("service_code") for s in services.findall("service")}
    refused = await suite.gateway.post("/open311/v2/requests.xml", data={"service_code": "inaction"})
    assert refused.status_code == 403 and ET.fromstring(refused.content).find("error").findtext("code") == "403"
    token = await suite.gateway.get("/open311/v2/tokens/abc.json")
    assert token.status_code == 404 and "service_request_id" in token.json()[0]["description"]


async def test_open311_errors_follow_the_spec(suite, ids):
    no_key = await suite.gateway.post("/open311/v2/requests.json", data={"service_code": "inaction",
                                                                          "address_string": "x", "description": "d"})
    assert no_key.status_code == 403 and no_key.json()[0]["code"] == 403
    no_place = await suite.gateway.post("/open311/v2/requests.json", data={
        "api_key": "k", "service_code": "inaction", "description": "d"})
    assert no_place.status_code == 400 and "地点" in no_place.json()[0]["description"]
    unknown = await suite.gateway.post("/open311/v2/requests.json", data={
        "api_key": "k", "service_code": "potholes", "address_string": "x", "description": "d"})
    assert unknown.status_code == 400
    missing = await suite.gateway.get("/open311/v2/requests/00000000-0000-7000-8000-000000000000.json")
    assert missing.status_code == 404 and missing.json()[0]["code"] == 404


async def test_open311_does_not_show_other_channels(suite, ids):
    hotline = await suite.intake.post("/api/v1/intake/feeds/12345/reports", json=ticket(),
                                      headers=ids.as_hotline("12345"))
    response = await suite.gateway.get(f"/open311/v2/requests/{hotline.json()['id']}.json")
    assert response.status_code == 404


async def test_the_catalog_exports_channels_statuses_and_field_maps(suite, ids):
    response = await suite.intake.get("/api/v1/intake/catalog",
                                      headers=ids.internal(Principal(kind="public", subject="anonymous")))
    body = response.json()
    assert len(body["channels"]) == 11 and body["hotline_field_maps"]["12345"]["gdbh"] == "external_id"
    assert body["transitions"]["closed"] == []


async def test_a_new_days_sequence_is_created_once_under_concurrency(suite, ids):
    from datetime import UTC, datetime

    from services.intake import service

    day = datetime(2031, 5, 1, 2, 0, tzinfo=UTC)  # a day no other test touches
    sessions = suite.apps["intake"].state.sessions

    async def take(n: int) -> list[str]:
        async with sessions() as session, session.begin():
            return await service.next_tracking_numbers(session, day, n)

    taken = await asyncio.gather(*(take(5) for _ in range(6)))
    numbers = sorted(n for batch in taken for n in batch)
    assert numbers == [f"ZF-20310501-{i:06d}" for i in range(1, 31)]
