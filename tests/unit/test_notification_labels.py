"""What people read from notification is Chinese with labels, never internal codes."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from services.notification.catalog import problem_type_label
from services.notification.rendering import render

TEMPLATES = Path(__file__).resolve().parents[2] / "services" / "notification" / "templates"


def test_problem_types_read_as_their_chinese_names():
    assert problem_type_label("buck_passing") == "中梗阻/踢皮球"
    assert problem_type_label("misconduct") == "乱作为"
    assert problem_type_label("mirror_buck_passing") == "缺乏担当推诿扯皮"
    assert problem_type_label("unclassified") == "其他问题"
    assert problem_type_label("no_such_code") == "其他问题"  # a code never reaches a person
    assert problem_type_label("推诿扯皮") == "推诿扯皮"  # already a name


def test_an_exemplar_unit_is_praised_and_a_yellow_card_is_told_to_rectify():
    common = {"unit_name": "某局", "campaign_name": "万人评机关", "period": "2026", "reason": "评议位列前十"}
    praised = render("unit/consequence", kind="exemplar", **common).body
    assert "通报表扬" in praised and "整改" not in praised
    warned = render("unit/consequence", kind="yellow_card", **common).body
    assert "认真抓好整改" in warned


def test_the_rectification_notice_names_its_case():
    rendered = render("unit/rectification_assigned", unit_name="某局", task="建立首问负责制", responsible=None,
                      deadline=date(2026, 12, 31), case_number="ZFA-2026-0042")
    assert "ZFA-2026-0042" in rendered.subject and "案件（编号：ZFA-2026-0042）" in rendered.body


def test_scoped_bulletins_and_the_monthly_draft_notice_say_who_they_are_for():
    scoped = render("unit/scoped_bulletin", unit_name="物业管理科", scope_label="单位内通报", kind_label="典型案例通报",
                    title="关于某某问题的通报", body="经查……")
    assert scoped.subject == "单位内通报：关于某某问题的通报" and "不得对外公开" in scoped.body
    draft = render("office/monthly_draft", office_name="督办室", month_label="2026年11月", title="2026年11月作风建设监督通报")
    assert "待审核" in draft.subject and "请审核修改后发布" in draft.body


def test_no_template_prints_a_raw_code_variable():
    # Codes travel as *_code/kind/decision/finding/grade variables and must pass through a label filter.
    raw = re.compile(r"\{\{\s*(?:[\w.]*\.)?(type_code|decision|finding|grade|kind)\s*\}\}")
    offenders = [str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.j2") if raw.search(p.read_text("utf-8"))]
    assert offenders == []
