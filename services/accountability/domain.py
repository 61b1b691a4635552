"""Accountability's enumerations and pure rules, held as data in one place and exported by the API.

Nothing here touches the database or HTTP, so every rule is unit-testable on its own: the case state
machine (案件流程), the measures and their four forms (四种形态), the combination rules, 一案双查 and the
容错免责 checklist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from services.common.competence import BODIES, Body  # noqa: F401 — re-exported: the API's one vocabulary

# --- Case lifecycle (R-AC-1) -----------------------------------------------------------------------

State = Literal[
    "preliminary_check", "filed", "dismissed", "substantiated", "unfounded", "decided", "rectifying", "closed"
]
STATES: dict[str, str] = {
    "preliminary_check": "初核",
    "filed": "立案",
    "dismissed": "了结",
    "substantiated": "查实 (属实/部分属实)",
    "unfounded": "不属实",
    "decided": "作出处理决定",
    "rectifying": "整改",
    "closed": "结案",
}

Action = Literal["file", "dismiss", "substantiate", "clear", "decide", "rectify", "close", "reopen"]
ACTIONS: dict[str, str] = {
    "file": "立案",
    "dismiss": "了结 (不予立案)",
    "substantiate": "认定属实/部分属实",
    "clear": "认定不属实",
    "decide": "作出处理决定",
    "rectify": "转入整改",
    "close": "结案",
    "reopen": "回头看 重新整改",
}

# (from state, action) → to state. Anything not in this table is refused.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("preliminary_check", "file"): "filed",
    ("preliminary_check", "dismiss"): "dismissed",
    ("filed", "substantiate"): "substantiated",
    ("filed", "clear"): "unfounded",
    ("substantiated", "decide"): "decided",
    ("decided", "rectify"): "rectifying",
    ("decided", "close"): "closed",
    ("rectifying", "close"): "closed",
    ("unfounded", "close"): "closed",
    ("dismissed", "close"): "closed",
    ("closed", "reopen"): "rectifying",
}
# Actions that need their own endpoint because they carry data (findings, look-back), not a bare POST.
ACTIONS_WITH_DATA = frozenset({"substantiate", "clear", "reopen"})


def next_state(state: str, action: str) -> str | None:
    return TRANSITIONS.get((state, action))


def allowed_actions(state: str) -> list[str]:
    return [action for (source, action) in TRANSITIONS if source == state]


Finding = Literal["substantiated", "partly_substantiated", "unfounded"]
FINDINGS: dict[str, str] = {"substantiated": "属实", "partly_substantiated": "部分属实", "unfounded": "不属实"}
FINDING_ACTION = {"substantiated": "substantiate", "partly_substantiated": "substantiate", "unfounded": "clear"}

# --- Persons (R-AC-2) -------------------------------------------------------------------------------

Rank = Literal["bureau", "county", "township", "general", "village", "enterprise_leader", "enterprise_staff"]
RANKS: dict[str, str] = {
    "bureau": "厅局级", "county": "县处级", "township": "乡科级", "general": "一般干部",
    # Datong's own examples: 村原党支部书记, 邮政储蓄银行支行原行长 — neither is a civil-service rank.
    "village": "村(社区)干部", "enterprise_leader": "国有企业领导人员", "enterprise_staff": "国有企业管理人员",
}

# 管理权限: which body manages the cadre, and so decides his organizational handling.
Management = Literal["city_committee", "county_committee", "township_committee", "unit", "state_enterprise"]
MANAGEMENT: dict[str, str] = {
    "city_committee": "市委管理干部", "county_committee": "县(区)委管理干部",
    "township_committee": "乡镇(街道)党委管理",
    "unit": "本单位管理", "state_enterprise": "国有企业党组织管理",
}

Responsibility = Literal["direct", "principal_leadership", "important_leadership"]
RESPONSIBILITIES: dict[str, str] = {
    "direct": "直接责任",
    "principal_leadership": "主要领导责任",
    "important_leadership": "重要领导责任",
}

LeaderRole = Literal["principal_leader", "leader_in_charge"]
LEADER_ROLES: dict[str, str] = {"principal_leader": "主要负责人", "leader_in_charge": "分管负责人"}
# 一案双查: the responsibility that the examined leader's record must carry when liable.
LEADER_RESPONSIBILITY = {"principal_leader": "principal_leadership", "leader_in_charge": "important_leadership"}

# --- Measures and the four forms (R-AC-3) ---------------------------------------------------------

Family = Literal["party_discipline", "government_sanction", "organizational_handling", "education"]
FAMILIES: dict[str, str] = {
    "party_discipline": "党纪处分",
    "government_sanction": "政务处分",
    "organizational_handling": "组织处理",
    # 抓早抓小 (003): light and early measures, counted apart from the 组织处理 that bulletins count.
    "education": "提醒教育 (谈话函询、批评教育)",
}
# Who decides each family (R-AC-10); None: either body, in the case it handles.
FAMILY_BODY: dict[str, str | None] = {
    "party_discipline": "commission",
    "government_sanction": "commission",
    "organizational_handling": "organization",
    "education": None,
}
FORMS: dict[int, str] = {
    1: "第一种形态: 批评教育、谈话提醒、诫勉 (红红脸、出出汗)",
    2: "第二种形态: 党纪政务轻处分、组织调整",
    3: "第三种形态: 党纪政务重处分、重大职务调整",
    4: "第四种形态: 严重违纪涉嫌违法立案审查、移送司法",
}


@dataclass(frozen=True)
class MeasureKind:
    family: str
    code: str
    name: str
    form: int
    party_only: bool = False  # only a party member can receive it
    removes_from_post: bool = False  # after it, post-level organizational handling is meaningless


MEASURES: tuple[MeasureKind, ...] = (
    MeasureKind("party_discipline", "party_warning", "警告", 2, party_only=True),
    MeasureKind("party_discipline", "party_serious_warning", "严重警告", 2, party_only=True),
    MeasureKind("party_discipline", "party_post_removal", "撤销党内职务", 3, party_only=True),
    MeasureKind("party_discipline", "party_probation", "留党察看", 3, party_only=True),
    MeasureKind("party_discipline", "party_expulsion", "开除党籍", 3, party_only=True),
    MeasureKind("government_sanction", "gov_warning", "警告", 2),
    MeasureKind("government_sanction", "gov_demerit", "记过", 2),
    MeasureKind("government_sanction", "gov_major_demerit", "记大过", 2),
    MeasureKind("government_sanction", "gov_demotion", "降级", 3),
    MeasureKind("government_sanction", "gov_dismissal", "撤职", 3, removes_from_post=True),
    MeasureKind("government_sanction", "gov_expulsion", "开除", 3, removes_from_post=True),
    MeasureKind("education", "reminder_talk", "提醒谈话", 1),
    MeasureKind("education", "inquiry_letter", "函询", 1),
    MeasureKind("education", "interview", "约谈", 1),
    MeasureKind("education", "criticism_education", "批评教育", 1),
    MeasureKind("education", "written_self_criticism", "书面检查", 1),
    MeasureKind("education", "circulated_criticism", "通报批评", 1),
    MeasureKind("education", "admonishment", "诫勉", 1),
    MeasureKind("organizational_handling", "suspension_for_review", "停职检查", 2),
    MeasureKind("organizational_handling", "post_adjustment", "调整岗位", 2),
    MeasureKind("organizational_handling", "demotion", "降职", 3),
    MeasureKind("organizational_handling", "removal_from_office", "免职", 3),
    MeasureKind("organizational_handling", "ordered_resignation", "责令辞职", 3),
    MeasureKind("organizational_handling", "yellow_card", "黄牌警告", 1),
    MeasureKind("organizational_handling", "recall_management", "召回管理", 2),
)
MEASURES_BY_CODE: dict[str, MeasureKind] = {m.code: m for m in MEASURES}
# A person receives at most one sanction of each of these families per case (处分不并罚).
SINGLE_PER_CASE = frozenset({"party_discipline", "government_sanction"})
# Organizational handling that presumes the person still holds the post.
POST_DEPENDENT = frozenset({"suspension_for_review", "post_adjustment", "demotion", "removal_from_office",
                            "ordered_resignation", "yellow_card", "recall_management"})


def measure_form(code: str, *, transferred_for_prosecution: bool = False) -> int:
    """The 四种形态 form of a measure; transfer to the judiciary (移送司法) is always the fourth."""
    return 4 if transferred_for_prosecution else MEASURES_BY_CODE[code].form


@dataclass(frozen=True)
class Refusal:
    slug: str
    detail: str


def check_measure(
    code: str, *, party_member: bool, existing_codes: list[str], exempted: bool
) -> Refusal | None:
    """Why a measure cannot be given to this person in this case, or None if it can."""
    kind = MEASURES_BY_CODE.get(code)
    if kind is None:
        return Refusal("unknown-measure",
                       f"未知的处理措施代码 {code!r}, 可选措施见 GET /api/v1/accountability/enumerations。")
    if exempted:
        return Refusal("person-exempted", "该人员已容错免责, 不能再作出处理措施。")
    if kind.party_only and not party_member:
        return Refusal("party-sanction-for-non-member",
                       f"{kind.name}属于党纪处分, 该人员不是中共党员。")
    if code in existing_codes:
        return Refusal("measure-already-recorded", f"该人员已有{kind.name}处理, 不能重复记录。")
    existing = [MEASURES_BY_CODE[c] for c in existing_codes if c in MEASURES_BY_CODE]
    if kind.family in SINGLE_PER_CASE and any(m.family == kind.family for m in existing):
        return Refusal("one-sanction-per-family",
                       f"同一案件中一人只受一种{FAMILIES[kind.family]}, 已记录过。")
    removed = next((m for m in existing if m.removes_from_post), None)
    if removed and code in POST_DEPENDENT:
        return Refusal("person-no-longer-in-post",
                       f"{removed.name}后该人员已不在岗位, 不能再给予{kind.name}。")
    if kind.removes_from_post:
        conflicting = next((m for m in existing if m.code in POST_DEPENDENT), None)
        if conflicting:
            return Refusal("person-no-longer-in-post",
                           f"{kind.name}将免去职务, 与已记录的{conflicting.name}相冲突。")
    return None


def deciding_body_refusal(code: str, bodies: frozenset[str] | None) -> Refusal | None:
    """党纪处分/政务处分 are the commission's to decide, 组织处理 the organization department's (R-AC-10);
    ``bodies`` is the caller's (None: admin)."""
    kind = MEASURES_BY_CODE.get(code)
    if kind is None:
        return None
    body = FAMILY_BODY.get(kind.family)
    if body is None or bodies is None or body in bodies:
        return None
    return Refusal("not-competent-body", f"{kind.name}属于{FAMILIES[kind.family]}, 由{BODIES[body]}决定; "
                                         "请转交其办理。")


