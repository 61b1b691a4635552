"""Evaluation rules as data and pure functions: states, scale, sources, scoring, ranking, consequences.

Nothing here touches the database or HTTP, so every rule of 万人评机关 is testable on its own.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

# ---------------------------------------------------------------------------------------------------------
# Enumerations (exported by GET /api/v1/evaluation/enumerations)

EZHOU_CATEGORIES = ["机关科室", "基层站所", "科教文卫事业单位", "公共服务企业"]

STATES = ["draft", "open", "closed", "published"]
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
}
DEFAULT_THRESHOLDS = {"excellent": 90.0, "qualified": 75.0, "basically_qualified": 60.0}

# Automatic veto rules (一票否决); a veto may also be recorded by hand with its reason.
VETO_RULES = {"award_ineligible": "取消评先评优(严重案件)"}
DEFAULT_VETO_RULES = ["award_ineligible"]

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

CONSEQUENCES = {
    "yellow_card": "黄牌警告(不合格)",
    "recall_management": "召回管理(连续两次不合格或一票否决)",
    "last_ranked_unit": "排名最后一位,主要负责人问责",
    "bottom_three_section": "重点科室后三位,科室负责人问责",
    "exemplar": "敢担当、树标杆典型",
}

TIE_BREAK_RULE = (
    "composite score (2 decimals) descending; then citizen score descending; then number of counted "
    "ballot marks descending; then unit id ascending"
)


def enumerations() -> dict:
    return {
        "states": STATES,
        "transitions": [{"from": s, "action": a, "to": t} for (s, a), t in TRANSITIONS.items()],
        "scale": [{"score": k, "label": v, "points": mark_points(k)} for k, v in SCALE.items()],
        "channels": CHANNELS,
        "sources": SOURCES,
        "grades": GRADES,
        "veto_rules": VETO_RULES,
        "indicators": INDICATORS,
        "consequences": CONSEQUENCES,
        "default_categories": EZHOU_CATEGORIES,
        "default_weights": DEFAULT_WEIGHTS,
        "default_thresholds": DEFAULT_THRESHOLDS,
        "tie_break": TIE_BREAK_RULE,
    }


class TransitionError(ValueError):
    pass


def next_state(state: str, action: str) -> str:
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise TransitionError(f"A campaign that is {state} cannot {action}.") from None


def period_of(year: int, quarter: int | None) -> tuple[str, date, date]:
    """(label, first day, first day after) of a yearly or quarterly campaign."""
    if quarter is None:
        return str(year), date(year, 1, 1), date(year + 1, 1, 1)
    start = date(year, 3 * (quarter - 1) + 1, 1)
    end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return f"{year}-Q{quarter}", start, end


def mark_points(score: float) -> float:
    """A mark (or a mean of marks) on the 1–5 scale as points on 0–100."""
    return (score - SCALE_MIN) * 100.0 / (SCALE_MAX - SCALE_MIN)


_SEPARATORS = str.maketrans("", "", " -\t")


class VoterHasher:
    """The one-ballot-per-voter key: HMAC-SHA256(key, campaign id ‖ 0x1f ‖ normalised identity).

    Including the campaign means two campaigns' hashes of one voter cannot be linked. The HMAC is keyed and
    fed the campaign prefix once, then copied per voter (a batch hashes 10,000 voters)."""

    def __init__(self, key: bytes, campaign_id: str) -> None:
        self._base = hmac.new(key, f"{campaign_id}\x1f".encode(), "sha256")

    def __call__(self, identity: str) -> bytes:
        h = self._base.copy()
        h.update(identity.translate(_SEPARATORS).lower().removeprefix("+86").encode())
        return h.digest()


def voter_hash(key: bytes, campaign_id: str, identity: str) -> bytes:
    return VoterHasher(key, campaign_id)(identity)


def ballot_pattern(refs: Iterable[int], scores: Iterable[int]) -> int:
    """What identical ballots share: the sorted (unit, mark) pairs, as a 64-bit hash. Python's hash of a
    tuple of ints is not salted per process (only str/bytes are), so it is stable across replicas."""
    return hash(tuple(sorted(zip(refs, scores))))


# ---------------------------------------------------------------------------------------------------------
# Scoring


@dataclass
class UnitInputs:
    unit_id: str
    name: str
    category: str
    key_section: bool = False
    citizen_marks: int = 0  # counted ballot marks
    citizen_total: int = 0  # their sum on the 1–5 scale
    entered: dict[str, float] = field(default_factory=dict)  # source → mean entered score (0–100)
    facts: dict[str, float] = field(default_factory=dict)  # indicator → count (feedback: count and sum)
    feedback_sum: float = 0.0
    vetoes: list[str] = field(default_factory=list)


@dataclass
class UnitResult:
    unit_id: str
    name: str
    category: str
    key_section: bool
    score: float
    sources: dict[str, float]
    ballots: int
    rank: int = 0
    grade: str = "qualified"
    vetoed: bool = False
    veto_reasons: list[str] = field(default_factory=list)


def data_score(inputs: UnitInputs, rules: Mapping[str, float]) -> float:
    """大数据评议: 100 less points per complaint, substantiated case and overdue rectification, blended with
    the reporters' mean rating (1–5 → 0–100) when reporters rated."""
    facts = inputs.facts
    penalty = (
        rules["complaint_penalty"] * facts.get("complaint", 0)
        + rules["substantiated_penalty"] * facts.get("substantiated", 0)
        + rules["overdue_rectification_penalty"] * facts.get("overdue_rectification", 0)
    )
    base = max(0.0, 100.0 - penalty)
    ratings = facts.get("feedback", 0)
    if not ratings:
        return base
    share = rules["feedback_share"]
    return (1 - share) * base + share * mark_points(inputs.feedback_sum / ratings)


