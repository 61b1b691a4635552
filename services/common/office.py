"""Office outputs: the xlsx, docx and CSV files that staff open in Excel, WPS or Word.

Every file a person reads carries Chinese headers, never internal codes alone. Three things are easy to get
wrong and so live here once:

- Excel opens a CSV without a byte-order mark as the local code page (GBK on a Chinese Windows), so the
  Chinese comes out garbled: every CSV answer starts with a UTF-8 BOM (:func:`csv_response`).
- openpyxl writes a string that begins with ``=`` as a *formula*, and a spreadsheet runs cells beginning
  with ``+ - @`` too: text from outside (unit names, reasons) is neutralised as ``csvsafe`` does for CSV;
  characters that XML cannot hold (control characters pasted from a phone) are dropped rather than
  failing the whole export.
- Word picks the font for Chinese from the *eastAsia* attribute, not from the font name python-docx sets:
  without it Chinese text falls back to whatever the machine has (:func:`document`).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Response

from .csvsafe import neutralise

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CSV_TYPE = "text/csv; charset=utf-8"
BOM = "\ufeff"

# XML 1.0 cannot carry these; openpyxl raises IllegalCharacterError on them.
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
CHINESE_FONT = "宋体"  # SimSun: present on every Chinese Windows and WPS install
HEADING_FONT = "黑体"  # SimHei, as official documents set headings
MAX_WIDTH = 60


def binary_response(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route answering a file, so the OpenAPI documents the body as binary."""
    return {200: {"description": description,
                  "content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}}


def attachment(ascii_name: str, chinese_name: str | None = None) -> dict[str, str]:
    """Content-Disposition: an ASCII ``filename`` for old clients, the Chinese one as ``filename*`` (RFC 6266)."""
    value = f'attachment; filename="{ascii_name}"'
    if chinese_name:
        value += f"; filename*=UTF-8''{quote(chinese_name)}"
    return {"content-disposition": value}


def csv_response(text: str, ascii_name: str, chinese_name: str | None = None) -> Response:
    """A CSV answer that Excel opens as UTF-8 (the BOM is added once, whoever wrote the text)."""
    body = text if text.startswith(BOM) else BOM + text
    return Response(body.encode("utf-8"), media_type=CSV_TYPE, headers=attachment(ascii_name, chinese_name))


def cell(value: Any) -> Any:
    """A value as the sheet should hold it: formula triggers neutralised, XML-illegal characters dropped."""
    if isinstance(value, str):
        return neutralise(_ILLEGAL_XML.sub("", value))
    if isinstance(value, list | tuple | set | frozenset):
        return cell("、".join(str(v) for v in value))
    return value


@dataclass(frozen=True, slots=True)
class Sheet:
    """One worksheet: its tab's title, the Chinese column headers and the rows (already in header order)."""

    title: str
    headers: Sequence[str]
    rows: Iterable[Sequence[Any]]
    widths: Sequence[int] | None = None  # in characters; measured from the content when not given


def _width(value: Any) -> int:
    text = "" if value is None else str(value)
    # A CJK character is about two Latin characters wide in Excel's unit.
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def xlsx(*sheets: Sheet) -> bytes:
    """The workbook as bytes: bold, frozen header row, auto-filter, columns wide enough for their content.

    Written in openpyxl's write-only mode (rows streamed to the file, not held as cell objects): several
    times faster and a fraction of the memory for a case list of tens of thousands of rows."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    bold, fill = Font(bold=True, name=CHINESE_FONT), PatternFill("solid", fgColor="DDE5F0")
    centred = Alignment(horizontal="center", vertical="center")
    for spec in sheets:
        sheet = book.create_sheet(_sheet_title(spec.title))
        rows = [[cell(v) for v in row] for row in spec.rows]
        widths = list(spec.widths or [max([_width(h), *(_width(r[i]) for r in rows if i < len(r))])
                                      for i, h in enumerate(spec.headers)])
        # Widths, the frozen row and the filter go before the first row: a write-only sheet is written in order.
        for i, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = min(MAX_WIDTH, width + 2)
        sheet.freeze_panes = "A2"
        if spec.headers:
            sheet.auto_filter.ref = f"A1:{get_column_letter(len(spec.headers))}{len(rows) + 1}"
        header_cells = []
        for header in spec.headers:
            target = WriteOnlyCell(sheet, value=cell(header))
            target.font, target.fill, target.alignment = bold, fill, centred
            header_cells.append(target)
        sheet.append(header_cells)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_title(title: str) -> str:
    # Excel refuses these characters in a tab name, and more than 31 characters.
    return re.sub(r"[\[\]:*?/\\]", "-", title)[:31] or "Sheet"


def xlsx_response(data: bytes, ascii_name: str, chinese_name: str | None = None) -> Response:
    return Response(data, media_type=XLSX_TYPE, headers=attachment(ascii_name, chinese_name))


def docx_response(data: bytes, ascii_name: str, chinese_name: str | None = None) -> Response:
    return Response(data, media_type=DOCX_TYPE, headers=attachment(ascii_name, chinese_name))


# -- docx ------------------------------------------------------------------------------------------------------


def _east_asian(style_or_run, font: str) -> None:
    from docx.oxml.ns import qn

    style_or_run.font.name = font
    r_pr = style_or_run.element.get_or_add_rPr()
    fonts = r_pr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = r_pr.makeelement(qn("w:rFonts"), {})
        r_pr.append(fonts)
    fonts.set(qn("w:eastAsia"), font)


class Document:
    """A Word document with Chinese fonts on the body and the headings; ``to_bytes`` when done."""

    def __init__(self, title: str) -> None:
        import docx
        from docx.shared import Pt

        self._doc = docx.Document()
        normal = self._doc.styles["Normal"]
        _east_asian(normal, CHINESE_FONT)
        normal.font.size = Pt(12)
        for name in ("Title", "Heading 1", "Heading 2", "Heading 3"):
            _east_asian(self._doc.styles[name], HEADING_FONT)
        self._doc.core_properties.title = title
        self._doc.add_heading(clean(title), level=0)

    def heading(self, text: str, level: int = 1) -> None:
        self._doc.add_heading(clean(text), level=level)

    def paragraph(self, text: str, *, label: str | None = None) -> None:
        para = self._doc.add_paragraph()
        if label:
            para.add_run(clean(label) + "：").bold = True
        para.add_run(clean(text))

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        table = self._doc.add_table(rows=1, cols=len(headers))
        table.style = "Table Grid"
        for target, header in zip(table.rows[0].cells, headers, strict=True):
            target.text = clean(header)
            for run in target.paragraphs[0].runs:
                run.bold = True
        for row in rows:
            cells = table.add_row().cells
            for target, value in zip(cells, row, strict=True):
                target.text = clean("" if value is None else str(value))

    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        self._doc.save(out)
        return out.getvalue()


def clean(text: str) -> str:
    """Text Word can hold (no XML-illegal control characters)."""
    return _ILLEGAL_XML.sub("", text)