# --- 容错免责 (R-AC-5, R-AC-13) -------------------------------------------------------------------

# Wenzhou (000 §三 四): 对改革创新未能实现预期目标 (the precondition), 但属于严格依照上级有关精神决策、实施,
# 且勤勉尽责、未牟私利的 (the three conditions), 免除相关责任; and, beside it, 轻微责任豁免.
ExemptionBasis = Literal["reform", "minor"]
EXEMPTION_BASES: dict[str, str] = {"reform": "改革创新容错免责", "minor": "轻微责任豁免"}
EXEMPTION_PRECONDITION: dict[str, str] = {"reform_missed_aim": "改革创新未能实现预期目标"}
EXEMPTION_CRITERIA: dict[str, str] = {
    "acted_under_policy": "严格依照上级有关精神决策、实施",
    "diligent": "勤勉尽责",
    "no_private_gain": "未牟私利",
}
# 轻微责任豁免: a slight matter, put right at once, that harmed no one.
MINOR_CRITERIA: dict[str, str] = {
    "minor_circumstances": "情节轻微",
    "corrected_in_time": "及时纠正",
    "no_adverse_effect": "未造成不良影响和损失",
}
OPTIONAL_EXEMPTION_CRITERIA: dict[str, str] = {
    "lawful_procedure": "符合法定程序 (经集体研究或民主决策)",
    "remedied": "积极主动挽回损失、消除不良影响",
}
ExemptionKind = Literal["exempt", "mitigate"]
EXEMPTION_KINDS: dict[str, str] = {"exempt": "免责", "mitigate": "从轻或减轻处理"}


