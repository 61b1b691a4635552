"""Import (批量导入) through the gateway: Datong's bulletin in one request, the xlsx template, per-row errors,
all-or-nothing per case, the audit entry with the importer and the file's hash."""

from __future__ import annotations

import hashlib
import io
import secrets

from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from services.accountability.models import audit_log, cases, imports

from .test_accountability_cases import API, call

DISCIPLINE = ["party_warning", "gov_demerit", "party_serious_warning", "gov_warning", "party_probation",
              "gov_demotion"]
ORGANIZATIONAL = ["post_adjustment", "demotion", "suspension_for_review", "removal_from_office", "yellow_card",
                  "ordered_resignation"]
LIGHT = ["reminder_talk", "inquiry_letter", "interview", "admonishment", "written_self_criticism"]


def datong(region: str) -> list[dict]:
    """483 problems, 704 persons, 95 disciplined, 189 organizationally handled, 12 county-level cadres —
    with 300 light measures that are not 组织处理 (seeds/002)."""
    found = [{"ref": f"{region}-{n:04d}", "title": f"问题{n}", "region": region, "campaign": "2017年作风集中整治",
              "tags": ["formalism"] if n % 4 == 0 else [], "finding": "substantiated" if n % 3 else "partly_substantiated",
              "opened_on": "2017-08-01", "concluded_on": f"2017-{8 + n % 5:02d}-15", "persons": []}
             for n in range(483)]
    for i in range(704):
        measures = []
        if i < 95:
            measures.append({"code": DISCIPLINE[i % 6], "transferred_for_prosecution": i == 7})
        if 65 <= i < 254:
            measures.append({"code": ORGANIZATIONAL[i % 6]})
        if 200 <= i < 500:
            measures.append({"code": LIGHT[i % 5]})
        rank = "county" if i % 59 == 0 else ("village" if i % 7 == 0 else "township" if i % 3 else "general")
        found[i if i < 483 else i % 483]["persons"].append({
            "name": f"干部{i:04d}", "post": "村原党支部书记" if rank == "village" else "科员", "unit_id": f"{region}-U{i % 40}",
            "rank": rank, "party_member": True, "responsibility": "direct", "measures": measures,
            "management": "township_committee" if rank == "village" else "county_committee"})
    return found


async def test_datongs_bulletin_imported_in_one_request_reproduces_its_figures(suite, ids):
    region = f"大同-{secrets.token_hex(3)}"
    officer = ids.bearer("investigator", subject="importer-chen")
    bad = [
        # 警告 (party) for a non-member: this whole case is refused, its two persons are not imported.
        {"ref": f"{region}-bad-1", "title": "不合规", "region": region, "finding": "substantiated",
         "concluded_on": "2017-10-01", "persons": [
             {"name": "甲", "party_member": True, "responsibility": "direct", "measures": [{"code": "gov_warning"}]},
             {"name": "乙", "party_member": False, "measures": [{"code": "party_warning"}]}]},
        # A measure on an unfounded finding: refused (measures only after a substantiated finding).
        {"ref": f"{region}-bad-2", "title": "不属实", "region": region, "finding": "unfounded",
         "concluded_on": "2017-10-01", "persons": [{"name": "丙", "measures": [{"code": "demotion"}]}]},
        {"ref": f"{region}-bad-3", "title": "", "rank": "x"},
    ]
    body = {"cases": [*datong(region)[:200], *bad, *datong(region)[200:]]}
    result = await call(suite, "POST", "/imports", officer, 201, json=body)
    assert (result["cases_imported"], result["cases_refused"]) == (483, 3)
    by_ref = {}
    for error in result["errors"]:
        by_ref.setdefault(error["ref"], []).append(error)
    assert by_ref[f"{region}-bad-1"][0]["rows"] == [201] and "党纪处分" in by_ref[f"{region}-bad-1"][0]["detail"]
    assert "认定属实" in by_ref[f"{region}-bad-2"][0]["detail"]
    assert {(e["field"], e["detail"]) for e in by_ref[f"{region}-bad-3"]} == {("案件标题", "不能为空"),
                                                                          ("职级", "不是可导入的栏目")}

    stats = await call(suite, "GET", "/stats", ids.bearer("auditor"),
                       params={"from": "2017-01-01", "to": "2017-12-31", "region": region, "origin": "import"})
    assert (stats["problems"], stats["persons"], stats["disciplined"], stats["organizational_handling"],
            stats["county_level"]) == (483, 704, 95, 189, 12)
    assert stats["education"] == 300
    first = await call(suite, "GET", "/cases", officer, params={"case_number": result["imported"][0]["case_number"]})
    assert first["items"][0]["campaign"] == "2017年作风集中整治" and first["items"][0]["tags"] == ["formalism"]
    assert first["items"][0]["source"] == "import" and first["items"][0]["state"] == "decided"

    # Sent again: nothing doubles; every case is refused as already imported.
    again = await call(suite, "POST", "/imports", officer, 201, json={"cases": datong(region)[:3]})
    assert again["cases_imported"] == 0 and {e["detail"] for e in again["errors"]} == {"该案件编号已导入过, 未重复导入"}
    async with suite.apps["accountability"].state.sessions() as session:
        entry = (await session.execute(select(imports).where(imports.c.id == result["import_id"]))).one()
        assert (entry.importer, entry.format, entry.cases_imported, entry.cases_refused) == (
            "importer-chen", "json", 483, 3)
        logged = (await session.execute(select(audit_log).where(audit_log.c.entity_id == result["import_id"]))).one()
        assert logged.action == "cases.imported" and logged.details["sha256"] == result["sha256"]
        assert logged.actor == "importer-chen" and "investigator" in logged.actor_roles


