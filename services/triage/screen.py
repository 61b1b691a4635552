"""筛选 (screening): the pure rules that turn a classified, routed clue into a decision, for a whole batch.

No I/O here: the daily run feeds rows in and writes the outcomes out in bulk, the benchmark and the unit
tests call the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, datetime, timedelta
from typing import Any

from services.common.calendar import WorkCalendar
from services.common.competence import competent_body
from services.common.contracts.triage import DailySheetPublished

from . import dedupe
from .classifier import Classifier, Verdict, default_classifier
from .taxonomy import Taxonomy
from .units import Directory

# Clue state machine (线索状态): which state may follow which, and who moves it.
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"triaged", "review"}),  # the daily run (or an officer, before the run)
    "review": frozenset({"triaged"}),  # an officer decides a low-confidence clue (人工复核)
    "triaged": frozenset({"triaged"}),  # an officer overrides type/unit/decision, with a reason
}
DECISIONS = ("accept", "transfer", "merge", "set_aside")
DISCIPLINE_TAG_PREFIXES = ("eight_rules_", "ctky_")


def can_move(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


@dataclass
class ClueInput:
    id: Any
    tracking_number: str
    channel: str
    subject: str | None
    text: str
    unit_id: str | None
    enterprise_related: bool
    received_at: datetime


@dataclass
class Outcome:
    clue: ClueInput
    classification: Verdict
    triggers: list[str]
    enterprise: bool
    routed_unit_id: str | None
    route_reason: str
    state: str = "triaged"
    decision: str | None = None
    reason: str | None = None
    deadline: date | None = None
    merged_into: Any = None
    sources: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Deadlines:
    transfer: int = 5
    enterprise_transfer: int = 2
    accept: int = 10
    enterprise_accept: int = 5


def deadline_for(decision: str | None, *, enterprise: bool, run_date: date, deadlines: Deadlines,
                 calendar: WorkCalendar) -> date | None:
    """Feedback deadline in working days from the run date; 涉企 clues take the shorter fast lane."""
    if decision == "transfer":
        days = deadlines.enterprise_transfer if enterprise else deadlines.transfer
    elif decision == "accept":
        days = deadlines.enterprise_accept if enterprise else deadlines.accept
    else:
        return None
    return _add_working_days(calendar, run_date, days)


@lru_cache(maxsize=1024)
def _add_working_days(calendar: WorkCalendar, start: date, days: int) -> date:
    return calendar.add_working_days(start, days)  # a daily run asks the same few questions 100,000 times


NON_CONDUCT_REASON = "经研判不是对干部作风问题的反映（非作风问题线索），存查"


def decide(outcome: Outcome, *, taxonomy: Taxonomy, primary_tracking: str | None, review_threshold: float,
           directory: Directory | None = None) -> tuple[str, str | None, str]:
    """(state, decision, reason) by the screening rules, first match wins:
    merge a duplicate → a 五必查 trigger or candidate always stays with the office (accepted, or reviewed
    when the text reads as no conduct complaint or the classification is unsure) → too short to verify → not a
    conduct complaint (存查, unless 涉企: then an officer looks) → low confidence to the human queue → 乱作为 and
    discipline matters accepted by the office → 涉企 accepted by the office (never auto-transferred) → transfer,
    but never to the unit the clue is about → accept. Every reason says what was actually done."""
    c = outcome.classification
    if outcome.merged_into is not None:
        return "triaged", "merge", f"与{primary_tracking}重复，合并办理"
    if outcome.triggers:
        labels = "、".join({code: label for code, label, _ in taxonomy.triggers}.get(t, t) for t in outcome.triggers)
        if c.conduct:
            return "triaged", "accept", f"五必查：{labels}，由作风办直接受理"
        return "review", None, f"疑似五必查（{labels}），待人工确认"
    enterprise = outcome.enterprise or bool(c.enterprise_markers)
    if c.trigger_candidates:
        # found by the phrase layer alone: kept in the office's hands, never set aside or transferred
        labels = "、".join({code: label for code, label, _ in taxonomy.triggers}.get(t, t)
                          for t in c.trigger_candidates)
        if c.conduct and c.confidence >= review_threshold:
            return "triaged", "accept", f"疑似五必查（{labels}），由作风办直接受理并核实"
        return "review", None, f"疑似五必查（{labels}），待人工确认"
    rules = taxonomy.set_aside
    if not enterprise and len(outcome.clue.text.strip()) < int(rules.get("min_text_length", 0)):
        return "triaged", "set_aside", rules.get("reasons", {}).get("too_short", "内容过简，无法核实（存查）")
    if not c.conduct:
        if enterprise:
            return "review", None, "涉企线索，研判为非作风问题，待人工确认"
        return "triaged", "set_aside", NON_CONDUCT_REASON
    if c.confidence < review_threshold:
        return "review", None, f"分类置信度{c.confidence:.2f}低于阈值{review_threshold:.2f}，待人工复核"
    if c.family == "misconduct" or any(t.startswith(DISCIPLINE_TAG_PREFIXES) for t in c.tags):
        return "triaged", "accept", "乱作为或违反八项规定、吃拿卡要问题，由作风办直接受理"
    if enterprise:
        return "triaged", "accept", "涉企线索，由作风办直接受理（快速通道）"
    if outcome.routed_unit_id and competent_body(channel=outcome.clue.channel, tags=c.tags) == "organization":
        # 12380 and 选人用人 are the organization department's matters (R-AC-10): never handed to a unit.
        return "triaged", "accept", "12380举报或选人用人问题，由市委组织部直接受理，不转办"
    if outcome.routed_unit_id:
        handler = directory.handler_for(outcome.routed_unit_id) if directory is not None else None
        if handler is None:
            return "triaged", "accept", "被反映单位即事权单位，不转其本身办理，由作风办直接受理"
        if handler != outcome.routed_unit_id:
            outcome.route_reason = f"accused:{outcome.routed_unit_id}"
            outcome.routed_unit_id = handler
            return "triaged", "transfer", "被反映单位不办理对自身的反映，转其主管部门办理"
        return "triaged", "transfer", f"转事权单位办理（依据：{outcome.route_reason}）"
    return "triaged", "accept", "未能确定事权单位，由作风办直接受理"


@dataclass
class Reference:
    """An earlier, already screened clue a new one may duplicate (it stays the primary)."""

    id: Any
    tracking_number: str
    text: str
    subject: str | None
    received_at: datetime


def triage_batch(
    clues: Sequence[ClueInput],
    references: Sequence[Reference],
    *,
    taxonomy: Taxonomy,
    directory: Directory,
    calendar: WorkCalendar,
    run_date: date,
    deadlines: Deadlines = Deadlines(),
    duplicate_threshold: float = 0.6,
    duplicate_window: timedelta = timedelta(days=7),
    classifier: Classifier | None = None,
    primaries: Sequence[int] | None = None,
) -> tuple[list[Outcome], dict[Any, list[dict[str, Any]]]]:
    """Classify, dedupe, route and decide a batch. Returns the outcomes (in input order) and, for earlier
    clues that new duplicates merged into, the sources to append to them. ``primaries``: the clusters
    (over references + clues) already computed — the daily run dedupes the whole day once, then sorts it
    chunk by chunk, each chunk holding whole clusters."""
    classifier = classifier or default_classifier()
    outcomes = []
    for clue in clues:
        text = clue.text
        verdict = classifier.classify(text, enterprise_flag=clue.enterprise_related)
        unit_id, why = directory.route(text=text, subject=clue.subject, pre_routed=clue.unit_id)
        outcomes.append(Outcome(
            clue=clue, classification=verdict, triggers=list(verdict.triggers),
            enterprise=verdict.enterprise, routed_unit_id=unit_id, route_reason=why,
        ))

    # References first, so an earlier clue is always the primary of its cluster.
    if primaries is None:
        primaries = cluster_of(clues, references, threshold=duplicate_threshold, window=duplicate_window)
    offset = len(references)
    ref_sources: dict[Any, list[dict[str, Any]]] = {}
    for position, outcome in enumerate(outcomes):
        root = primaries[offset + position]
        if root == offset + position:
            continue
        source = {"clue_id": str(outcome.clue.id), "tracking_number": outcome.clue.tracking_number,
                  "channel": outcome.clue.channel, "received_at": outcome.clue.received_at.isoformat()}
        if root < offset:
            primary_id, primary_tracking = references[root].id, references[root].tracking_number
            ref_sources.setdefault(primary_id, []).append(source)
        else:
            primary = outcomes[root - offset]
            primary_id, primary_tracking = primary.clue.id, primary.clue.tracking_number
            primary.sources.append(source)
            # a duplicate's 五必查 trigger or 涉企 flag must not be lost in the merge
            primary.triggers = sorted(set(primary.triggers) | set(outcome.triggers))
            primary.enterprise = primary.enterprise or outcome.enterprise
        outcome.merged_into = primary_id
        outcome.reason = primary_tracking

    for outcome in outcomes:
        state, decision, reason = decide(outcome, taxonomy=taxonomy, primary_tracking=outcome.reason,
                                         review_threshold=classifier.review_threshold, directory=directory)
        outcome.state, outcome.decision, outcome.reason = state, decision, reason
        outcome.deadline = deadline_for(decision, enterprise=outcome.enterprise, run_date=run_date,
                                        deadlines=deadlines, calendar=calendar)
    return outcomes, ref_sources


def cluster_of(clues: Sequence[ClueInput], references: Sequence[Reference], *, threshold: float,
               window: timedelta) -> list[int]:
    """Each item's cluster primary over references then clues (references first: an earlier clue is
    always the primary of its cluster)."""
    items = [dedupe.DedupeItem(r.text, r.subject, r.received_at) for r in references]
    items += [dedupe.DedupeItem(c.text, c.subject, c.received_at) for c in clues]
    return dedupe.cluster(items, threshold=threshold, window=window)


def daily_sheet(outcomes: Sequence[Outcome]) -> dict[str, list[dict[str, Any]]]:
    """当日线索梳理表 counts by channel, type, unit and decision (a clue awaiting review counts as 'review')."""
    counters: dict[str, dict[str, int]] = {"by_channel": {}, "by_type": {}, "by_unit": {}, "by_decision": {},
                                           "transferred_by_unit": {}}
    for o in outcomes:
        for dim, key in (
            ("by_channel", o.clue.channel),
            ("by_type", o.classification.type_code or "unclassified"),
            ("by_unit", o.routed_unit_id or DailySheetPublished.UNROUTED),
            ("by_decision", o.decision or "review"),
            # What a unit may be told of: only what was transferred to it (services/common/scope.py).
            ("transferred_by_unit", o.routed_unit_id if o.decision == "transfer" else None),
        ):
            if key is not None:
                counters[dim][key] = counters[dim].get(key, 0) + 1
    return {dim: [{"key": k, "count": v} for k, v in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))]
            for dim, c in counters.items()}