def required_exemption_criteria(basis: str) -> dict[str, str]:
    """What must be affirmed for a basis: the precondition and the three conditions, or the minor path's."""
    return {**EXEMPTION_PRECONDITION, **EXEMPTION_CRITERIA} if basis == "reform" else dict(MINOR_CRITERIA)


def known_exemption_criteria() -> set[str]:
    return {*EXEMPTION_PRECONDITION, *EXEMPTION_CRITERIA, *MINOR_CRITERIA, *OPTIONAL_EXEMPTION_CRITERIA}


def unmet_exemption_criteria(criteria: dict[str, bool], basis: str = "reform") -> list[str]:
    """The required criteria of ``basis`` not affirmed: an exemption needs every one of them."""
    return [key for key in required_exemption_criteria(basis) if not criteria.get(key)]


def criterion_name(code: str) -> str:
    for table in (EXEMPTION_PRECONDITION, EXEMPTION_CRITERIA, MINOR_CRITERIA, OPTIONAL_EXEMPTION_CRITERIA):
        if code in table:
            return table[code]
    return code


# --- 一案双查 (R-AC-4) ----------------------------------------------------------------------------

# A no-liability finding must give its own reason: "collectively decided" never excuses a leader.
COLLECTIVE_EXCUSES = ("集体决策", "集体研究", "集体决定", "collective decision")


