"""services/common/office.py: workbooks and documents that open in Excel/Word as data, in Chinese."""

from __future__ import annotations

import io

import docx
import openpyxl

from services.accountability.export_api import PROBLEM_FAMILIES, PROBLEM_TYPES
from services.common import office
from services.intake.catalog import CHANNELS
from services.triage.stats_api import CHANNEL_LABELS
from services.triage.taxonomy import default_taxonomy

EAST_ASIA = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia"


def test_a_workbook_has_bold_frozen_chinese_headers_and_never_a_formula():
    data = office.xlsx(office.Sheet("线索/梳理:表*", ("单位名称", "件数"), [
        ("=cmd|' /C calc'!A0", 3), ("南关\x01街道便民服务中心", -1.5), (["甲", "乙"], None)]))
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet.title == "线索-梳理-表-"  # characters Excel refuses in a tab name
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        ["单位名称", "件数"], ["'=cmd|' /C calc'!A0", 3], ["南关街道便民服务中心", -1.5], ["甲、乙", None]]
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.bold and sheet.auto_filter.ref == "A1:B4"
    assert sheet.column_dimensions["A"].width == 2 * len("南关街道便民服务中心") + 2  # CJK counts double


def test_a_csv_answer_starts_with_one_bom_and_names_the_file_in_chinese():
    response = office.csv_response("日期,件数\r\n", "sheet.csv", "线索梳理表.csv")
    assert response.body == "\ufeff日期,件数\r\n".encode()
    assert office.csv_response("\ufeff日期\r\n", "a.csv").body.count("\ufeff".encode()) == 1
    disposition = response.headers["content-disposition"]
    disposition.encode("latin-1")  # a header must be Latin-1: the Chinese name goes percent-encoded
    assert 'filename="sheet.csv"' in disposition and "filename*=UTF-8''%E7%BA%BF" in disposition


def test_a_document_sets_the_east_asian_fonts_and_its_headings():
    doc = office.Document("2026年11月作风问题查处情况通报")
    doc.heading("一、总体情况")
    doc.paragraph("查处作风问题 3 起\x07", label="合计")
    doc.table(("姓名", "处理措施"), [("张三", "诫勉")])
    read = docx.Document(io.BytesIO(doc.to_bytes()))
    assert [p.text for p in read.paragraphs] == [
        "2026年11月作风问题查处情况通报", "一、总体情况", "合计：查处作风问题 3 起"]
    assert read.paragraphs[1].style.name == "Heading 1"
    assert read.styles["Normal"].element.rPr.rFonts.get(EAST_ASIA) == office.CHINESE_FONT
    assert read.styles["Heading 1"].element.rPr.rFonts.get(EAST_ASIA) == office.HEADING_FONT
    assert [c.text for c in read.tables[0].rows[1].cells] == ["张三", "诫勉"]


def test_the_labels_the_exports_print_are_the_ones_intake_and_the_taxonomy_define():
    taxonomy = default_taxonomy()
    assert CHANNEL_LABELS == CHANNELS
    assert {code: t["label"] for code, t in taxonomy.types.items()} == PROBLEM_TYPES
    assert {code: f["label"] for code, f in taxonomy.families.items()} == PROBLEM_FAMILIES


def test_the_file_routes_are_documented_as_binary_in_the_openapi():
    from services.accountability.export_api import router as accountability
    from services.evaluation.export_api import router as evaluation
    from services.triage.api import router as triage

    routes = {r.path: r for rt in (accountability, evaluation, triage) for r in rt.routes}
    for path, media in (("/api/v1/triage/daily-sheets/{run_date}.xlsx", office.XLSX_TYPE),
                        ("/api/v1/accountability/cases.xlsx", office.XLSX_TYPE),
                        ("/api/v1/accountability/stats.xlsx", office.XLSX_TYPE),
                        ("/api/v1/accountability/bulletins/{month}.docx", office.DOCX_TYPE),
                        ("/api/v1/accountability/cases/{case_id}/document.docx", office.DOCX_TYPE),
                        ("/api/v1/evaluation/campaigns/{campaign_id}/rankings.xlsx", office.XLSX_TYPE)):
        content = routes[path].responses[200]["content"]
        assert content[media]["schema"] == {"type": "string", "format": "binary"}, path
