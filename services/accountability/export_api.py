"""Accountability's office outputs: case lists and statistics as xlsx, the monthly bulletin and a case
document as docx (services/common/office.py writes them).

Each export answers exactly what its JSON endpoint answers to the same caller, by calling that endpoint's
function: the same filters, the same roles, the same unit scope (a unit handler gets its own unit's decided
cases as their decision, never persons, clues or the commission's facts). Nothing here reads the reporter:
accountability does not hold the reporter's identity at all.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from fastapi.concurrency import run_in_threadpool

from services.common import office
from services.common.auth import Principal, require_roles
from services.common.calendar import SHANGHAI
from services.common.competence import BODIES
from services.common.db import SessionDep

from . import api, domain
from .schemas import CaseDetail, CaseForUnit, CaseList, Stats

router = APIRouter(prefix="/api/v1/accountability", tags=["accountability"])

StatsReader = Annotated[Principal, require_roles("investigator", "org_officer", "auditor")]
Month = Annotated[str, Path(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")]
MAX_ROWS = 50_000  # a workbook beyond this is no longer read by a person; narrow the filters
PAGE = 500

# The taxonomy's labels for the 13 types and 3 families (services/triage/data/taxonomy.yaml, which a test
# keeps equal): accountability stores the codes, a person reads the names.
PROBLEM_FAMILIES: dict[str, str] = {"inaction": "不作为", "slow_action": "慢作为", "misconduct": "乱作为"}
PROBLEM_TYPES: dict[str, str] = {
    "self_willed": "我行我素型", "lax_untruthful": "不严不实型", "idle": "不勤不干型", "timid": "畏首畏尾型",
    "clean_but_idle": "廉而不为型", "inefficient": "消极懈怠/效率低下", "indifferent_to_public": "漠视群众/敷衍应付",
    "uncoordinated": "不协调/不落实", "buck_passing": "中梗阻/踢皮球", "no_procedure": "不讲程序乱办事",
    "no_principle": "不讲原则乱办事", "no_rules": "不讲规矩乱办事", "lawless": "不讲法纪乱办事",
}
XLSX_DOC = office.binary_response(office.XLSX_TYPE, "xlsx 工作簿 (中文表头)")
DOCX_DOC = office.binary_response(office.DOCX_TYPE, "docx 文档")


def name_of(names: dict, code, empty: str = "") -> str:
    if code is None:
        return empty
    return names.get(code, "未分类" if code == "unclassified" else str(code))


def yes(flag: bool) -> str:
    return "是" if flag else "否"


def day(value) -> str:
    return "" if value is None else value.isoformat()[:10] if isinstance(value, date) else str(value)


# -- case lists ------------------------------------------------------------------------------------------------

CASE_HEADERS = ("案件编号", "标题", "案件状态", "来源", "被反映单位", "单位代码", "地区", "问题类别", "问题类型",
                "五必查", "重大案件", "单位问题", "牵头单位", "专项活动", "标签", "认定结果", "处理结果", "认定日期",
                "立项时间", "结案时间", "线索数")
UNIT_CASE_HEADERS = ("案件编号", "案件状态", "单位名称", "单位代码", "认定结果", "处理结果", "认定日期", "结案时间")


def case_row(c) -> list:
    return [c.case_number, c.title, name_of(domain.STATES, c.state), name_of(domain.ORIGINS, c.source), c.unit_name,
            c.unit_id, c.region, name_of(PROBLEM_FAMILIES, c.problem_family), name_of(PROBLEM_TYPES, c.problem_type),
            yes(c.must_investigate), yes(c.serious), yes(c.unit_problem), name_of(BODIES, c.lead_body), c.campaign,
            [domain.TAG_NAMES.get(t, t) for t in c.tags], name_of(domain.FINDINGS, c.finding), c.outcome_summary,
            day(c.concluded_on), day(c.opened_at.astimezone(SHANGHAI)), day(c.closed_at), len(c.clue_ids)]


def unit_case_row(c: CaseForUnit) -> list:
    return [c.case_number, name_of(domain.STATES, c.state), c.unit_name, c.unit_id, name_of(domain.FINDINGS, c.finding),
            c.outcome_summary, day(c.concluded_on), day(c.closed_at)]


@router.get("/cases.xlsx", response_class=Response, responses=XLSX_DOC)
async def get_cases_xlsx(
    session: SessionDep, principal: api.Reader,
    state: str | None = None, region: str | None = None, unit_id: str | None = None,
    origin: domain.Origin | None = None, campaign: str | None = None, case_number: str | None = None,
    tag: str | None = None, lead_body: domain.Body | None = None, must_investigate: bool | None = None,
    clue_id: uuid.UUID | None = None,
) -> Response:
    """案件清单 as a workbook: the cases GET /cases answers to the caller with the same filters, all pages
    (at most 50,000); a unit handler's sheet holds its own unit's decided cases, as their decision only."""
    items: list = []
    cursor = None
    unit_bound = False
    while len(items) < MAX_ROWS:
        page = await api.get_cases(session, principal, cursor=cursor, limit=PAGE, state=state, region=region,
                                   unit_id=unit_id, origin=origin, campaign=campaign, case_number=case_number,
                                   tag=tag, lead_body=lead_body, must_investigate=must_investigate, clue_id=clue_id)
        unit_bound = not isinstance(page, CaseList)
        items.extend(page.items)
        if page.next_cursor is None:
            break
        cursor = uuid.UUID(page.next_cursor)
    items = sorted(items[:MAX_ROWS], key=lambda c: c.case_number)
    if unit_bound:
        sheet = office.Sheet("案件处理决定", UNIT_CASE_HEADERS, [unit_case_row(c) for c in items])
    else:
        sheet = office.Sheet("案件清单", CASE_HEADERS, [case_row(c) for c in items])
    data = await run_in_threadpool(office.xlsx, sheet)
    return office.xlsx_response(data, "accountability-cases.xlsx", "问责案件清单.xlsx")


# -- statistics ------------------------------------------------------------------------------------------------


def stats_sheets(figures: Stats, title: str) -> list[office.Sheet]:
    period = f"{day(figures.period_from) or '不限'} 至 {day(figures.period_to) or '不限'}"
    summary = [
        ("统计期间", period), ("地区", figures.region or "全市"),
        ("职级", name_of(domain.RANKS, figures.rank, "全部")),
        ("来源", name_of(domain.ORIGINS, figures.origin, "全部")),
        ("查处问题(起)", figures.problems), ("处理人数(人)", figures.persons),
        ("给予党政纪处分(人)", figures.disciplined), ("组织处理(人)", figures.organizational_handling),
        ("提醒教育(人)", figures.education), ("县处级干部(人)", figures.county_level),
    ]
    forms = {int(c.key): c.count for c in figures.by_form if str(c.key).isdigit()}
    return [
        office.Sheet(title, ("项目", "数值"), summary),
        office.Sheet("四种形态", ("形态", "说明", "人次"),
                     [(f"第{'一二三四'[k - 1]}种形态", v, forms.get(k, 0)) for k, v in domain.FORMS.items()]),
        office.Sheet("问题类型", ("问题类型代码", "问题类型", "查处问题(起)"),
                     [(c.key, name_of(PROBLEM_TYPES, c.key), c.count) for c in figures.by_type]),
        office.Sheet("问题类别", ("问题类别代码", "问题类别", "查处问题(起)"),
                     [(c.key, name_of(PROBLEM_FAMILIES, c.key), c.count) for c in figures.by_family]),
    ]


@router.get("/stats.xlsx", response_class=Response, responses=XLSX_DOC)
async def get_stats_xlsx(
    session: SessionDep, principal: StatsReader,
    from_: Annotated[date | None, Query(alias="from")] = None, to: date | None = None,
    region: str | None = None, rank: domain.Rank | None = None, origin: domain.Origin | None = None,
) -> Response:
    """The GET /stats figures as a workbook: 汇总, 四种形态, 问题类型, 问题类别 (one sheet each)."""
    figures = await api.get_stats(session, principal, from_=from_, to=to, region=region, rank=rank, origin=origin)
    data = await run_in_threadpool(office.xlsx, *stats_sheets(figures, "汇总"))
    return office.xlsx_response(data, "accountability-stats.xlsx", "问责统计.xlsx")


# -- documents -------------------------------------------------------------------------------------------------


def stats_paragraphs(doc: office.Document, figures: Stats) -> None:
    doc.paragraph(f"查处作风问题 {figures.problems} 起，处理 {figures.persons} 人，其中给予党政纪处分 "
                  f"{figures.disciplined} 人、组织处理 {figures.organizational_handling} 人、提醒教育 "
                  f"{figures.education} 人；县处级干部 {figures.county_level} 人。")
    forms = {int(c.key): c.count for c in figures.by_form if str(c.key).isdigit()}
    doc.table(("四种形态", "人次"), [(v.split(":")[0], forms.get(k, 0)) for k, v in domain.FORMS.items()])
    if figures.by_type:
        doc.heading("按问题类型", level=2)
        doc.table(("问题类型", "查处问题(起)"), [(name_of(PROBLEM_TYPES, c.key), c.count) for c in figures.by_type])


def bulletin_docx(month: str, bulletin) -> bytes:
    year, mon = month.split("-")
    doc = office.Document(f"{year}年{int(mon)}月作风问题查处情况通报")
    doc.heading("一、总体情况")
    stats_paragraphs(doc, bulletin.stats)
    typical = [p for p in bulletin.typical_cases if p.kind == "typical"]
    clarified = [p for p in bulletin.typical_cases if p.kind == "clarification"]
    doc.heading("二、典型问题通报曝光")
    if not typical:
        doc.paragraph("本月无通报曝光的典型问题。")
    for n, item in enumerate(typical, start=1):
        doc.heading(f"{n}. {item.title}", level=2)
        doc.paragraph(item.body)
        doc.paragraph(f"{item.case_number}；{name_of(domain.SCOPES, item.scope)}；{day(item.published_at)}",
                      label="案件编号、范围、日期")
    doc.heading("三、澄清正名")
    if not clarified:
        doc.paragraph("本月无澄清正名。")
    for item in clarified:
        doc.heading(item.title, level=2)
        doc.paragraph(item.body)
    return doc.to_bytes()


@router.get("/bulletins/{month}.docx", response_class=Response, responses=DOCX_DOC)
async def get_bulletin_docx(month: Month, session: SessionDep, principal: StatsReader,
                            region: str | None = None) -> Response:
    """一月一通报 as a Word document: the month's figures, its typical cases and its clarifications."""
    bulletin = await api.get_monthly_bulletin(month, session, principal, region=region)
    data = await run_in_threadpool(bulletin_docx, month, bulletin)
    return office.docx_response(data, f"bulletin-{month}.docx", f"作风问题通报-{month}.docx")


