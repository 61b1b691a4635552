"""Open311 GeoReport v2 through the gateway, played as FixMyStreet's client would: discovery, multipart
photo uploads and media_url, raw UTF-8 forms, XML, the spec's error list (429 included), the agency by
name, the posted address reaching officers, and misconduct reports' places coarsened in public."""

from __future__ import annotations

import secrets
import uuid
import xml.etree.ElementTree as ET

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gateway.app import create_app
from gateway.settings import GatewaySettings
from services.common.suite import SERVICES
from services.intake.open311 import coarse_address

from ..media import jpeg_with_gps
from ..support import eventually
from .directory_helper import imported_units

ADDRESS = "成都市武侯区人民南路四段1号"
UNITS_YAML = """
regions:
  - id: os
    name: 开放接口测试区
    agencies:
      - {id: os-cgj, name: 开放接口测试区城市管理局, category: 机关科室}
""".encode()


def form(**fields) -> dict:
    return {"api_key": "fixmystreet", "service_code": "inaction", "address_string": ADDRESS,
            "description": "街道办窗口推诿扯皮，群众反复跑腿", **fields}


async def staff_view(suite, ids, request_id: str) -> dict:
    response = await suite.gateway.get(f"/api/v1/intake/clues/{request_id}", headers=ids.bearer("triage_officer"))
    assert response.status_code == 200, response.text
    return response.json()


async def test_discovery_points_at_the_public_endpoint_in_json_and_xml(suite):
    as_json = await suite.gateway.get("/open311/discovery.json")
    assert as_json.status_code == 200, as_json.text
    [endpoint] = as_json.json()["endpoints"]
    base = suite.apps["intake"].state.settings.public_base_url.rstrip("/")
    assert endpoint["url"] == f"{base}/open311/v2"
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    as_xml = ET.fromstring((await suite.gateway.get("/open311/v2/discovery.xml")).content)
    assert as_xml.tag == "discovery"
    assert as_xml.findtext("endpoints/endpoint/url") == f"{base}/open311/v2"
    assert [f.text for f in as_xml.findall("endpoints/endpoint/formats/format")] == ["text/xml", "application/json"]


async def test_a_multipart_report_keeps_its_photo_its_media_url_and_its_address_for_officers(suite, ids):
    photo = jpeg_with_gps()
    created = await suite.gateway.post(
        "/open311/v2/requests.json", data=form(media_url="https://fixmystreet.example/photo/1.jpeg"),
        files={"media": ("photo.jpeg", photo, "image/jpeg")})
    assert created.status_code == 200, created.text
    [answer] = created.json()
    clue = await staff_view(suite, ids, answer["service_request_id"])
    assert clue["place"] == ADDRESS and clue["address"] == ADDRESS
    assert clue["media_url"] == "https://fixmystreet.example/photo/1.jpeg"
    assert clue["attachment_count"] == 1
    attachments = await suite.gateway.get(f"/api/v1/intake/clues/{answer['service_request_id']}/attachments",
                                          headers=ids.bearer("triage_officer"))
    assert [a["media_type"] for a in attachments.json()] == ["image/jpeg"]
    public = (await suite.gateway.get(f"/open311/v2/requests/{answer['service_request_id']}.json")).json()[0]
    assert public["media_url"] == "https://fixmystreet.example/photo/1.jpeg" and public["address"] == ADDRESS
    assert "已登记" in answer["service_notice"]


async def test_a_raw_utf8_form_body_arrives_as_written_and_bad_bytes_are_refused(suite, ids):
    text = "审批窗口“吃拿卡要”，办事群众反映强烈"
    body = f"api_key=fmc&service_code=slow_action&address_string={ADDRESS}&description={text}".encode()
    created = await suite.gateway.post("/open311/v2/requests.json", content=body,
                                       headers={"content-type": "application/x-www-form-urlencoded"})
    assert created.status_code == 200, created.text
    clue = await staff_view(suite, ids, created.json()[0]["service_request_id"])
    assert clue["text"] == text and clue["place"] == ADDRESS
    garbled = await suite.gateway.post("/open311/v2/requests.xml", content=b"api_key=k&description=\xff\xfe",
                                       headers={"content-type": "application/x-www-form-urlencoded"})
    assert garbled.status_code == 400
    error = ET.fromstring(garbled.content).find("error")
    assert error.findtext("code") == "400" and "UTF-8" in error.findtext("description")
    nul = await suite.gateway.post("/open311/v2/requests.json", data=form(description="推诿\x00扯皮"))
    assert nul.status_code == 400 and nul.json()[0]["code"] == 400
    refused = await suite.gateway.post("/open311/v2/requests.json", content=b"{}",
                                       headers={"content-type": "application/json"})
    assert refused.status_code == 400 and refused.headers["content-type"].startswith("application/json")
    assert set(refused.json()[0]) == {"code", "description"}