def is_collective_excuse(reason: str) -> bool:
    return any(word in reason for word in COLLECTIVE_EXCUSES)


def joint_examination_gaps(
    *, serious: bool, unit_problem: bool, leaders_held: set[str], leaders_cleared: set[str]
) -> list[str]:
    """Leader roles whose responsibility is neither recorded nor reasoned away (empty = may close)."""
    if not (serious or unit_problem):
        return []
    return [role for role in LEADER_ROLES if role not in leaders_held and role not in leaders_cleared]


# --- Publication ----------------------------------------------------------------------------------

Scope = Literal["unit", "sector", "citywide"]
SCOPES: dict[str, str] = {"unit": "单位内通报", "sector": "系统内通报", "citywide": "全市通报曝光"}

# --- Rectification ledger (R-AC-6) ----------------------------------------------------------------

RectificationStatus = Literal["open", "submitted", "signed_off"]
RECTIFICATION_STATUSES: dict[str, str] = {"open": "整改中", "submitted": "已报送整改材料", "signed_off": "已销号"}

# --- Where a case comes from ---------------------------------------------------------------------

# ``cases.source``: statistics filter by it, so evaluation-origin cases are counted apart (R-AC-11).
Origin = Literal["clue", "evaluation", "inspection", "officer", "import"]
ORIGINS: dict[str, str] = {
    "clue": "群众举报线索", "evaluation": "考核评议结果", "inspection": "明察暗访",
    "officer": "办案人员立项", "import": "批量导入",
}

# --- Proposals: no sanction that nobody decided (R-AC-14) ----------------------------------------

ProposalStatus = Literal["pending", "accepted", "modified", "declined"]
PROPOSAL_STATUSES: dict[str, str] = {
    "pending": "待研判", "accepted": "已采纳 (立项办理)", "modified": "已调整后采纳", "declined": "不予采纳",
}
ProposalDecision = Literal["accept", "modify", "decline"]


@dataclass(frozen=True)
class ConsequenceRule:
    """What an evaluation consequence proposes: never a decided measure, only a suggestion to an officer."""

    about: str
    suggested_measure: str | None
    leader_roles: tuple[str, ...]
    body: str  # whose queue: the measure's family decides it, 组织处理 → organization department
    unit_problem: bool = False


