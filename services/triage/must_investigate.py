"""五必查 (R-TR-4) as a layer of its own: broad phrase groups, number patterns for 双超, and 涉企 markers.

High recall by design. A candidate never decides anything on its own: it keeps the clue in front of an
officer (never 存查, never auto-transferred). The learned detector (the model's ``trigger:*`` heads, at a
low threshold) is the second net; ``classifier`` takes the union of both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .taxonomy import DATA_DIR, build_automaton

LAYER_FILE = DATA_DIR / "must-investigate.yaml"

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_NUM = r"(?:\d+(?:[.,]\d+)*|[零〇一二两三四五六七八九十百千]+(?:点[零一二三四五六七八九]+)?)"
_AMOUNT = re.compile(rf"({_NUM})\s*(亿|千万|百万|万|元)")
_DURATION = re.compile(rf"({_NUM}|半)\s*(?:多|余)?\s*(年|个月|月|个星期|周|天)(半)?")
_BUDGET_WORDS = ("预算", "概算", "投资", "造价", "资金", "经费", "合同价", "报价", "中标价")
_PLAN_WORDS = ("计划", "原定", "原计划", "合同", "工期", "承诺", "预计", "说好", "要求", "规定")
_LATE_WORDS = ("拖了", "延期", "推迟", "晚了", "超期", "逾期", "延误", "滞后", "拖延")
_SENTENCE = re.compile(r"[。！？!?；;\n]")


def parse_number(token: str) -> float | None:
    """'1,200' → 1200, '3.5' → 3.5, '一千二百' → 1200, '两' → 2, '十五' → 15, '三点五' → 3.5."""
    token = token.strip()
    if not token:
        return None
    if token[0].isdigit():
        try:
            return float(token.replace(",", ""))
        except ValueError:
            return None
    whole, _, frac = token.partition("点")
    total, current = 0, 0
    for ch in whole:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            total += (current or 1) * _CN_UNITS[ch]
            current = 0
        else:
            return None
    value = float(total + current)
    if frac:
        value += float("0." + "".join(str(_CN_DIGITS.get(c, 0)) for c in frac))
    return value


_SCALE = {"亿": 1e8, "千万": 1e7, "百万": 1e6, "万": 1e4, "元": 1.0}
_MONTHS = {"年": 12.0, "个月": 1.0, "月": 1.0, "个星期": 0.25, "周": 0.25, "天": 1 / 30}


def amounts(sentence: str) -> list[float]:
    out = []
    for m in _AMOUNT.finditer(sentence):
        value = parse_number(m.group(1))
        if value is not None:
            out.append(value * _SCALE[m.group(2)])
    return out


def durations_in_months(sentence: str) -> list[tuple[int, float]]:
    out = []
    for m in _DURATION.finditer(sentence):
        if m.group(2) == "年" and m.group(1).isdigit() and len(m.group(1)) == 4:
            continue  # a calendar year (2023年), not a duration
        value = 0.5 if m.group(1) == "半" else parse_number(m.group(1))
        if value is None:
            continue
        value = (value + (0.5 if m.group(3) else 0.0)) * _MONTHS[m.group(2)]
        out.append((m.start(), value))
    return out


def numeric_over_budget_schedule(text: str, *, budget_factor: float = 1.1, extra: float = 0.2) -> str | None:
    """The phrase showing 双超 by numbers, or None: a budget that grew (预算3000万…结算5000万), a schedule
    planned N and now M > N (计划两年…已经四年), or a delay of half a year or more (拖了一年多)."""
    for sentence in _SENTENCE.split(text):
        if any(w in sentence for w in _BUDGET_WORDS):
            values = amounts(sentence)
            if len(values) >= 2 and values[0] > 0 and max(values[1:]) >= budget_factor * values[0]:
                return sentence.strip()
        spans = durations_in_months(sentence)
        if len(spans) >= 2 and any(w in sentence for w in _PLAN_WORDS):
            planned = spans[0][1]
            if planned > 0 and max(v for _, v in spans[1:]) >= planned * (1 + extra):
                return sentence.strip()
        for word in _LATE_WORDS:
            at = sentence.find(word)
            if at >= 0 and any(v >= 6 for pos, v in spans if pos >= at):
                return sentence.strip()
    # the plan and the present may sit in two sentences: 计划两年建成。现在四年了还没完工。
    spans = durations_in_months(text)
    if len(spans) >= 2 and any(w in text for w in _PLAN_WORDS):
        planned = spans[0][1]
        if planned >= 3 and max(v for _, v in spans[1:]) >= planned * (1 + extra):
            return text[spans[0][0] : spans[0][0] + 24].strip()
    return None


@dataclass(frozen=True)
class LayerHit:
    code: str
    phrases: tuple[str, ...]
    rule: str = ""  # which alternative met it, e.g. "investor_withdrawal/0"; "…/numbers" for 双超 by numbers


@dataclass
class MustInvestigateLayer:
    vocab: dict[str, frozenset[str]]
    triggers: dict[str, list[list[str]]]
    unless: dict[str, list[str]]
    numeric: dict[str, float]
    enterprise_markers: frozenset[str]
    automaton: Any

    @classmethod
    def load(cls, path: Path = LAYER_FILE) -> MustInvestigateLayer:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        vocab = {name: frozenset(words) for name, words in raw["vocab"].items()}
        markers = frozenset(raw.get("enterprise_markers", []))
        every = set(markers).union(*vocab.values())
        return cls(vocab, raw["triggers"], raw.get("unless", {}), raw.get("numeric", {}), markers,
                   build_automaton(every))

    def scan(self, text: str) -> set[str]:
        return {phrase for _, phrase in self.automaton.iter(text)}

    def hits(self, text: str, found: set[str] | None = None, *, conduct: bool = False) -> list[LayerHit]:
        """Triggers met by ``text``; ``conduct``: whether the text reads as a conduct complaint (the
        learned judgement), for the alternatives that ask for it (``@conduct``)."""
        found = self.scan(text) if found is None else found
        present = {name: words & found for name, words in self.vocab.items()}
        present["@conduct"] = frozenset({"@conduct"}) if conduct else frozenset()
        out = []
        for code, alternatives in self.triggers.items():
            if any(present[g] for g in self.unless.get(code, ())):
                continue
            for n, groups in enumerate(alternatives):
                if all(present[g] for g in groups):
                    phrases = set().union(*(present[g] for g in groups)) - {"@conduct"}
                    out.append(LayerHit(code, tuple(sorted(phrases)), f"{code}/{n}"))
                    break
            else:
                if code == "over_budget_schedule" and present["government_investment"]:
                    numbers = numeric_over_budget_schedule(
                        text, budget_factor=self.numeric.get("budget_factor", 1.1),
                        extra=self.numeric.get("schedule_extra_fraction", 0.2))
                    if numbers:
                        out.append(LayerHit(code, (*sorted(present["government_investment"]), numbers),
                                            f"{code}/numbers"))
        return out

    def enterprise_marker(self, text: str, found: set[str] | None = None) -> list[str]:
        found = self.scan(text) if found is None else found
        return sorted(found & self.enterprise_markers)


@lru_cache
def default_layer() -> MustInvestigateLayer:
    return MustInvestigateLayer.load()