def sheet(rows: list[list]) -> bytes:
    book = Workbook()
    ws = book.active
    ws.title = "问责案件导入"
    ws.append(["案件编号", "案件标题", "地区", "标签", "五必查", "认定结果", "认定日期", "姓名", "职务", "职级", "中共党员",
               "责任类型", "管理权限", "处理措施"])
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_the_xlsx_import_reads_the_template_and_reports_errors_by_row(suite, ids):
    officer = ids.bearer("org_officer")
    template = await suite.gateway.get(f"{API}/imports/template.xlsx", headers=officer)
    assert template.status_code == 200
    headers = [c.value for c in next(load_workbook(io.BytesIO(template.content)).active.iter_rows(max_row=1))]
    assert headers[:3] == ["案件编号", "案件标题", "单位代码"] and "处理措施" in headers and "管理权限" in headers
    # The template itself imports: its example case, two persons (a village cadre, a state-enterprise manager).
    region = f"样例-{secrets.token_hex(3)}"
    example = load_workbook(io.BytesIO(template.content))
    for row in example.active.iter_rows(min_row=3):
        row[0].value = f"{region}-1"
    buffer = io.BytesIO()
    example.save(buffer)
    sample = await suite.gateway.post(f"{API}/imports/xlsx", headers=officer,
                                      files={"file": ("模板.xlsx", buffer.getvalue(), "application/octet-stream")})
    assert sample.status_code == 201 and sample.json()["cases_imported"] == 1, sample.text
    detail = await call(suite, "GET", f"/cases/{sample.json()['imported'][0]['case_id']}", officer)
    assert {(p["rank"], p["management"]) for p in detail["persons"]} == {
        ("village", "township_committee"), ("enterprise_staff", "state_enterprise")}

    ref = secrets.token_hex(3)
    data = sheet([
        [f"{ref}-A", "窗口推诿", "城区", "官僚主义", "是", "属实", "2026-03-02", "王某", "科长", "乡科级", "是", "直接责任",
         "县(区)委管理干部", "党纪警告"],
        [f"{ref}-A", None, None, None, None, None, None, "王某", "科长", "乡科级", "是", "直接责任", None, "函询"],
        [f"{ref}-B", "审批拖延", "城区", None, "否", "属实", "2026-03-05", "赵某", "科员", "科员级", "否", "直接责任",
         None, "约谈"],
        [f"{ref}-C", "吃拿卡要", "城区", None, "否", "部分属实", "2026-03-06", "孙某", "科员", "一般干部", "否", "直接责任",
         None, "警告"],
        [None, "无编号", "城区"],
        # Blank cells (no tags, no 五必查) take the import's defaults.
        [f"{ref}-D", "门难进", "城区", None, None, "属实", "2026-03-07", "钱某", "科员", "一般干部", "否", "直接责任",
         None, "提醒谈话"],
    ])
    response = await suite.gateway.post(f"{API}/imports/xlsx", headers=officer,
                                        files={"file": ("三月.xlsx", data, "application/octet-stream")})
    assert response.status_code == 201, response.text
    result = response.json()
    assert (result["cases_imported"], result["cases_refused"]) == (2, 3)
    assert result["sha256"] == hashlib.sha256(data).hexdigest()
    errors = {(tuple(e["rows"]), e["field"]): e["detail"] for e in result["errors"]}
    assert errors[((4,), "职级")].startswith("须为以下之一")
    assert errors[((5,), "处理措施")] == "警告须写明党纪警告或政务警告"
    assert errors[((6,), "案件编号")] == "必须填写"
    assert [i["ref"] for i in result["imported"]] == [f"{ref}-A", f"{ref}-D"]
    plain = await call(suite, "GET", f"/cases/{result['imported'][1]['case_id']}", officer)
    assert (plain["tags"], plain["must_investigate"], plain["state"]) == ([], False, "decided")
    imported = await call(suite, "GET", f"/cases/{result['imported'][0]['case_id']}", officer)
    person = imported["persons"][0]
    assert imported["tags"] == ["bureaucratism"] and imported["must_investigate"] is True
    assert [m["code"] for m in person["measures"]] == ["party_warning", "inquiry_letter"]
    async with suite.apps["accountability"].state.sessions() as session:
        assert await session.scalar(select(cases.c.id).where(cases.c.origin_key == f"import:{ref}-B")) is None
        entry = (await session.execute(select(imports).where(imports.c.id == result["import_id"]))).one()
    assert (entry.format, entry.file_name, entry.sha256) == ("xlsx", "三月.xlsx", hashlib.sha256(data).hexdigest())

    not_a_sheet = await suite.gateway.post(f"{API}/imports/xlsx", headers=officer,
                                           files={"file": ("x.xlsx", b"not a spreadsheet", "application/octet-stream")})
    assert not_a_sheet.status_code == 422 and "xlsx" in not_a_sheet.json()["detail"]
    handler = ids.bearer("unit_handler", unit="U-x")
    assert (await suite.gateway.post(f"{API}/imports", headers=handler, json={"cases": [{}]})).status_code == 403
