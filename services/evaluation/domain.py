"""Evaluation rules as data and pure functions: states, scale, sources, scoring, ranking, consequences.

Nothing here touches the database or HTTP, so every rule of 万人评机关 is testable on its own.
"""

from __future__ import annotations

import hmac
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

import phonenumbers

# ---------------------------------------------------------------------------------------------------------
# Enumerations (exported by GET /api/v1/evaluation/enumerations)

EZHOU_CATEGORIES = ["机关科室", "基层站所", "科教文卫事业单位", "公共服务企业"]

STATES = ["draft", "open", "closed", "published"]
STATE_LABELS = {"draft": "草稿", "open": "投票中", "closed": "已截止", "published": "已公布"}
# (state, action) → next state. A closed campaign never reopens: its ballots are final (R-EV-3).
TRANSITIONS: dict[tuple[str, str], str] = {
    ("draft", "open"): "open",
    ("open", "close"): "closed",
    ("closed", "publish"): "published",
}

# The fixed satisfaction scale of a ballot, and its points on 0–100 (linear, so mean of points = points of
# the mean and ranking can add raw marks).
SCALE: dict[int, str] = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
SCALE_MIN, SCALE_MAX = 1, 5

CHANNELS = {"web": "网页", "sms": "短信", "wechat": "微信"}

# Sources of a unit's score (R-EV-2). ``citizen`` comes from ballots, ``data`` from other services' events,
# the rest are entered as 0–100 scores by the evaluation office.
SOURCES: dict[str, str] = {
    "citizen": "市民短信微信评议",
    "enterprise": "企业评议",
    "deputies": "两代表一委员评议",
    "department": "业务部门评议",
    "rectification": "督促整改评议",
    "data": "大数据评议",
}
ENTERED_SOURCES = ("enterprise", "deputies", "department", "rectification")
DEFAULT_WEIGHTS = {"citizen": 0.4, "data": 0.2, "department": 0.2, "rectification": 0.1, "deputies": 0.1,
                   "enterprise": 0.0}

GRADES: dict[str, str] = {
    "excellent": "优秀",
    "qualified": "合格",
    "basically_qualified": "基本合格",
    "unqualified": "不合格",
    # Too few ballots (or, in an assessment, no score entered): no result at all, never 100 and never 优秀.
    "insufficient_data": "数据不足",
}
# Configuration, not law: Ezhou's seed names the four grades but no cut-offs; 90/75/60 are this suite's
# defaults, set per campaign (``thresholds``) and shown with the results.
DEFAULT_THRESHOLDS = {"excellent": 90.0, "qualified": 75.0, "basically_qualified": 60.0}
DEFAULT_MIN_BALLOTS = 30

# Instruments: the public poll (万人评机关, ranks and 十优/十差) and Ezhou's quarterly 作风建设 assessment
# (综合考核, scores entered by the office, four grades, no public ballots, no top/bottom lists).
INSTRUMENTS = {"poll": "万人评机关(民主评议)", "assessment": "作风建设综合考核(季度)"}

# Vetoes (一票否决) are recorded by hand with their reason. Loss of award eligibility is not a veto: it is
# Wenzhou's own rule (award_ineligible_no_excellent). ``award_ineligible`` stays accepted in ``veto_rules``
# for old clients and is read as that rule.
VETO_RULES = {"award_ineligible": "取消年度综合类评先评优资格(按规则 award_ineligible_no_excellent 处理)"}
DEFAULT_VETO_RULES: list[str] = []

