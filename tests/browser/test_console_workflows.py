"""Each role's main task in the console, end to end in Chromium, signed in through Keycloak's form; and
what must not be visible (a unit handler never sees the reporter or another unit's clue).

The facts each test starts from are made through the API (as the other integration tests do); what the
person does is done on the page, and its effect is checked through the API again."""

from __future__ import annotations

import os
import secrets

import pytest
import shutil

from services.triage.units import DEMO_UNITS_FILE

from ..integration.test_evaluation_trust import new_campaign
from ..support import eventually
from .conftest import ROOT

UNIT_A = "dt-rsj-sb"  # unit-a's unit in the realm
UNIT_B = "dt-zjj-wy"  # unit-b's
REPORTER = {"name": "王举报", "phone": "13900001234"}


async def _directory(suite, ids) -> None:
    units = await suite.gateway.get("/api/v1/triage/units", params={"limit": 1}, headers=ids.bearer("admin"))
    if not units.json()["items"]:
        imported = await suite.gateway.post(
            "/api/v1/triage/units:import", content=DEMO_UNITS_FILE.read_bytes(),
            headers={**ids.bearer("admin"), "content-type": "application/yaml"})
        assert imported.status_code == 200, imported.text


async def _named_clue(suite, ids, unit: str, text: str) -> dict:
    """A citizen's named report by a poster's QR page, once triage has classified it."""
    poster = await suite.gateway.post("/api/v1/intake/posters", headers=ids.bearer("triage_officer"), json={
        "unit_id": unit, "place": "便民服务中心", "title": "作风问题随手拍"})
    assert poster.status_code == 201, poster.text
    report = await suite.gateway.post(f"/api/v1/intake/qr/{poster.json()['code']}/reports",
                                      headers={"accept": "application/json"}, data={"text": text, **REPORTER})
    assert report.status_code == 201, report.text
    clue_id = report.json()["id"]

    async def triaged():
        got = await suite.gateway.get(f"/api/v1/triage/clues/{clue_id}", headers=ids.bearer("triage_officer"))
        return got.json() if got.status_code == 200 else None
    return await eventually(triaged)


async def _transfer(suite, ids, clue_id: str, unit: str) -> None:
    moved = await suite.gateway.patch(f"/api/v1/triage/clues/{clue_id}", headers=ids.bearer("triage_officer"),
                                      json={"decision": "transfer", "unit_id": unit, "reason": "属地单位办理"})
    assert moved.status_code == 200, moved.text


# Known gap: the queue page shows its first page only, and after the whole suite's 700 clues the new one is not on
# it (it passes on its own and in the browser tests alone); the page needs a search by tracking number.
@pytest.mark.xfail(reason="queue page lacks a tracking-number search; crowded by the suite's other clues",
                   strict=False)
async def test_the_triage_officer_overrides_a_classification_with_a_reason(suite, ids, sign_in):
    await _directory(suite, ids)
    clue = await _named_clue(suite, ids, UNIT_A, f"窗口工作人员上班时间玩手机，群众排队无人办理。{secrets.token_hex(2)}")
    officer = await sign_in("triage", "/console/triage/queue")
    page = officer.page
    row = page.locator("tr", has_text=clue["tracking_number"])
    await row.first.click()
    drawer = page.locator("[data-test=clue-drawer]")
    await drawer.get_by_text("人工调整").wait_for()
    text = await drawer.locator("[data-test=evidence-text]").inner_text()
    assert "玩手机" in text
    assert REPORTER["phone"] not in await page.content() and REPORTER["name"] not in await page.content()
    await officer.shot("triage-queue")
    if os.environ.get("CONSOLE_README_SHOTS"):  # refresh the README's picture on request, not on every run
        shutil.copy(ROOT / "tests/artifacts/console/triage-queue.png",
                    ROOT / "docs" / "img" / "console-triage.png")
    await drawer.locator("[data-test=type-select]").click()
    await page.locator(".el-select-dropdown__item", has_text="不讲程序乱办事").first.click()
    await drawer.locator("[data-test=override-reason]").fill("反映的是违反办事程序，改为乱作为")
    await drawer.locator("[data-test=override-save]").click()
    outcome = page.locator(".el-message")
    await outcome.first.wait_for()
    assert "已保存调整" in await outcome.first.inner_text(), await outcome.first.inner_text()
    got = await suite.gateway.get(f"/api/v1/triage/clues/{clue['id']}", headers=ids.bearer("triage_officer"))
    assert got.json()["type_code"] == "no_procedure" and got.json()["overridden"] is True
    assert got.json()["decision"] == "accept"  # an undecided clue takes its decision with the override


