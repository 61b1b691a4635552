"""Accountability's enumerations and pure rules, held as data in one place and exported by the API.

Nothing here touches the database or HTTP, so every rule is unit-testable on its own: the case state
machine (案件流程), the measures and their four forms (四种形态), the combination rules, 一案双查 and the
容错免责 checklist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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

Rank = Literal["bureau", "county", "township", "general"]
RANKS: dict[str, str] = {"bureau": "厅局级", "county": "县处级", "township": "乡科级", "general": "一般干部"}

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

Family = Literal["party_discipline", "government_sanction", "organizational_handling"]
FAMILIES: dict[str, str] = {
    "party_discipline": "党纪处分",
    "government_sanction": "政务处分",
    "organizational_handling": "组织处理",
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
    MeasureKind("organizational_handling", "reminder_talk", "提醒谈话", 1),
    MeasureKind("organizational_handling", "criticism_education", "批评教育", 1),
    MeasureKind("organizational_handling", "written_self_criticism", "书面检查", 1),
    MeasureKind("organizational_handling", "circulated_criticism", "通报批评", 1),
    MeasureKind("organizational_handling", "admonishment", "诫勉", 1),
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
        return Refusal("unknown-measure", f"Unknown measure {code!r}; see GET /api/v1/accountability/enumerations.")
    if exempted:
        return Refusal("person-exempted", "This person was exempted (容错免责); no measure can be recorded.")
    if kind.party_only and not party_member:
        return Refusal("party-sanction-for-non-member",
                       f"{kind.name} is a party sanction (党纪处分); this person is not a party member.")
    if code in existing_codes:
        return Refusal("measure-already-recorded", f"{kind.name} is already recorded for this person.")
    existing = [MEASURES_BY_CODE[c] for c in existing_codes if c in MEASURES_BY_CODE]
    if kind.family in SINGLE_PER_CASE and any(m.family == kind.family for m in existing):
        return Refusal("one-sanction-per-family",
                       f"A person receives one {FAMILIES[kind.family]} per case; one is already recorded.")
    removed = next((m for m in existing if m.removes_from_post), None)
    if removed and code in POST_DEPENDENT:
        return Refusal("person-no-longer-in-post",
                       f"After {removed.name} the person holds no post; {kind.name} cannot follow.")
    if kind.removes_from_post:
        conflicting = next((m for m in existing if m.code in POST_DEPENDENT), None)
        if conflicting:
            return Refusal("person-no-longer-in-post",
                           f"{kind.name} removes the person from the post; {conflicting.name} is already recorded.")
    return None


# --- 容错免责 (R-AC-5) ----------------------------------------------------------------------------

EXEMPTION_CRITERIA: dict[str, str] = {
    "acted_under_policy": "依照上级决策部署或政策规定开展工作",
    "diligent": "勤勉尽责、未失职渎职",
    "no_private_gain": "未谋取私利",
    "lawful_procedure": "符合法定程序 (经集体研究或民主决策)",
}
OPTIONAL_EXEMPTION_CRITERIA: dict[str, str] = {"remedied": "积极主动挽回损失、消除不良影响"}
ExemptionKind = Literal["exempt", "mitigate"]
EXEMPTION_KINDS: dict[str, str] = {"exempt": "免责", "mitigate": "从轻或减轻处理"}


def unmet_exemption_criteria(criteria: dict[str, bool]) -> list[str]:
    """The required 容错 criteria not affirmed: an exemption needs every one of them."""
    return [key for key in EXEMPTION_CRITERIA if not criteria.get(key)]


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

# --- Evaluation consequences (R-EV-5) -------------------------------------------------------------

# kind → (what the case is about, the measure recorded at once if any, the leader roles held to account)
CONSEQUENCES: dict[str, tuple[str, str | None, tuple[str, ...]]] = {
    "yellow_card": ("测评不合格, 对主要负责人黄牌警告", "yellow_card", ("principal_leader",)),
    "recall_management": ("连续两次测评不合格, 对主要负责人召回管理", "recall_management", ("principal_leader",)),
    "last_ranked_unit": ("测评排名末位, 追究单位领导责任", None, ("principal_leader", "leader_in_charge")),
    "bottom_three_section": ("重点科室测评倒数三名, 追究科室负责人责任", None, ("principal_leader",)),
}


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
        "exemption_criteria": [{"code": k, "name": v, "required": True} for k, v in EXEMPTION_CRITERIA.items()]
        + [{"code": k, "name": v, "required": False} for k, v in OPTIONAL_EXEMPTION_CRITERIA.items()],
        "exemption_kinds": [{"code": k, "name": v} for k, v in EXEMPTION_KINDS.items()],
        "scopes": [{"code": k, "name": v} for k, v in SCOPES.items()],
        "rectification_statuses": [{"code": k, "name": v} for k, v in RECTIFICATION_STATUSES.items()],
    }