def source_scores(inputs: UnitInputs, indicator_rules: Mapping[str, float]) -> dict[str, float]:
    scores: dict[str, float] = {}
    if inputs.citizen_marks:
        scores["citizen"] = mark_points(inputs.citizen_total / inputs.citizen_marks)
    scores.update(inputs.entered)
    scores["data"] = data_score(inputs, indicator_rules)
    return scores


def composite(scores: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """Weighted mean over the sources the unit has; weights re-normalised over those present, so a unit is
    not punished for a source nobody scored it on."""
    present = {s: w for s, w in weights.items() if w > 0 and s in scores}
    total = sum(present.values())
    if total == 0:
        return 0.0
    return round(sum(scores[s] * w for s, w in present.items()) / total, 2)


def grade_of(score: float, thresholds: Mapping[str, float], *, vetoed: bool) -> str:
    if score >= thresholds["excellent"]:
        grade = "excellent"
    elif score >= thresholds["qualified"]:
        grade = "qualified"
    elif score >= thresholds["basically_qualified"]:
        grade = "basically_qualified"
    else:
        grade = "unqualified"
    # 一票否决: never 优秀, whatever the score (R-EV-4).
    return "qualified" if vetoed and grade == "excellent" else grade


def tie_break_key(result: UnitResult) -> tuple:
    return (-result.score, -round(result.sources.get("citizen", -1.0), 2), -result.ballots, result.unit_id)


def rank_units(
    inputs: Iterable[UnitInputs],
    *,
    categories: list[str],
    weights: Mapping[str, float],
    thresholds: Mapping[str, float],
    indicator_rules: Mapping[str, float],
    top_n: int = 10,
) -> list[dict]:
    """Per category: units ranked (1 = best) with score, grade, veto; 十优 and 十差 in rank order."""
    by_category: dict[str, list[UnitResult]] = {c: [] for c in categories}
    for unit in inputs:
        scores = source_scores(unit, indicator_rules)
        result = UnitResult(
            unit_id=unit.unit_id, name=unit.name, category=unit.category, key_section=unit.key_section,
            score=composite(scores, weights), sources={k: round(v, 2) for k, v in scores.items()},
            ballots=unit.citizen_marks, vetoed=bool(unit.vetoes), veto_reasons=list(unit.vetoes),
        )
        result.grade = grade_of(result.score, thresholds, vetoed=result.vetoed)
        by_category.setdefault(unit.category, []).append(result)
    out = []
    for category, results in by_category.items():
        results.sort(key=tie_break_key)
        for position, result in enumerate(results, start=1):
            result.rank = position
        # Top and bottom never overlap: a category of fewer than 2 × top_n units splits in half.
        k = min(top_n, len(results) // 2)
        out.append({
            "category": category,
            "ranking": results,
            "top_ten": [r.unit_id for r in results[:k]],
            "bottom_ten": [r.unit_id for r in results[len(results) - k:]] if k else [],
        })
    return out


def consequences_of(
    categories: list[dict], *, previously_unqualified: set[str], exemplars_per_category: int
) -> list[dict]:
    """What publication sets in motion for accountability (R-EV-5) and the exemplars (R-EV-6)."""
    out: list[dict] = []

    def add(kind: str, r: UnitResult, reason: str) -> None:
        out.append({"kind": kind, "unit_id": r.unit_id, "unit_name": r.name, "reason": reason})

    for cat in categories:
        ranking: list[UnitResult] = cat["ranking"]
        n = len(ranking)
        for r in ranking:
            if r.grade == "unqualified":
                add("yellow_card", r, f"{cat['category']}: 不合格 ({r.score:.2f}), 主要负责人黄牌警告")
                if r.unit_id in previously_unqualified:
                    add("recall_management", r, "连续两次不合格, 主要负责人召回管理")
            if r.vetoed:
                add("recall_management", r, "一票否决: " + "; ".join(r.veto_reasons))
            if r.key_section and r.rank > n - 3:
                add("bottom_three_section", r, f"重点科室考评排名后三位 ({r.rank}/{n}), 科室负责人问责")
        if ranking:
            last = ranking[-1]
            add("last_ranked_unit", last, f"{cat['category']} 排名最后一位 ({n}/{n}), 党政主要负责人问责")
        chosen = [r for r in ranking if r.grade == "excellent" and not r.vetoed][:exemplars_per_category]
        for r in chosen:
            add("exemplar", r, f"{cat['category']} 第{r.rank}名, 优秀, 敢担当、树标杆典型")
    return out
