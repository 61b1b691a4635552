"""Office outputs and the leaders' dashboard through the gateway, on real Kafka and PostgreSQL: the xlsx
opened with openpyxl, the docx with python-docx, the CSVs' BOM, and who may read what."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import datetime

import docx
import openpyxl

from services.common.calendar import SHANGHAI

from ..support import eventually
from .test_accountability_cases import a_decided_case, a_unit, call
from .test_evaluation_campaigns import act, create_campaign, post_batch
from .test_triage_daily import run_through_gateway

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
BOM = b"\xef\xbb\xbf"
ACC, TRIAGE, EVAL = "/api/v1/accountability", "/api/v1/triage", "/api/v1/evaluation"
EAST_ASIA = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia"


def workbook(response) -> openpyxl.Workbook:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    assert response.headers["content-disposition"].startswith("attachment;")
    return openpyxl.load_workbook(io.BytesIO(response.content))


def rows_of(sheet) -> list[list]:
    return [["" if v is None else v for v in row] for row in sheet.iter_rows(values_only=True)]


def document(response) -> docx.document.Document:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == DOCX
    return docx.Document(io.BytesIO(response.content))


def text_of(doc) -> str:
    cells = [c.text for t in doc.tables for r in t.rows for c in r.cells]
    return "\n".join([p.text for p in doc.paragraphs] + cells)


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(BOM)  # Excel reads the Chinese as UTF-8 only with it
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


async def a_clue(suite, ids, unit: str, text: str) -> dict:
    officer = ids.bearer("triage_officer")
    made = await suite.gateway.post("/api/v1/intake/reports", headers=officer, json={
        "channel": "petition", "text": text, "unit_id": unit, "issue_receipt": False})
    assert made.status_code == 201, made.text

    async def in_triage():
        got = await suite.gateway.get(f"{TRIAGE}/clues/{made.json()['id']}", headers=officer)
        return got.json() if got.status_code == 200 else None

    return await eventually(in_triage)


# -- triage ----------------------------------------------------------------------------------------------------


async def test_the_daily_sheet_as_xlsx_holds_the_csv_rows_under_chinese_headers(suite, ids):
    unit = f"u-sheet-{secrets.token_hex(3)}"
    await a_clue(suite, ids, unit, "区住建局窗口办事推诿，让群众来回跑了五次")
    today = datetime.now(SHANGHAI).date().isoformat()
    ran = await run_through_gateway(suite, ids, today)

    as_csv = csv_rows(await suite.gateway.get(f"{TRIAGE}/daily-sheets/{today}.csv", headers=ids.bearer("auditor")))
    book = workbook(await suite.gateway.get(f"{TRIAGE}/daily-sheets/{today}.xlsx", headers=ids.bearer("auditor")))
    sheet = book.worksheets[0]
    rows = rows_of(sheet)
    assert rows[0] == ["日期", "维度", "代码", "名称", "件数"] == as_csv[0]
    assert [[str(v) for v in r] for r in rows[1:]] == as_csv[1:]
    assert rows[-1] == [today, "合计", "", "合计", ran["total"]]
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.bold
    assert {"渠道", "问题类型", "责任单位", "处置方式"} <= {r[1] for r in rows[1:]}
    assert any(r[1] == "渠道" and r[2] == "petition" for r in rows)

    older = await suite.gateway.get(f"{TRIAGE}/daily-sheets/{today}.xlsx", params={"version": ran["version"]},
                                    headers=ids.bearer("triage_officer"))
    assert workbook(older).worksheets[0].max_row == sheet.max_row
    handler = ids.bearer("unit_handler", unit=unit)
    assert (await suite.gateway.get(f"{TRIAGE}/daily-sheets/{today}.xlsx", headers=handler)).status_code == 403
    missing = await suite.gateway.get(f"{TRIAGE}/daily-sheets/2001-01-01.xlsx", headers=ids.bearer("auditor"))
    assert missing.status_code == 404 and "尚无" in missing.json()["detail"]


async def test_clues_per_day_and_the_unit_by_type_heat_map_count_what_arrived(suite, ids):
    today = datetime.now(SHANGHAI).date().isoformat()
    auditor = ids.bearer("auditor")
    unit = f"u-heat-{secrets.token_hex(3)}"

    async def daily():
        got = await suite.gateway.get(f"{TRIAGE}/stats/daily", params={"from": today, "to": today}, headers=auditor)
        assert got.status_code == 200, got.text
        return got.json()

    before = await daily()
    clues = [await a_clue(suite, ids, unit, text) for text in (
        "区住建局窗口办事推诿，让群众来回跑了五次", "区住建局科长收受开发商购物卡，违反八项规定")]
    after = await daily()
    (day_before,), (day_after,) = before["days"], after["days"]
    assert day_after["date"] == today
    assert day_after["by_channel"].get("petition", 0) - day_before["by_channel"].get("petition", 0) == 2
    families = [c["family"] or "unclassified" for c in clues]
    for family in set(families):
        grown = day_after["by_family"].get(family, 0) - day_before["by_family"].get(family, 0)
        assert grown == families.count(family)
    assert after["labels"]["channel"]["petition"] == "信访"
    assert after["labels"]["family"]["inaction"] == "不作为" and after["labels"]["family"]["misconduct"] == "乱作为"

    week = await suite.gateway.get(f"{TRIAGE}/stats/daily", params={"from": "2026-11-01", "to": "2026-11-07"},
                                   headers=ids.bearer("investigator"))
    assert [d["date"] for d in week.json()["days"]] == [f"2026-11-0{i}" for i in range(1, 8)]

    heat = await suite.gateway.get(f"{TRIAGE}/stats/heatmap", params={"from": today, "to": today}, headers=auditor)
    assert heat.status_code == 200, heat.text
    heat = heat.json()
    unit_at = {u["id"]: i for i, u in enumerate(heat["units"])}
    type_at = {t["code"]: i for i, t in enumerate(heat["types"])}
    counts = {(u, t): n for u, t, n in heat["cells"]}
    for clue in clues:
        same = sum(1 for c in clues if (c["type_code"] or "unclassified") == (clue["type_code"] or "unclassified"))
        assert counts[(unit_at[unit], type_at[clue["type_code"] or "unclassified"])] == same
    assert {"code": "idle", "label": "不勤不干型"} in heat["types"]

    handler = ids.bearer("unit_handler", unit=unit)
    for path in ("/stats/daily", "/stats/heatmap"):
        assert (await suite.gateway.get(TRIAGE + path, headers=handler)).status_code == 403
    backwards = await suite.gateway.get(f"{TRIAGE}/stats/daily", params={"from": "2026-12-02", "to": "2026-12-01"},
                                        headers=auditor)
    assert backwards.status_code == 422 and backwards.headers["content-type"] == "application/problem+json"
    assert "晚于截止日期" in backwards.json()["detail"]
    too_long = await suite.gateway.get(f"{TRIAGE}/stats/heatmap", params={"from": "2020-01-01", "to": "2026-12-01"},
                                       headers=auditor)
    assert too_long.status_code == 422 and "最长" in too_long.json()["detail"]
    garbled = await suite.gateway.get(f"{TRIAGE}/stats/daily", params={"from": "2026-13-40"}, headers=auditor)
    assert garbled.status_code == 422 and garbled.headers["content-type"] == "application/problem+json"


# -- accountability --------------------------------------------------------------------------------------------


async def test_case_lists_as_xlsx_follow_the_filters_and_the_unit_scope(suite, ids):
    mine, theirs = await a_unit(suite, name="市住建局"), await a_unit(suite, name="市交通局")
    decided = await a_decided_case(suite, ids, mine, problem_type="idle", problem_family="inaction")
    other = await a_decided_case(suite, ids, theirs)
    officer = ids.bearer("investigator")
    open_only = await call(suite, "POST", "/cases", officer, 201, json={"title": "=HYPERLINK(\"x\")", "unit_id": mine})

    book = workbook(await suite.gateway.get(f"{ACC}/cases.xlsx", params={"unit_id": mine}, headers=officer))
    rows = rows_of(book["案件清单"])
    header = rows[0]
    assert header[:5] == ["案件编号", "标题", "案件状态", "来源", "被反映单位"] and "一案双查" not in header
    by_number = {r[0]: dict(zip(header, r, strict=True)) for r in rows[1:]}
    assert set(by_number) == {decided["case_number"], open_only["case_number"]}
    row = by_number[decided["case_number"]]
    assert row["案件状态"] == "作出处理决定" and row["被反映单位"] == "市住建局" and row["认定结果"] == "属实"
    assert row["问题类型"] == "不勤不干型" and row["问题类别"] == "不作为" and row["牵头单位"] == "市纪委监委"
    assert by_number[open_only["case_number"]]["标题"] == "'=HYPERLINK(\"x\")"  # never a formula

    handler = ids.bearer("unit_handler", unit=mine)
    scoped = rows_of(workbook(await suite.gateway.get(f"{ACC}/cases.xlsx", headers=handler)).worksheets[0])
    assert scoped[0] == ["案件编号", "案件状态", "单位名称", "单位代码", "认定结果", "处理结果", "认定日期", "结案时间"]
    assert [r[0] for r in scoped[1:]] == [decided["case_number"]]  # not the open case, not the other unit's
    assert scoped[1][5] == "您反映的问题属实，已依规处理。"
    flat = str(scoped)
    assert "张三" not in flat and other["case_number"] not in flat and "未及时传达" not in flat


async def test_stats_and_the_monthly_bulletin_as_office_files(suite, ids):
    unit = await a_unit(suite)
    await a_decided_case(suite, ids, unit, problem_type="idle", problem_family="inaction")
    month = datetime.now(SHANGHAI).date().isoformat()[:7]
    auditor = ids.bearer("auditor")
    figures = await call(suite, "GET", f"/stats?from={month}-01", auditor)

    book = workbook(await suite.gateway.get(f"{ACC}/stats.xlsx", params={"from": f"{month}-01"}, headers=auditor))
    assert book.sheetnames == ["汇总", "四种形态", "问题类型", "问题类别"]
    summary = dict(rows_of(book["汇总"])[1:])
    assert summary["查处问题(起)"] == figures["problems"] >= 1 and summary["处理人数(人)"] == figures["persons"]
    assert summary["地区"] == "全市" and summary["统计期间"].startswith(f"{month}-01 至")
    types = {r[0]: r for r in rows_of(book["问题类型"])[1:]}
    assert types["idle"][1] == "不勤不干型"
    assert rows_of(book["四种形态"])[1][0] == "第一种形态"

    bulletin = await call(suite, "GET", f"/bulletins/{month}", auditor)
    doc = document(await suite.gateway.get(f"{ACC}/bulletins/{month}.docx", headers=ids.bearer("investigator")))
    year, mon = month.split("-")
    assert doc.paragraphs[0].text == f"{year}年{int(mon)}月作风问题查处情况通报"
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert headings[:1] == ["一、总体情况"] and "三、澄清正名" in headings
    assert f"查处作风问题 {bulletin['stats']['problems']} 起，处理 {bulletin['stats']['persons']} 人" in text_of(doc)
    assert doc.styles["Normal"].element.rPr.rFonts.get(EAST_ASIA) == "宋体"

    handler = ids.bearer("unit_handler", unit=unit)
    for path in ("/stats.xlsx", f"/bulletins/{month}.docx"):
        assert (await suite.gateway.get(ACC + path, headers=handler)).status_code == 403
    bad = await suite.gateway.get(f"{ACC}/bulletins/2026-13.docx", headers=auditor)
    assert bad.status_code == 422 and "YYYY-MM" in bad.json()["detail"]


async def test_a_case_document_for_the_commission_and_the_decision_only_for_its_unit(suite, ids):
    unit, elsewhere = await a_unit(suite), await a_unit(suite)
    case = await a_decided_case(suite, ids, unit, serious=True)
    foreign = await a_decided_case(suite, ids, elsewhere)

    doc = document(await suite.gateway.get(f"{ACC}/cases/{case['id']}/document.docx",
                                           headers=ids.bearer("investigator")))
    text = text_of(doc)
    assert doc.paragraphs[0].text == f"案件材料 {case['case_number']}"
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert headings == ["一、案件概况", "二、认定情况", "三、涉及人员及处理", "四、一案双查"]
    assert "张三" in text and "书面检查" in text and "直接责任" in text and "认定结果：属实" in text
    assert "主要负责人：尚待查明" in text and "分管负责人：尚待查明" in text
    header_cells = [c.text for c in doc.tables[0].rows[0].cells]
    assert header_cells == ["姓名", "职务", "单位", "职级", "责任", "处理措施", "形态"]
    assert doc.styles["Heading 1"].element.rPr.rFonts.get(EAST_ASIA) == "黑体"

    handler = ids.bearer("unit_handler", unit=unit)
    own = text_of(document(await suite.gateway.get(f"{ACC}/cases/{case['id']}/document.docx", headers=handler)))
    assert "处理结果：您反映的问题属实，已依规处理。" in own
    assert "张三" not in own and "未及时传达" not in own and "一案双查" not in own
    hidden = await suite.gateway.get(f"{ACC}/cases/{foreign['id']}/document.docx", headers=handler)
    assert hidden.status_code == 404 and hidden.headers["content-type"] == "application/problem+json"


# -- evaluation ------------------------------------------------------------------------------------------------


async def a_published_campaign(suite, ids, series: str, year: int, marks: dict[str, int]) -> str:
    cid = await create_campaign(suite, ids, name=f"万人评机关{year}", categories=["机关科室"], series=series, year=year)
    r = await suite.gateway.post(f"{EVAL}/campaigns/{cid}/units", json={"units": [
        {"unit_id": u, "name": f"机关{u}", "category": "机关科室"} for u in marks]},
        headers=ids.bearer("evaluation_admin"))
    assert r.status_code == 200, r.text
    await act(suite, ids, cid, "open")
    ballots = [{"voter": f"1380000{year % 10}{v:03d}", "channel": "sms", "ratings": marks} for v in range(5)]
    assert (await post_batch(suite, ids, cid, ballots))["accepted"] == 5
    await act(suite, ids, cid, "close")
    await act(suite, ids, cid, "publish")
    return cid


async def test_rankings_as_xlsx_and_the_movement_between_two_campaigns(suite, ids):
    tag = secrets.token_hex(3)
    a, b, c = (f"{x}-{tag}" for x in "ABC")
    series = f"movement-{tag}"
    first = await a_published_campaign(suite, ids, series, 2025, {a: 5, b: 3, c: 1})
    second = await a_published_campaign(suite, ids, series, 2026, {a: 1, b: 5, c: 3})

    as_csv = csv_rows(await suite.gateway.get(f"{EVAL}/campaigns/{first}/rankings.csv"))
    rows = rows_of(workbook(await suite.gateway.get(f"{EVAL}/campaigns/{first}/rankings.xlsx")).worksheets[0])
    assert rows[0][:4] == ["评议类别", "名次", "单位代码", "单位名称"] and rows[0] == as_csv[0]
    assert [r[2] for r in rows[1:]] == [a, b, c] and rows[1][3] == f"机关{a}" and rows[1][1] == 1
    assert [[str(v) for v in r[:4]] for r in rows[1:]] == [r[:4] for r in as_csv[1:]]

    moved = await suite.gateway.get(f"{EVAL}/rankings/movement", params={"from_campaign": first,
                                                                          "to_campaign": second},
                                    headers=ids.bearer("investigator"))
    assert moved.status_code == 200, moved.text
    assert moved.json()["units"] == [
        {"unit_id": b, "unit_name": f"机关{b}", "from_rank": 2, "to_rank": 1, "change": 1},
        {"unit_id": c, "unit_name": f"机关{c}", "from_rank": 3, "to_rank": 2, "change": 1},
        {"unit_id": a, "unit_name": f"机关{a}", "from_rank": 1, "to_rank": 3, "change": -2}]

    handler = ids.bearer("unit_handler", unit=a)
    refused = await suite.gateway.get(f"{EVAL}/rankings/movement", params={"from_campaign": first,
                                                                            "to_campaign": second}, headers=handler)
    assert refused.status_code == 403
    half = await suite.gateway.get(f"{EVAL}/rankings/movement", params={"from_campaign": first},
                                   headers=ids.bearer("auditor"))
    assert half.status_code == 422 and "to_campaign" in half.json()["detail"]
    same = await suite.gateway.get(f"{EVAL}/rankings/movement", params={"from_campaign": first, "to_campaign": first},
                                   headers=ids.bearer("auditor"))
    assert same.status_code == 422 and "同一次" in same.json()["detail"]
