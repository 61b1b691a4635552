"""Issue 13's edge items through the whole suite (real gateway, services, PostgreSQL, Kafka)."""

from __future__ import annotations

import orjson


async def test_invalid_yaml_on_units_import_is_a_422_problem(suite, ids):
    response = await suite.gateway.post("/api/v1/triage/units:import", content=b"regions: [\n  - id: dt\n",
                                        headers={**ids.bearer("admin"), "content-type": "application/yaml"})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "YAML" in response.json()["detail"] and "行" in response.json()["detail"]


async def test_an_anonymous_oversized_ballot_is_refused_at_the_gateway(suite):
    ballot = orjson.dumps({"scores": [{"unit_id": f"U-{n}", "score": 90} for n in range(100_000)]})
    assert len(ballot) > 3_000_000
    response = await suite.gateway.post("/api/v1/evaluation/campaigns/00000000-0000-0000-0000-000000000000/ballots",
                                        content=ballot, headers={"content-type": "application/json"})
    assert response.status_code == 413, response.text
    assert response.json()["type"] == "https://zuofeng.dev/problems/payload-too-large"


async def test_the_qr_page_refuses_framing_and_api_answers_say_nosniff(suite, ids):
    poster = await suite.gateway.post("/api/v1/intake/posters", headers=ids.bearer("triage_officer"), json={
        "unit_id": "U-WINDOW", "place": "市民中心三楼", "title": "作风问题随手拍"})
    assert poster.status_code == 201, poster.text
    assert poster.headers["x-content-type-options"] == "nosniff"
    page = await suite.gateway.get(f"/qr/{poster.json()['code']}", headers={"accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers.get_list("x-content-type-options") == ["nosniff"]