async def test_the_unit_handler_files_a_result_and_sees_only_its_own_unit(suite, ids, sign_in):
    await _directory(suite, ids)
    mine = await _named_clue(suite, ids, UNIT_A, f"社保窗口办事推诿，让群众来回跑了三次。{secrets.token_hex(2)}")
    theirs = await _named_clue(suite, ids, UNIT_B, f"物业监管科对投诉敷衍了事。{secrets.token_hex(2)}")
    await _transfer(suite, ids, mine["id"], UNIT_A)
    await _transfer(suite, ids, theirs["id"], UNIT_B)

    handler = await sign_in("unit-a", "/console/unit/transfers")
    page = handler.page
    await page.locator("tr", has_text=mine["tracking_number"]).first.wait_for()
    assert await page.locator("tr", has_text=theirs["tracking_number"]).count() == 0
    menu = await page.locator(".el-aside").inner_text()
    assert "线索队列" not in menu and "案件列表" not in menu
    await page.locator("tr", has_text=mine["tracking_number"]).first.click()
    dialog = page.locator("[data-test=transfer-dialog]")
    await dialog.locator("[data-test=result-form]").wait_for()
    html = await page.content()
    assert REPORTER["phone"] not in html and REPORTER["name"] not in html  # never the reporter
    await dialog.locator("[data-test=f-actions]").fill("调取窗口监控，约谈当事工作人员")
    await dialog.locator("[data-test=f-findings]").fill("反映情况属实，已批评教育并整改")
    await dialog.locator("[data-test=f-responsible]").fill("李某（窗口负责人）")
    await dialog.locator("[data-test=f-evidence]").set_input_files(files=[{
        "name": "处理记录.pdf", "mimeType": "application/pdf",
        "buffer": b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"}])
    await handler.shot("unit-transfer")
    await dialog.locator("[data-test=f-submit]").click()
    await page.get_by_text("办理结果已报送").wait_for()
    got = await suite.gateway.get(f"/api/v1/triage/transfers/{mine['id']}",
                                  headers=ids.bearer("unit_handler", unit=UNIT_A))
    assert got.json()["state"] == "filed" and got.json()["results"][0]["evidence"][0]["name"] == "处理记录.pdf"
    # The other unit's clue is not reachable by its address either.
    await page.goto(f"{handler.base}/console/unit/transfers")
    await page.locator("tr", has_text=mine["tracking_number"]).first.wait_for()
    assert theirs["tracking_number"] not in await page.content()


async def test_the_investigator_moves_a_case_with_a_reason(suite, ids, sign_in):
    made = await suite.gateway.post("/api/v1/accountability/cases", headers=ids.bearer("investigator"), json={
        "title": f"某局审批窗口推诿扯皮问题 {secrets.token_hex(2)}", "summary": "群众反映多次往返仍未办结。",
        "unit_id": UNIT_A})
    assert made.status_code == 201, made.text
    case = made.json()
    investigator = await sign_in("investigator", f"/console/cases/{case['id']}")
    page = investigator.page
    state = page.locator("[data-test=case-state]")
    await state.wait_for()
    assert (await state.inner_text()).strip() == "初核"
    await page.locator("[data-test=act-file]").click()
    await page.locator("[data-test=transition-reason]").fill("初核认为需要立案审查")
    await page.locator("[data-test=transition-ok]").click()
    await page.get_by_text("已办理").wait_for()
    await page.locator("[data-test=case-state]", has_text="立案").wait_for()
    assert await page.locator("[data-test=act-substantiate]").count() == 1  # the new state's actions
    await investigator.shot("case-workbench")
    got = await suite.gateway.get(f"/api/v1/accountability/cases/{case['id']}", headers=ids.bearer("investigator"))
    assert got.json()["state"] == "filed"
    await page.goto(f"{investigator.base}/console/rectifications")
    await page.locator("[data-test=ledger]").wait_for()
    await investigator.shot("rectification-ledger")


async def test_the_evaluation_office_opens_a_campaign(suite, ids, sign_in):
    tag = secrets.token_hex(3)
    units = [{"unit_id": f"CU{tag}-{i}", "name": name, "category": "机关科室"}
             for i, name in enumerate(["市行政审批局", "市不动产登记中心"])]
    cid = await new_campaign(suite.gateway, ids, units, categories=["机关科室"], min_ballots=1,
                             name=f"2026年万人评机关 {tag}")
    admin = await sign_in("evaluation", f"/console/evaluation/campaigns/{cid}")
    page = admin.page
    await page.locator("[data-test=campaign-state]", has_text="草稿").wait_for()
    await page.get_by_text("市不动产登记中心").wait_for()
    await page.locator("[data-test=camp-open]").click()
    await page.locator(".el-message-box").get_by_role("button", name="确定").click()
    await page.locator("[data-test=campaign-state]", has_text="投票中").wait_for()
    await admin.shot("evaluation-campaign")
    got = await suite.gateway.get(f"/api/v1/evaluation/campaigns/{cid}", headers=ids.bearer("evaluation_admin"))
    assert got.json()["state"] == "open"