CONSEQUENCES: dict[str, ConsequenceRule] = {
    "yellow_card": ConsequenceRule("测评不合格, 建议对主要负责人黄牌警告", "yellow_card", ("principal_leader",),
                                   "organization"),
    "recall_management": ConsequenceRule("连续两次测评不合格, 建议对主要负责人召回管理", "recall_management",
                                         ("principal_leader",), "organization"),
    "last_ranked_unit": ConsequenceRule("测评排名末位, 建议追究单位党政主要负责人责任", None,
                                        ("principal_leader", "leader_in_charge"), "commission", unit_problem=True),
    "bottom_three_section": ConsequenceRule("重点科室测评倒数三名, 建议追究科室负责人责任", None,
                                            ("principal_leader",), "commission"),
    # 自查整改 found 敷衍、表面、虚假 in the 大检查 / 回头看 (R-SU-4), referred to one body or the other.
    "sham_rectification": ConsequenceRule("自查问题整改被认定为敷衍、表面或虚假整改, 建议追究单位主要负责人责任",
                                          None, ("principal_leader",), "commission", unit_problem=True),
    "sham_rectification_org": ConsequenceRule("自查问题整改被认定为敷衍、表面或虚假整改, 建议对主要负责人组织处理",
                                              None, ("principal_leader",), "organization"),
}

# Evaluation says in words whom a consequence holds to account (R-EV-7); the unit directory knows two leaders.
# Each listed post names that leader; a post outside them (相关责任人 …) is named for the officer to identify.
HELD_POSTS: dict[str, str] = {
    "党政主要负责人": "principal_leader", "主要负责人": "principal_leader", "科室负责人": "principal_leader",
    "分管负责人": "leader_in_charge",
}


def held_to_account(words: str | None, fallback_roles: tuple[str, ...]) -> list[tuple[str | None, str]]:
    """(leader role or None, post) per person a proposal names. "甲和乙"/"甲、乙" names both; "甲或乙" is one
    person whom the officer settles on, examined as the first listed leader. No words: the rule's leaders."""
    if not words:
        return [(role, LEADER_ROLES[role]) for role in fallback_roles]
    named = []
    for post in (p.strip() for p in words.replace("、", "和").split("和")):
        if post:
            role = next((HELD_POSTS[alt] for alt in post.split("或") if alt in HELD_POSTS), None)
            named.append((role, post))
    return named


# --- 五必查 consequences (R-AC-9) -------------------------------------------------------------------

MUST_INVESTIGATE_AWARD_REASON = "五必查事项查实系干部作风问题, 责任单位取消{year}年度综合类评先评优资格"


def must_investigate_gap(*, must_investigate: bool, finding: str | None, persons_measured: int,
                         persons_exempted: int, persons_total: int) -> str | None:
    """当事人一律严肃追责: a substantiated 五必查 case closes only once someone is held to account by a
    measure, or every person recorded was exempted (容错免责). Returns why it may not close, or None."""
    if not must_investigate or finding not in ("substantiated", "partly_substantiated"):
        return None
    if persons_measured:
        return None
    if persons_total and persons_exempted == persons_total:
        return None
    return "五必查事项查实后当事人一律严肃追责: 请对当事人作出处理措施, 或对其容错免责后再结案。"


# --- Tags, time limits, follow-ups (R-AC-12) -----------------------------------------------------

# The clue's tags (triage's codes) whose cases go into the monthly report to the higher commission
# (每月向上级纪委报告查处违反中央八项规定精神案件和"四风"案件情况, 003).
FOUR_WINDS_TAGS = frozenset({"formalism", "bureaucratism", "hedonism", "extravagance"})
EIGHT_RULES_TAGS = frozenset({"eight_rules_banquet", "eight_rules_gifts", "eight_rules_vehicle",
                              "eight_rules_travel", "eight_rules_benefits"})
TAG_NAMES: dict[str, str] = {
    "formalism": "形式主义", "bureaucratism": "官僚主义", "hedonism": "享乐主义", "extravagance": "奢靡之风",
    "eight_rules_banquet": "违规吃喝", "eight_rules_gifts": "违规收送礼品礼金", "eight_rules_vehicle": "公车私用",
    "eight_rules_travel": "公款旅游", "eight_rules_benefits": "违规发放津贴补贴",
    "ctky_eat": "吃", "ctky_take": "拿", "ctky_block": "卡", "ctky_demand": "要", "personnel_selection": "选人用人",
}