async def test_bad_dates_and_nul_in_queries_are_clear_400s(suite):
    for params in ({"start_date": "9999-12-31"}, {"end_date": "0001-01-01"}, {"service_code": "a\x00b"},
                   {"start_date": "9999-12-31T23:59:59+14:00", "end_date": "9999-12-31"}):
        response = await suite.gateway.get("/open311/v2/requests.json", params=params)
        assert response.status_code == 400, (params, response.text)
        assert set(response.json()[0]) == {"code", "description"}


@pytest.fixture(scope="module")
async def directory(suite, ids):
    async with imported_units(suite, ids, UNITS_YAML, ("os", "os-cgj")):
        yield


async def test_agency_responsible_is_the_agencys_name(suite, ids, directory):
    created = await suite.gateway.post("/open311/v2/requests.json", data=form())
    request_id = created.json()[0]["service_request_id"]
    fetched = (await suite.gateway.get(f"/open311/v2/requests/{request_id}.json")).json()[0]
    assert fetched["agency_responsible"] == "市纪委监委"  # received: the commission answers for it

    async def triage_has_it():
        r = await suite.gateway.get(f"/api/v1/triage/clues/{request_id}", headers=ids.bearer("triage_officer"))
        return r.status_code == 200

    await eventually(triage_has_it)
    moved = await suite.gateway.patch(f"/api/v1/triage/clues/{request_id}", headers=ids.bearer("triage_officer"),
                                      json={"decision": "transfer", "unit_id": "os-cgj", "reason": "属城管职责"})
    assert moved.status_code == 200, moved.text

    async def named():
        body = (await suite.gateway.get(f"/open311/v2/requests/{request_id}.json")).json()[0]
        return body if body["agency_responsible"] == "开放接口测试区城市管理局" else None

    transferred = await eventually(named)
    assert transferred["status_notes"] == "已转办责任单位" and transferred["expected_datetime"]


async def test_misconduct_reports_show_only_their_district_in_public(suite, ids):
    created = await suite.gateway.post("/open311/v2/requests.json", data=form(
        service_code="misconduct", lat="30.6270", long="104.0720",
        media_url="https://fixmystreet.example/photo/2.jpeg", description="某科长收受红包"))
    request_id = created.json()[0]["service_request_id"]
    [public] = (await suite.gateway.get(f"/open311/v2/requests/{request_id}.json")).json()
    assert (public["address"], public["lat"], public["long"], public["media_url"]) == ("成都市武侯区", None, None, None)
    listed = await suite.gateway.get("/open311/v2/requests.xml", params={"service_request_id": request_id})
    node = ET.fromstring(listed.content).find("request")
    assert node.findtext("address") == "成都市武侯区" and node.findtext("lat") == ""
    assert "人民南路" not in listed.text and "30.627" not in listed.text
    clue = await staff_view(suite, ids, request_id)
    assert (clue["address"], clue["lat"], clue["long"]) == (ADDRESS, 30.627, 104.072)


def test_coarse_address_keeps_the_district_and_nothing_finer():
    assert coarse_address("四川省成都市武侯区人民南路四段1号") == "四川省成都市武侯区"
    assert coarse_address("大同市平城区新建南路") == "大同市平城区"
    assert coarse_address("人民南路四段1号小区") is None
    assert coarse_address("12 Main Street") is None
    assert coarse_address(None) is None


@pytest.fixture
async def limited_gateway(suite, settings_kwargs, keys):
    gateway = create_app(GatewaySettings(
        **settings_kwargs, upstreams={n: f"http://{n}.test" for n in SERVICES},
        staff_jwt_public_key=keys["staff_public"], rate_limits={"open311-report": "1/minute"}))
    async with LifespanManager(gateway) as manager:
        await gateway.state.http.aclose()
        gateway.state.http = httpx.AsyncClient(
            mounts={f"http://{n}.test": httpx.ASGITransport(app=suite.apps[n]) for n in SERVICES})
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app),
                                     base_url="http://gateway.test") as client:
            yield client
        await gateway.state.http.aclose()


async def test_the_rate_limit_answers_in_open311s_error_format(limited_gateway):
    first = await limited_gateway.post("/open311/v2/requests.json", data=form(api_key=secrets.token_hex(4)))
    assert first.status_code == 200, first.text
    second = await limited_gateway.post("/open311/v2/requests.json", data=form())
    assert second.status_code == 429 and second.headers["content-type"].startswith("application/json")
    [error] = second.json()
    assert error["code"] == 429 and "请求过于频繁" in error["description"] and second.headers["retry-after"]
    as_xml = await limited_gateway.post("/open311/v2/requests.xml", data=form())
    assert as_xml.status_code == 429 and ET.fromstring(as_xml.content).findtext("error/code") == "429"
    assert uuid.UUID(first.json()[0]["service_request_id"])