# The rules a campaign may carry; each seed's come as a named preset, never all at once (R-EV-7).
RULES: dict[str, str] = {
    "unqualified_yellow_card": "作风建设不合格单位, 对主要负责人实行黄牌警告",
    "consecutive_unqualified_recall": "连续两次不合格, 对主要负责人实行召回管理",
    "veto_recall": "被一票否决的单位, 对主要负责人实行召回管理",
    "unqualified_no_excellent_year": "不合格单位, 当年各项考核不得评为优秀",
    "rectification_yellow_card": "整改不到位, 对主要负责人实行黄牌警告",
    "no_improvement_recall": "整改黄牌警告后一段时间内工作没有起色, 实行召回管理",
    "last_ranked_principals": "排名最后一位的单位, 对其党政主要负责人实施问责",
    "key_section_bottom_three": "重点科室在重点科室中排名后三位, 对科室负责人实施问责",
    "award_ineligible_no_excellent": "被取消年度综合类评先评优资格的单位, 不得评为优秀、不得选树典型",
    "exemplars": "从优秀单位中选树敢担当、树标杆典型",
}
PRESETS: dict[str, dict] = {
    "ezhou": {"label": "鄂州(治庸、提能、问效)", "rules": [
        "unqualified_yellow_card", "consecutive_unqualified_recall", "veto_recall",
        "unqualified_no_excellent_year", "rectification_yellow_card", "no_improvement_recall"]},
    "jintan": {"label": "金坛(能力作风建设提升年)", "rules": ["last_ranked_principals", "key_section_bottom_three"]},
    "wenzhou": {"label": "温州(敢担当、树标杆)", "rules": ["award_ineligible_no_excellent", "exemplars"]},
    "custom": {"label": "自定义", "rules": []},
}


def rule_set(preset: str, rules: Iterable[str] | None = None) -> dict:
    """The campaign's rule set as stored and shown: preset, its label, and each rule with its label."""
    codes = list(PRESETS[preset]["rules"]) if preset != "custom" else list(dict.fromkeys(rules or []))
    return {"preset": preset, "preset_label": PRESETS[preset]["label"],
            "rules": [{"code": c, "label": RULES[c]} for c in codes]}

DEFAULT_STUFFING_RULES = {
    "burst_window_seconds": 60,  # ballots from one source within ±window …
    "burst_max": 20,  # … more than this many is a burst
    "pattern_window_seconds": 300,  # identical ratings within ±window …
    "pattern_max": 30,  # … more than this many …
    "pattern_min_units": 3,  # … on ballots rating at least this many units
}

# 大数据评议: points off 100 per fact in the period, blended with reporters' ratings where there are any.
INDICATORS = {
    "complaint": "投诉量",
    "substantiated": "查实案件",
    "overdue_rectification": "逾期整改",
    "feedback": "举报人满意度",
    "award_ineligible": "取消评先评优",
}
DEFAULT_INDICATOR_RULES = {
    "complaint_penalty": 1.0,
    "substantiated_penalty": 5.0,
    "overdue_rectification_penalty": 3.0,
    "feedback_share": 0.3,
}

# Every consequence is a proposal (处理建议) to accountability, decided there by an officer (R-AC-14).
CONSEQUENCES = {
    "yellow_card": "建议黄牌警告",
    "recall_management": "建议召回管理",
    "last_ranked_unit": "建议对排名最后一位单位的党政主要负责人问责",
    "bottom_three_section": "建议对重点科室后三位的科室负责人问责",
    "exemplar": "建议选树敢担当、树标杆典型",
}

ROUNDING_RULE = (
    "每个来源分与综合分均按精确小数计算, 最后四舍五入(ROUND_HALF_UP)保留两位小数; 等次按保留后的分数判定"
    " (89.995 → 90.00 优秀)")

TIE_BREAK_RULE = (
    "composite score (2 decimals) descending; then citizen score descending; then number of counted "
    "ballot marks descending; then unit id ascending"
)


def enumerations() -> dict:
    return {
        "states": STATES,
        "state_labels": STATE_LABELS,
        "transitions": [{"from": s, "action": a, "to": t} for (s, a), t in TRANSITIONS.items()],
        "scale": [{"score": k, "label": v, "points": float(mark_points(k))} for k, v in SCALE.items()],
        "channels": CHANNELS,
        "sources": SOURCES,
        "grades": GRADES,
        "veto_rules": VETO_RULES,
        "rules": RULES,
        "presets": {k: {"label": v["label"], "rules": v["rules"]} for k, v in PRESETS.items()},
        "instruments": INSTRUMENTS,
        "rounding": ROUNDING_RULE,
        "indicators": INDICATORS,
        "consequences": CONSEQUENCES,
        "default_categories": EZHOU_CATEGORIES,
        "default_weights": DEFAULT_WEIGHTS,
        "default_thresholds": DEFAULT_THRESHOLDS,
        "tie_break": TIE_BREAK_RULE,
    }


ACTION_LABELS = {"open": "开始投票", "close": "截止投票", "publish": "公布结果"}


class TransitionError(ValueError):
    pass