def case_docx(case: CaseDetail | CaseForUnit) -> bytes:
    if isinstance(case, CaseForUnit):  # a unit handler: the decision, as GET /cases/{id} shows it
        doc = office.Document(f"案件处理决定 {case.case_number}")
        doc.paragraph(case.unit_name or case.unit_id or "", label="单位")
        doc.paragraph(name_of(domain.STATES, case.state), label="案件状态")
        doc.paragraph(name_of(domain.FINDINGS, case.finding, "尚无"), label="认定结果")
        doc.paragraph(case.outcome_summary or "", label="处理结果")
        doc.paragraph(day(case.concluded_on), label="认定日期")
        return doc.to_bytes()
    doc = office.Document(f"案件材料 {case.case_number}")
    doc.heading("一、案件概况")
    for label, value in (
        ("标题", case.title), ("案件状态", name_of(domain.STATES, case.state)),
        ("来源", name_of(domain.ORIGINS, case.source)), ("被反映单位", case.unit_name or case.unit_id or ""),
        ("问题类别", name_of(PROBLEM_FAMILIES, case.problem_family, "未分类")),
        ("问题类型", name_of(PROBLEM_TYPES, case.problem_type, "未分类")),
        ("牵头单位", name_of(BODIES, case.lead_body)), ("五必查", yes(case.must_investigate)),
        ("重大案件", yes(case.serious)), ("立项时间", day(case.opened_at.astimezone(SHANGHAI))),
    ):
        doc.paragraph(value or "", label=label)
    doc.paragraph(case.summary or "（无）", label="案情摘要")
    doc.heading("二、认定情况")
    doc.paragraph(name_of(domain.FINDINGS, case.finding, "尚未认定"), label="认定结果")
    if case.finding_summary:
        doc.paragraph(case.finding_summary, label="认定事实")
    if case.outcome_summary:
        doc.paragraph(case.outcome_summary, label="处理结果")
    doc.heading("三、涉及人员及处理")
    if not case.persons:
        doc.paragraph("尚未登记涉及人员。")
    else:
        doc.table(("姓名", "职务", "单位", "职级", "责任", "处理措施", "形态"), [
            (p.name, p.post or "", p.unit_name or p.unit_id or "", name_of(domain.RANKS, p.rank),
             name_of(domain.RESPONSIBILITIES, p.responsibility),
             "、".join(m.name for m in p.measures) or ("容错免责" if p.exemption else "无"),
             "、".join(f"第{'一二三四'[m.form - 1]}种" for m in p.measures if 1 <= m.form <= 4))
            for p in case.persons])
    doc.heading("四、一案双查")
    joint = case.joint_examination
    if joint is None or not joint.required:
        doc.paragraph("本案不属于重大案件或单位问题，无须一案双查。")
    else:
        for role, role_name in domain.LEADER_ROLES.items():
            if role in joint.held:
                status = "已追究领导责任"
            elif role in joint.cleared:
                status = f"经查无责任：{joint.cleared[role]}"
            else:
                status = "尚待查明"
            doc.paragraph(status, label=role_name)
    return doc.to_bytes()


@router.get("/cases/{case_id}/document.docx", response_class=Response, responses=DOCX_DOC)
async def get_case_docx(case_id: uuid.UUID, session: SessionDep, principal: api.Reader) -> Response:
    """案件材料 as a Word document: 概况, 认定, persons and measures, 一案双查 — what GET /cases/{id} shows the
    caller (a unit handler: its own unit's decided case, as the decision only)."""
    case = await api.case_detail(session, case_id, principal)
    data = await run_in_threadpool(case_docx, case)
    return office.docx_response(data, f"case-{case.id}.docx",
                                f"案件材料-{case.case_number}.docx")
