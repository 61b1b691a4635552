"""What the suite writes for others to open: CSV cells, the Atom feed, the redactor, the unit directory."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from xml.etree import ElementTree as ET

import pytest

from services.common.csvsafe import neutralise
from services.common.errors import Problem
from services.evaluation.charts import rankings_csv
from services.notification.feeds import atom_feed
from services.notification.rendering import redact_identity
from services.triage.service import sheet_csv
from services.triage.units import DEMO_UNITS_FILE, Directory, parse_directory

FORMULAS = ["=HYPERLINK(\"http://x\",\"点我\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def test_cells_that_a_spreadsheet_would_run_are_neutralised_and_numbers_are_not():
    for cell in FORMULAS:
        assert neutralise(cell) == "'" + cell
    assert neutralise("-1.50") == "-1.50" and neutralise(-3) == -3 and neutralise("南关街道") == "南关街道"


def test_the_daily_sheet_csv_never_carries_a_formula():
    sheet = {"run_date": "2026-12-01", "total": 6, "by_channel": [], "by_type": [], "by_decision": [],
             "by_unit": [{"key": f, "count": 1} for f in FORMULAS]}
    rows = list(csv.reader(io.StringIO(sheet_csv({"sheet": sheet}))))
    units = [r[2] for r in rows if r[1] == "责任单位"]
    assert units == ["'" + f for f in FORMULAS]


def test_the_rankings_csv_never_carries_a_formula():
    ranking = [{"rank": 1, "unit_id": "u1", "unit_name": "=cmd|' /C calc'!A0", "score": -1.5, "grade": "poor",
                "grade_label": "", "vetoed": True, "veto_reasons": ["@危险"], "ballots": 3, "sources": {}}]
    text = rankings_csv({"categories": [{"category": "+机关", "top_ten": [], "bottom_ten": [], "ranking": ranking}]})
    (row,) = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert row["单位名称"] == "'=cmd|' /C calc'!A0" and row["否决原因"] == "'@危险"
    assert row["评议类别"] == "'+机关" and row["得分"] == "-1.50"


def test_a_pre_routed_unit_the_directory_does_not_know_is_not_taken_on_trust():
    directory = Directory.build([
        {"id": "dt-pc-ng-bm", "name": "南关街道便民服务中心", "level": "section", "aliases": []}])
    assert directory.route(text="窗口推诿", subject=None, pre_routed="dt-pc-ng-bm") == ("dt-pc-ng-bm", "poster")
    unit, why = directory.route(text="南关街道便民服务中心窗口推诿", subject=None, pre_routed="=HYPERLINK(1)")
    assert (unit, why) == ("dt-pc-ng-bm", "named")
    assert directory.route(text="窗口推诿", subject=None, pre_routed="no-such-unit") == (None, "unrouted")


def test_one_xml_illegal_character_does_not_break_the_atom_feed():
    bulletins = [SimpleNamespace(id=uuid.uuid4(), title=f"通报{n}\x0b", body="内容\x00\x1f含控制字符\ud800",
                                 kind="typical_case", published_at=datetime(2026, 12, 1, tzinfo=UTC))
                 for n in range(2)]
    feed = ET.fromstring(atom_feed(bulletins, self_url="http://x/feed.atom", title="公告", author="纪委"))
    entries = feed.findall("{http://www.w3.org/2005/Atom}entry")
    assert len(entries) == 2
    assert entries[0].find("{http://www.w3.org/2005/Atom}content").text == "内容含控制字符"


@pytest.mark.parametrize("written", [
    "13912345678", "139 1234 5678", "139-1234-5678", "１３９１２３４５６７８", "139　1234　5678",
    "320102199001011234", "320102 19900101 1234", "320102-1990-0101-123X", "３２０１０２１９９００１０１１２３４",
    "zhang@example.com", "ｚｈａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ",
])
def test_the_redactor_catches_spaced_dashed_and_full_width_identity(written):
    redacted = redact_identity(f"举报人张某（{written}）反映，")
    assert redacted == "举报人张某（[已隐去]）反映，"


def test_the_redactor_leaves_ordinary_figures_and_punctuation_alone():
    for text in ("2026年共查处问题483个，", "涉及资金12,345,678元（２０２６年）", "日期2026-12-01 09:30"):
        assert redact_identity(text) == text


@pytest.mark.parametrize("content", [
    "regions: [\n  - id: dt\n", "regions:\n\t- id: 1", "- just\n- a list\n", "regions:\n  - plain string\n",
    "regions:\n  - id: dt\n    name: ''\n",
])
def test_an_invalid_directory_file_is_a_422_problem(content):
    with pytest.raises(Problem) as refused:
        parse_directory(content, fmt="yaml")
    assert refused.value.status == 422 and refused.value.slug == "unit-invalid"
    assert "单位名录" in refused.value.detail or "名称" in refused.value.detail


def test_the_demo_directory_still_parses():
    assert len(parse_directory(DEMO_UNITS_FILE.read_text(encoding="utf-8"), fmt="yaml")) > 10
