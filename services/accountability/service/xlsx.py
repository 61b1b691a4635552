"""The import's spreadsheet (导入模板): one row per person and measure, rows of one case share its 案件编号.

Cells use the Chinese words users know (属实, 县处级, 是/否, 降职…); this module turns them into the
import's JSON shape, with a per-row error for any cell it cannot read.
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill

from .. import domain

# (field, header, case-level?, note shown in the template)
COLUMNS: tuple[tuple[str, str, bool, str], ...] = (
    ("ref", "案件编号", True, "必填; 同一案件的多行填同一编号"),
    ("title", "案件标题", True, "必填"),
    ("unit_id", "单位代码", True, "单位名录中的代码, 可空"),
    ("unit_name", "单位名称", True, ""),
    ("region", "地区", True, "县(区)"),
    ("campaign", "专项活动", True, "如: 2017年作风集中整治"),
    ("problem_family", "问题类别", True, "不作为/慢作为/乱作为的代码, 可空"),
    ("problem_type", "问题类型", True, "13类问题的代码, 可空"),
    ("tags", "标签", True, "以顿号分隔, 如: 形式主义、违规吃喝"),
    ("must_investigate", "五必查", True, "是/否"),
    ("serious", "重大案件", True, "是/否"),
    ("opened_on", "立项日期", True, "YYYY-MM-DD"),
    ("finding", "认定结果", True, "属实/部分属实/不属实"),
    ("concluded_on", "认定日期", True, "YYYY-MM-DD"),
    ("finding_summary", "认定情况", True, ""),
    ("name", "姓名", False, "被处理人员; 无人员的案件可空"),
    ("post", "职务", False, ""),
    ("rank", "职级", False, "、".join(domain.RANKS.values())),
    ("party_member", "中共党员", False, "是/否"),
    ("responsibility", "责任类型", False, "、".join(domain.RESPONSIBILITIES.values())),
    ("management", "管理权限", False, "、".join(domain.MANAGEMENT.values())),
    ("measure", "处理措施", False, "一行一项; 党纪警告、政务警告、降职、函询…"),
    ("transferred_for_prosecution", "移送司法", False, "是/否"),
    ("note", "备注", False, ""),
)
HEADERS = {header: field for field, header, _c, _n in COLUMNS}
HEADER_OF = {field: header for field, header, _c, _n in COLUMNS}
CASE_FIELDS = [field for field, _h, case_level, _n in COLUMNS if case_level]
SHEET = "问责案件导入"


def _measure_labels() -> dict[str, str]:
    counts: dict[str, int] = {}
    for m in domain.MEASURES:
        counts[m.name] = counts.get(m.name, 0) + 1
    labels: dict[str, str] = {}
    for m in domain.MEASURES:
        short = {"party_discipline": "党纪", "government_sanction": "政务"}.get(m.family, "")
        labels[f"{short}{m.name}"] = m.code
        if counts[m.name] == 1:
            labels[m.name] = m.code
        labels[m.code] = m.code
    labels.update({"党内警告": "party_warning", "党内严重警告": "party_serious_warning", "诫勉谈话": "admonishment"})
    return labels


MEASURE_LABELS = _measure_labels()
CHOICES = {
    "finding": {v: k for k, v in domain.FINDINGS.items()},
    "rank": {v: k for k, v in domain.RANKS.items()},
    "responsibility": {v: k for k, v in domain.RESPONSIBILITIES.items()},
    "management": {v: k for k, v in domain.MANAGEMENT.items()},
}
TAG_CODES = {v: k for k, v in domain.TAG_NAMES.items()}
YES, NO = {"是", "y", "yes", "true", "1", "√"}, {"否", "n", "no", "false", "0", ""}


def template() -> bytes:
    """The downloadable template: headers, one example case of two rows, and a sheet of allowed values."""
    book = Workbook()
    sheet = book.active
    sheet.title = SHEET
    sheet.append([header for _f, header, _c, _n in COLUMNS])
    sheet.append([note for _f, _h, _c, note in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for cell in sheet[2]:
        cell.font = Font(italic=True, color="808080")
        cell.fill = PatternFill("solid", fgColor="F2F2F2")
    example = {"ref": "DT-2017-0001", "title": "某乡镇扶贫资金发放迟缓", "region": "广灵县",
               "campaign": "2017年作风集中整治",
               "tags": "形式主义", "must_investigate": "否", "serious": "否", "opened_on": "2017-09-01",
               "finding": "属实", "concluded_on": "2017-11-20", "finding_summary": "经查属实"}
    first = {**example, "name": "张某", "post": "村原党支部书记", "rank": "村(社区)干部", "party_member": "是",
             "responsibility": "直接责任", "management": "乡镇(街道)党委管理", "measure": "党纪警告"}
    second = {"ref": "DT-2017-0001", "name": "李某", "post": "邮政储蓄银行支行原行长", "rank": "国有企业管理人员",
              "party_member": "是", "responsibility": "主要领导责任", "management": "国有企业党组织管理",
              "measure": "降职"}
    for row in (first, second):
        sheet.append([row.get(field, "") for field, _h, _c, _n in COLUMNS])
    for index, (_f, header, _c, _n) in enumerate(COLUMNS):
        sheet.column_dimensions[sheet.cell(1, index + 1).column_letter].width = max(10, len(header) * 3)
    values = book.create_sheet("可选值")
    values.append(["栏目", "可填写的值"])
    values.append(["认定结果", "、".join(domain.FINDINGS.values())])
    values.append(["职级", "、".join(domain.RANKS.values())])
    values.append(["责任类型", "、".join(domain.RESPONSIBILITIES.values())])
    values.append(["管理权限", "、".join(domain.MANAGEMENT.values())])
    values.append(["处理措施", "、".join(label for label, code in MEASURE_LABELS.items() if label != code)])
    values.append(["标签", "、".join(domain.TAG_NAMES.values())])
    values.append(["说明", "第2行为填写说明, 导入时跳过; 同一案件每名人员每项措施一行, 案件栏目只需在第一行填写"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


class CellError(ValueError):
    pass


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _convert(field: str, value: Any) -> Any:
    raw = _text(value)
    if field in ("must_investigate", "serious", "party_member", "transferred_for_prosecution"):
        if raw.lower() in YES:
            return True
        if raw.lower() in NO:
            return False
        raise CellError("须填写是或否")
    if not raw:
        return None
    if field in ("opened_on", "concluded_on"):
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(raw.replace("/", "-").replace(".", "-"))
        except ValueError as exc:
            raise CellError("须为日期 (YYYY-MM-DD)") from exc
    if field in CHOICES:
        if raw in CHOICES[field]:
            return CHOICES[field][raw]
        if raw in CHOICES[field].values():
            return raw
        raise CellError(f"须为以下之一: {'、'.join(CHOICES[field])}")
    if field == "measure":
        if raw in MEASURE_LABELS:
            return MEASURE_LABELS[raw]
        if raw == "警告":
            raise CellError("警告须写明党纪警告或政务警告")
        raise CellError(f"未知的处理措施 {raw!r}, 可选值见模板的“可选值”页")
    if field == "tags":
        return [TAG_CODES.get(t, t) for t in re.split(r"[、,，;；\s]+", raw) if t]
    return raw


def parse(data: bytes) -> tuple[list[tuple[list[int], dict]], list[dict]]:
    """Rows → cases (in order of first appearance) and the errors of cells that could not be read."""
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise CellError("文件不是可读取的 xlsx 表格, 请使用下载的导入模板") from exc
    sheet = book[SHEET] if SHEET in book.sheetnames else book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = [_text(h) for h in next(rows, ())]
    fields = [HEADERS.get(h) for h in header]
    if "ref" not in fields or "title" not in fields:
        raise CellError("表头须包含“案件编号”和“案件标题”, 请使用下载的导入模板")
    by_ref: dict[str, tuple[list[int], dict]] = {}
    errors: list[dict] = []
    for number, values in enumerate(rows, start=2):
        cells = {f: v for f, v in zip(fields, values, strict=False) if f}
        if not any(_text(v) for v in cells.values()):
            continue
        if number == 2 and _text(cells.get("ref")) == COLUMNS[0][3]:
            continue  # the template's line of notes
        ref = _text(cells.get("ref"))
        if not ref:
            errors.append({"rows": [number], "ref": None, "field": "案件编号", "detail": "必须填写"})
            continue
        converted: dict[str, Any] = {}
        for field, value in cells.items():
            try:
                converted[field] = _convert(field, value)
            except CellError as exc:
                errors.append({"rows": [number], "ref": ref, "field": HEADER_OF[field], "detail": str(exc)})
        source_rows, case = by_ref.setdefault(ref, ([], {"ref": ref, "persons": []}))
        source_rows.append(number)
        for field in CASE_FIELDS:
            value = converted.get(field)
            if value is None:  # a blank cell, or a column the sheet lacks: the import's default
                continue
            # A case's cells count on its first row that fills them; later rows may leave them blank.
            if field not in case or (case[field] in ("", [], False) and value not in ("", [])):
                case[field] = value
        _add_person(case, converted)
    return list(by_ref.values()), errors


def _add_person(case: dict, row: dict) -> None:
    if not row.get("name"):
        return
    key = (row["name"], row.get("post"))
    person = next((p for p in case["persons"] if (p["name"], p.get("post")) == key), None)
    if person is None:
        person = {"name": row["name"], "post": row.get("post"), "rank": row.get("rank"),
                  "party_member": bool(row.get("party_member")), "responsibility": row.get("responsibility"),
                  "management": row.get("management"), "measures": []}
        case["persons"].append(person)
    if row.get("measure"):
        person["measures"].append({"code": row["measure"],
                                   "transferred_for_prosecution": bool(row.get("transferred_for_prosecution")),
                                   "note": row.get("note")})