# 快查快结 (003): calendar days from opening to a finding; 四风/八项规定 cases are the fast lane.
TIME_LIMIT_DAYS = {"fast": 30, "standard": 90}


def time_limit_days(tags: list[str] | tuple[str, ...]) -> int:
    fast = FOUR_WINDS_TAGS.union(EIGHT_RULES_TAGS).intersection(tags)
    return TIME_LIMIT_DAYS["fast" if fast else "standard"]


# Ageing buckets of open cases by days past (negative: before) their time limit.
AGEING_BUCKETS: tuple[tuple[str, str, int | None], ...] = (
    ("within", "期限内", 0), ("overdue_1_30", "超期1-30天", 30), ("overdue_31_90", "超期31-90天", 90),
    ("overdue_90_plus", "超期90天以上", None),
)


def ageing_bucket(days_over: int) -> str:
    for code, _name, upper in AGEING_BUCKETS:
        if upper is None or days_over <= upper:
            return code
    return AGEING_BUCKETS[-1][0]


# 专题民主生活会 within 30 days of closing a major case (003: 在结案后30日内).
LIFE_MEETING_DAYS = 30
FollowUpStatus = Literal["open", "done"]

# 诬告陷害 (004 #14): an unfounded case may be referred; the referral goes to the commission.
REFERRAL_KINDS: dict[str, str] = {"false_accusation": "涉嫌诬告陷害, 移送查处"}


def enumerations() -> dict:
    """Everything a client needs to render and validate accountability forms."""
    return {
        "states": [{"code": k, "name": v, "actions": allowed_actions(k)} for k, v in STATES.items()],
        "actions": [{"code": k, "name": v} for k, v in ACTIONS.items()],
        "transitions": [{"from": s, "action": a, "to": t} for (s, a), t in TRANSITIONS.items()],
        "findings": [{"code": k, "name": v} for k, v in FINDINGS.items()],
        "ranks": [{"code": k, "name": v} for k, v in RANKS.items()],
        "responsibilities": [{"code": k, "name": v} for k, v in RESPONSIBILITIES.items()],
        "leader_roles": [{"code": k, "name": v} for k, v in LEADER_ROLES.items()],
        "families": [{"code": k, "name": v} for k, v in FAMILIES.items()],
        "forms": [{"form": k, "name": v} for k, v in FORMS.items()],
        "measures": [
            {"code": m.code, "name": m.name, "family": m.family, "form": m.form, "party_only": m.party_only}
            for m in MEASURES
        ],
        "management": [{"code": k, "name": v} for k, v in MANAGEMENT.items()],
        "family_bodies": [{"family": k, "body": v, "body_name": BODIES.get(v or "", "纪委监委或组织部")}
                          for k, v in FAMILY_BODY.items()],
        "bodies": [{"code": k, "name": v} for k, v in BODIES.items()],
        "exemption_bases": [
            {"code": basis, "name": name, "required": [{"code": k, "name": v} for k, v in
                                                       required_exemption_criteria(basis).items()]}
            for basis, name in EXEMPTION_BASES.items()],
        "exemption_criteria": [{"code": k, "name": criterion_name(k)} for k in sorted(known_exemption_criteria())],
        "origins": [{"code": k, "name": v} for k, v in ORIGINS.items()],
        "proposal_statuses": [{"code": k, "name": v} for k, v in PROPOSAL_STATUSES.items()],
        "tags": [{"code": k, "name": v} for k, v in TAG_NAMES.items()],
        "time_limits": [{"code": k, "days": v} for k, v in TIME_LIMIT_DAYS.items()],
        "ageing_buckets": [{"code": c, "name": n} for c, n, _ in AGEING_BUCKETS],
        "exemption_kinds": [{"code": k, "name": v} for k, v in EXEMPTION_KINDS.items()],
        "scopes": [{"code": k, "name": v} for k, v in SCOPES.items()],
        "rectification_statuses": [{"code": k, "name": v} for k, v in RECTIFICATION_STATUSES.items()],
    }