def next_state(state: str, action: str) -> str:
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise TransitionError(f"处于“{STATE_LABELS.get(state, state)}”状态的测评"
                              f"不能执行“{ACTION_LABELS.get(action, action)}”。") from None


def period_of(year: int, quarter: int | None) -> tuple[str, date, date]:
    """(label, first day, first day after) of a yearly or quarterly campaign."""
    if quarter is None:
        return str(year), date(year, 1, 1), date(year + 1, 1, 1)
    start = date(year, 3 * (quarter - 1) + 1, 1)
    end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return f"{year}-Q{quarter}", start, end


def mark_points(score) -> Fraction:
    """A mark (or a mean of marks, as a Fraction) on the 1–5 scale as exact points on 0–100."""
    return (Fraction(score) - SCALE_MIN) * 100 / (SCALE_MAX - SCALE_MIN)


def exact(value) -> Fraction:
    """A number as an exact fraction; a float through its shortest repr (89.995 is 89.995, not the binary
    89.99499999… that ``round`` sees)."""
    if isinstance(value, float):
        return Fraction(repr(value))
    return Fraction(value)


def half_up(value: Fraction) -> Decimal:
    """四舍五入 to two decimals, exactly, for the non-negative scores here."""
    return Decimal(math.floor(value * 100 + Fraction(1, 2))).scaleb(-2)


class InvalidIdentity(ValueError):
    pass


# The mobile numbers SMS platforms send (11 ASCII digits, bare or after +86) are checked against
# phonenumbers' own CN mobile pattern without a full parse (22 µs → under 1 µs a number; a batch holds
# 10,000); every other form goes through phonenumbers.parse.
def _cn_mobile_pattern() -> str:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    pattern = metadata.mobile.national_number_pattern if metadata and metadata.mobile else None
    if pattern is None:
        raise RuntimeError("phonenumbers ships no CN mobile pattern")
    return pattern


_CN_MOBILE = re.compile("(?:" + _cn_mobile_pattern() + ")")
_FAST = re.compile(r"(?:\+86)?(1\d{10})")


def normalise_phone(raw: str) -> str:
    """A mainland phone number in any of the forms people type (+86 138-0013-8000, 8613800138000,
    008613800138000, full-width digits, (138)00138000) as E.164, or InvalidIdentity."""
    fast = _FAST.fullmatch(raw)
    if fast and _CN_MOBILE.fullmatch(fast.group(1)):
        return "+86" + fast.group(1)
    text = unicodedata.normalize("NFKC", raw).strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    if text.startswith("00"):
        text = "+" + text[2:]
    elif not text.startswith("+") and digits.startswith("86") and len(digits) == 13:
        text = "+" + digits  # 86 + an 11-digit mobile number, typed without the plus
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentity("手机号码格式不正确") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentity("手机号码无效")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_identity(raw: str, channel: str) -> str:
    """Phone numbers (SMS, web) to E.164; a WeChat openid (vouched for by the WeChat gateway) NFKC-normalised
    and tagged, so it can never collide with a phone number."""
    if channel == "wechat":
        text = unicodedata.normalize("NFKC", raw).strip()
        if not text:
            raise InvalidIdentity("微信 openid 为空")
        return "wechat:" + text
    return normalise_phone(raw)


class VoterHasher:
    """The one-ballot-per-voter key: HMAC-SHA256(key, campaign id ‖ 0x1f ‖ normalised identity).

    Including the campaign means two campaigns' hashes of one voter cannot be linked. The HMAC is keyed and
    fed the campaign prefix once, then copied per voter (a batch hashes 10,000 voters)."""

    def __init__(self, key: bytes, campaign_id: str) -> None:
        self._base = hmac.new(key, f"{campaign_id}\x1f".encode(), "sha256")

    def __call__(self, identity: str, channel: str = "sms") -> bytes:
        """Raises InvalidIdentity for an invalid phone number (or an empty openid)."""
        h = self._base.copy()
        h.update(normalise_identity(identity, channel).encode())
        return h.digest()


def voter_hash(key: bytes, campaign_id: str, identity: str, channel: str = "sms") -> bytes:
    return VoterHasher(key, campaign_id)(identity, channel)


def ballot_pattern(refs: Iterable[int], scores: Iterable[int]) -> int:
    """What identical ballots share: the sorted (unit, mark) pairs, as a 64-bit hash. Python's hash of a
    tuple of ints is not salted per process (only str/bytes are), so it is stable across replicas."""
    return hash(tuple(sorted(zip(refs, scores, strict=False))))


