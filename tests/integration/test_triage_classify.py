"""预分类 through the gateway, and clues classified on arrival (real Kafka and PostgreSQL)."""

from __future__ import annotations

import json
import secrets

import pytest

from gateway.hotline import sign
from gateway.settings import HotlineKey

from ..support import eventually

URL = "/api/v1/triage/classify"
SECRET = "k" * 48


@pytest.fixture
def hotline_key(suite):
    verifier = suite.apps["gateway"].state.authenticator.hotline
    verifier.keys["classify-12345"] = HotlineKey(secret=SECRET, line="12345")
    try:
        yield "classify-12345"
    finally:
        verifier.keys.pop("classify-12345", None)


async def classify(suite, headers, body) -> tuple[int, dict]:
    response = await suite.gateway.post(URL, json=body, headers=headers)
    return response.status_code, response.json()


async def test_an_officer_previews_a_classification_with_labels_and_evidence(suite, ids):
    status, got = await classify(suite, ids.bearer("triage_officer"), {
        "text": "南关市场监管所执法人员向商户索要好处费两千元，不给就故意刁难，不让营业。"})
    assert status == 200, got
    assert got["conduct"] and not got["out_of_scope"]
    assert got["family"] == {"code": "misconduct", "label": "乱作为"}
    assert got["type"]["label"] and got["model_version"]
    assert 0 < got["confidence"] <= 1
    type_evidence = [e for e in got["evidence"] if e["for"] == got["type"]["code"]]
    assert type_evidence and all(e["phrase"] in "南关市场监管所执法人员向商户索要好处费两千元，不给就故意刁难，不让营业。"
                                 and e["label"] == got["type"]["label"] for e in type_evidence)
    assert got["enterprise"] or got["enterprise_markers"]  # 商户


async def test_a_must_investigate_text_is_flagged_and_a_non_conduct_text_is_out_of_scope(suite, ids):
    _, must = await classify(suite, ids.bearer("triage_officer"), {
        "text": "我们公司是招商引资进来的，环评审批拖了一年多还批不下来，董事会已经决定把项目转到外地。"})
    flagged = {t["code"] for t in must["triggers"]} | {t["code"] for t in must["trigger_candidates"]}
    assert "investor_withdrawal" in flagged and must["needs_officer"]
    assert all(t["label"] for t in must["triggers"])
    _, asking = await classify(suite, ids.bearer("triage_officer"), {"text": "请问身份证丢了在哪里补办，需要带什么材料？"})
    assert asking["out_of_scope"] and asking["family"] is None and asking["type"] is None


async def test_classify_refuses_other_roles_and_the_public_and_admits_a_signed_hotline(suite, ids, hotline_key):
    body = {"text": "窗口人员推诿扯皮，让我来回跑了五趟。"}
    status, _ = await classify(suite, ids.bearer("investigator"), body)
    assert status == 403
    status, _ = await classify(suite, {}, body)
    assert status == 401
    raw = json.dumps(body, ensure_ascii=False).encode()
    response = await suite.gateway.post(URL, content=raw, headers={
        "content-type": "application/json", **sign(hotline_key, SECRET, "POST", URL, raw)})
    assert response.status_code == 200, response.text
    assert response.json()["type"]["code"]


async def test_an_empty_text_is_a_clear_problem(suite, ids):
    response = await suite.gateway.post(URL, json={"text": "   "}, headers=ids.bearer("triage_officer"))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "线索内容不能为空" in response.json()["detail"]


async def test_a_clue_is_classified_on_arrival_before_the_daily_run(suite, ids):
    posted = await suite.gateway.post("/api/v1/intake/feeds/12345/reports", json={
        "external_id": f"C-{secrets.token_hex(6)}",
        "text": "区住建局质监站的工作人员上班时间在办公室打牌，群众来办事没人理。"},
        headers=ids.bearer("triage_officer"))
    assert posted.status_code == 201, posted.text

    async def seen():
        response = await suite.gateway.get(f"/api/v1/triage/clues/{posted.json()['id']}",
                                           headers=ids.bearer("triage_officer"))
        return response.json() if response.status_code == 200 else None

    clue = await eventually(seen)
    assert clue["state"] == "pending" and clue["run_date"] is None  # the daily run has not sorted it
    assert clue["conduct"] is True and clue["family"] == "inaction" and clue["type_code"]
    assert clue["model_version"] and clue["evidence"] and clue["classified_at"]