# ---------------------------------------------------------------------------------------------------------
# Scoring: exact fractions throughout, rounded half up (四舍五入) to 2 decimals once, at the end (R-EV-8).


@dataclass
class UnitInputs:
    unit_id: str
    name: str
    category: str
    key_section: bool = False
    citizen_marks: int = 0  # counted ballot marks
    citizen_total: int = 0  # their sum on the 1–5 scale
    entered: dict[str, Fraction] = field(default_factory=dict)  # source → mean entered score (0–100)
    facts: dict[str, float] = field(default_factory=dict)  # indicator → count (feedback: count and sum)
    feedback_sum: float = 0.0
    vetoes: list[str] = field(default_factory=list)
    # Why the unit cannot be 优秀 this time although no veto hit it (award loss, 不合格 earlier this year).
    no_excellent: list[str] = field(default_factory=list)


@dataclass
class UnitResult:
    unit_id: str
    name: str
    category: str
    key_section: bool
    score: Decimal | None  # None: 数据不足
    sources: dict[str, Decimal]
    ballots: int
    rank: int | None = None
    grade: str = "qualified"
    vetoed: bool = False
    veto_reasons: list[str] = field(default_factory=list)
    no_excellent: list[str] = field(default_factory=list)
    key_section_rank: int | None = None


def data_score(inputs: UnitInputs, rules: Mapping[str, float]) -> Fraction:
    """大数据评议: 100 less points per complaint, substantiated case and overdue rectification, blended with
    the reporters' mean rating (1–5 → 0–100) when reporters rated."""
    facts = inputs.facts
    penalty = (
        exact(rules["complaint_penalty"]) * exact(facts.get("complaint", 0))
        + exact(rules["substantiated_penalty"]) * exact(facts.get("substantiated", 0))
        + exact(rules["overdue_rectification_penalty"]) * exact(facts.get("overdue_rectification", 0))
    )
    base = max(Fraction(0), 100 - penalty)
    ratings = facts.get("feedback", 0)
    if not ratings:
        return base
    share = exact(rules["feedback_share"])
    return (1 - share) * base + share * mark_points(exact(inputs.feedback_sum) / exact(ratings))


def source_scores(inputs: UnitInputs, indicator_rules: Mapping[str, float]) -> dict[str, Fraction]:
    scores: dict[str, Fraction] = {}
    if inputs.citizen_marks:
        scores["citizen"] = mark_points(Fraction(inputs.citizen_total, inputs.citizen_marks))
    scores.update({k: exact(v) for k, v in inputs.entered.items()})
    scores["data"] = data_score(inputs, indicator_rules)
    return scores


def composite(scores: Mapping[str, Fraction], weights: Mapping[str, float]) -> Decimal:
    """Weighted mean over the sources the unit has; weights re-normalised over those present, so a unit is
    not punished for a source nobody scored it on. Exact until the one 四舍五入 to 2 decimals."""
    present = {s: exact(w) for s, w in weights.items() if w > 0 and s in scores}
    total = sum(present.values())
    if total == 0:
        return Decimal("0.00")
    return half_up(sum(exact(scores[s]) * w for s, w in present.items()) / total)


def grade_of(score, thresholds: Mapping[str, float], *, vetoed: bool = False, capped: bool = False) -> str:
    """The grade of a rounded score; cut-offs compared exactly (89.995 → 90.00 ≥ 90 → 优秀)."""
    value = exact(score) if not isinstance(score, Decimal) else Fraction(score)
    if value >= exact(thresholds["excellent"]):
        grade = "excellent"
    elif value >= exact(thresholds["qualified"]):
        grade = "qualified"
    elif value >= exact(thresholds["basically_qualified"]):
        grade = "basically_qualified"
    else:
        grade = "unqualified"
    # 一票否决, award loss, 不合格 earlier this year: never 优秀, whatever the score (R-EV-4, R-EV-7).
    return "qualified" if (vetoed or capped) and grade == "excellent" else grade


def tie_break_key(result: UnitResult) -> tuple:
    citizen = result.sources.get("citizen")
    if result.score is None:
        raise ValueError(f"unit {result.unit_id} has no score to rank by")
    return (-result.score, -(citizen if citizen is not None else Decimal(-1)), -result.ballots, result.unit_id)


def has_enough_data(unit: UnitInputs, *, instrument: str, min_ballots: int) -> bool:
    """A poll needs ``min_ballots`` counted marks; an assessment needs at least one entered score."""
    if instrument == "assessment":
        return bool(unit.entered)
    return unit.citizen_marks >= max(1, min_ballots)


def rank_units(
    inputs: Iterable[UnitInputs],
    *,
    categories: list[str],
    weights: Mapping[str, float],
    thresholds: Mapping[str, float],
    indicator_rules: Mapping[str, float],
    top_n: int = 10,
    min_ballots: int = 1,
    instrument: str = "poll",
) -> list[dict]:
    """Per category: units with enough data ranked (1 = best) with score, grade, veto; the others listed as
    数据不足 without rank or score; 十优 and 十差 (poll only) among the ranked, in rank order."""
    by_category: dict[str, list[UnitResult]] = {c: [] for c in categories}
    lacking: dict[str, list[UnitResult]] = {c: [] for c in categories}
    for unit in inputs:
        scores = source_scores(unit, indicator_rules)
        result = UnitResult(
            unit_id=unit.unit_id, name=unit.name, category=unit.category, key_section=unit.key_section,
            score=None, sources={k: half_up(v) for k, v in scores.items()}, ballots=unit.citizen_marks,
            vetoed=bool(unit.vetoes), veto_reasons=list(unit.vetoes), no_excellent=list(unit.no_excellent),
        )
        if not has_enough_data(unit, instrument=instrument, min_ballots=min_ballots):
            result.grade = "insufficient_data"
            lacking.setdefault(unit.category, []).append(result)
            continue
        result.score = composite(scores, weights)
        result.grade = grade_of(result.score, thresholds, vetoed=result.vetoed, capped=bool(result.no_excellent))
        by_category.setdefault(unit.category, []).append(result)
    out: list[dict[str, Any]] = []
    for category, results in by_category.items():
        results.sort(key=tie_break_key)
        for position, result in enumerate(results, start=1):
            result.rank = position
        # Top and bottom never overlap: a category of fewer than 2 × top_n units splits in half.
        k = min(top_n, len(results) // 2) if instrument == "poll" else 0
        out.append({
            "category": category,
            "ranking": results,
            "insufficient_data": sorted(lacking.get(category, []), key=lambda r: r.unit_id),
            "top_ten": [r.unit_id for r in results[:k]],
            "bottom_ten": [r.unit_id for r in results[len(results) - k:]] if k else [],
        })
    # Jintan ranks its key sections among key sections, whatever category they sit in.
    sections = sorted((r for c in out for r in c["ranking"] if r.key_section), key=tie_break_key)
    for position, result in enumerate(sections, start=1):
        result.key_section_rank = position
    return out


@dataclass
class History:
    """What earlier published campaigns say about units, for the rules that look back."""

    previously_unqualified: set[str] = field(default_factory=set)  # the series' previous campaign
    previous_rectification_card: set[str] = field(default_factory=set)  # ditto: 整改不到位 yellow card


# ground code → (consequence kind, who is held to account, the proposal's title: it says why)
GROUNDS: dict[str, tuple[str, str, str]] = {
    "unqualified": ("yellow_card", "主要负责人", "作风建设测评不合格, 建议对主要负责人黄牌警告"),
    "rectification_not_done": ("yellow_card", "相关责任人或主要负责人",
                               "整改不到位, 建议对相关责任人或主要负责人黄牌警告"),
    "consecutive_unqualified": ("recall_management", "主要负责人", "连续两次测评不合格, 建议对主要负责人召回管理"),
    "vetoed": ("recall_management", "主要负责人或相关负责人", "被一票否决, 建议对主要负责人或相关负责人召回管理"),
    "no_improvement": ("recall_management", "相关责任人或主要负责人",
                       "整改黄牌警告后工作仍无起色, 建议召回管理"),
    "last_ranked": ("last_ranked_unit", "党政主要负责人", "测评排名最后一位, 建议对党政主要负责人问责"),
    "key_section_bottom_three": ("bottom_three_section", "科室负责人",
                                 "重点科室测评排名后三位, 建议对科室负责人问责"),
    "exemplar": ("exemplar", "", "优秀, 建议选树敢担当、树标杆典型"),
}


def consequences_of(
    categories: list[dict], *, rules: Iterable[str], history: History | None = None,
    exemplars_per_category: int = 3,
) -> list[dict]:
    """What publication proposes to accountability (R-EV-5, R-AC-14) and the exemplars (R-EV-6), under the
    campaign's own rules only (R-EV-7). One proposal per (kind, unit), carrying every ground it stands on,
    so two grounds for a recall are one proposal that names both."""
    rules = set(rules)
    history = history or History()
    found: dict[tuple[str, str], dict] = {}

    def add(ground: str, r: UnitResult, reason: str) -> None:
        kind, who, title = GROUNDS[ground]
        item = found.get((kind, r.unit_id))
        if item is None:
            found[(kind, r.unit_id)] = {"kind": kind, "unit_id": r.unit_id, "unit_name": r.name, "reason": reason,
                                        "title": title, "held_to_account": who, "grounds": [ground]}
        else:
            item["grounds"].append(ground)
            item["reason"] += "; " + reason
            item["title"] += "; " + title

    sections = sorted((r for c in categories for r in c["ranking"] if r.key_section),
                      key=lambda r: r.key_section_rank)
    for cat in categories:
        ranking: list[UnitResult] = cat["ranking"]
        n = len(ranking)
        for r in ranking:
            if r.grade == "unqualified" and "unqualified_yellow_card" in rules:
                add("unqualified", r, f"{cat['category']}: 不合格 ({r.score:.2f})")
            if r.grade == "unqualified" and "consecutive_unqualified_recall" in rules \
                    and r.unit_id in history.previously_unqualified:
                add("consecutive_unqualified", r, "上次测评不合格, 本次测评再次不合格")
            if r.vetoed and "veto_recall" in rules:
                add("vetoed", r, "一票否决: " + "; ".join(r.veto_reasons))
        if ranking and "last_ranked_principals" in rules:
            last = ranking[-1]
            add("last_ranked", last, f"{cat['category']} 排名最后一位 ({n}/{n})")
        if "exemplars" in rules:
            for r in [r for r in ranking if r.grade == "excellent"][:exemplars_per_category]:
                add("exemplar", r, f"{cat['category']} 第{r.rank}名, 优秀")
    if "key_section_bottom_three" in rules:
        for r in sections[-3:]:
            add("key_section_bottom_three", r, f"重点科室中排名第{r.key_section_rank}位 (共{len(sections)}个)")
    return list(found.values())


def rectification_consequences(
    overdue: Mapping[str, tuple[str, int]], *, rules: Iterable[str], history: History | None = None,
) -> list[dict]:
    """Ezhou: 整改不到位 → yellow card; still not done after such a card in the series' previous campaign
    (一段时间内工作没有起色) → recall. ``overdue``: unit id → (name, overdue rectifications in the period)."""
    rules = set(rules)
    history = history or History()
    out = []
    for unit_id, (name, count) in sorted(overdue.items()):
        if not count:
            continue
        if "rectification_yellow_card" in rules:
            kind, who, title = GROUNDS["rectification_not_done"]
            out.append({"kind": kind, "unit_id": unit_id, "unit_name": name, "title": title,
                        "held_to_account": who, "grounds": ["rectification_not_done"],
                        "reason": f"本期逾期未完成整改 {count} 项"})
        if "no_improvement_recall" in rules and unit_id in history.previous_rectification_card:
            kind, who, title = GROUNDS["no_improvement"]
            out.append({"kind": kind, "unit_id": unit_id, "unit_name": name, "title": title,
                        "held_to_account": who, "grounds": ["no_improvement"],
                        "reason": "上次已因整改不到位黄牌警告, 本期仍有逾期整改"})
    return out


def merge_consequences(*groups: list[dict]) -> list[dict]:
    """One proposal per (kind, unit) across groups, grounds and reasons joined."""
    merged: dict[tuple[str, str], dict] = {}
    for group in groups:
        for c in group:
            item = merged.get((c["kind"], c["unit_id"]))
            if item is None:
                merged[(c["kind"], c["unit_id"])] = {**c, "grounds": list(c["grounds"])}
                continue
            item["grounds"] += [g for g in c["grounds"] if g not in item["grounds"]]
            item["reason"] += "; " + c["reason"]
            item["title"] += "; " + c["title"]
    return list(merged.values())
