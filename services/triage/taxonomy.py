"""作风问题分类: the taxonomy (held as data in ``data/taxonomy.yaml``) and the first, phrase-based classifier.

Decisions now come from the learned classifier (``classifier.py``); the phrase model below is kept as the
baseline the benchmark compares it with (family 18.9 % on the evaluation split), and the taxonomy for its
codes, labels, tag groups and 五必查 labels.

The classifier is a weighted phrase model: every phrase of the taxonomy found in a clue's text adds its
weight to a family (不作为/慢作为/乱作为), a type (大同 13 类) or a tag (四面镜子, 四客, 三不, 四风, 八项规定,
吃拿卡要). The evidence — which phrase counted for what — is kept with the result so an officer can see why.
All phrases are found in one pass over the text with an Aho-Corasick automaton (``pyahocorasick``), so the
cost of a clue grows with its length, not with the number of phrases.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import ahocorasick
import yaml

DATA_DIR = Path(__file__).parent / "data"
TAXONOMY_FILE = DATA_DIR / "taxonomy.yaml"


@dataclass(frozen=True)
class Classification:
    family: str | None
    type_code: str | None
    tags: tuple[str, ...]
    confidence: float
    evidence: tuple[tuple[str, str, float], ...]  # (phrase, target code, weight)
    family_scores: dict[str, float] = field(default_factory=dict)

    def evidence_json(self) -> list[dict[str, Any]]:
        return [{"phrase": p, "for": t, "weight": w} for p, t, w in self.evidence]


@dataclass
class Taxonomy:
    raw: dict[str, Any]
    families: dict[str, dict[str, Any]]
    types: dict[str, dict[str, Any]]
    tags: dict[str, dict[str, Any]]
    review_threshold: float
    targets: dict[str, list[tuple[str, str, float]]]  # phrase → [(kind, code, weight)]
    automaton: Any
    triggers: list[tuple[str, str, list[frozenset[str]]]]
    enterprise_markers: frozenset[str]
    set_aside: dict[str, Any]

    @classmethod
    def load(cls, path: Path = TAXONOMY_FILE) -> Taxonomy:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        families = {f["code"]: f for f in raw["families"]}
        types = {t["code"]: t for t in raw["types"]}
        tags = {t["code"]: {**t, "group": g["code"]} for g in raw["tag_groups"] for t in g["tags"]}
        targets: dict[str, list[tuple[str, str, float]]] = defaultdict(list)
        for code, fam in families.items():
            for phrase, weight in (fam.get("keywords") or {}).items():
                targets[phrase].append(("family", code, float(weight)))
        for code, typ in types.items():
            if typ["family"] not in families:
                raise ValueError(f"type {code} names an unknown family {typ['family']}")
            for phrase, weight in typ["keywords"].items():
                targets[phrase].append(("type", code, float(weight)))
        for code, tag in tags.items():
            for phrase, weight in tag["keywords"].items():
                targets[phrase].append(("tag", code, float(weight)))
        triggers = [(t["code"], t["label"], [frozenset(g) for g in t["all"]]) for t in raw["must_investigate"]]
        set_aside = raw.get("set_aside", {})
        every_phrase = set(targets) | {p for _, _, groups in triggers for g in groups for p in g}
        every_phrase |= set(raw.get("enterprise_markers", []))
        return cls(
            raw=raw, families=families, types=types, tags=tags,
            review_threshold=float(raw.get("review_threshold", 0.5)),
            targets=dict(targets), automaton=build_automaton(every_phrase),
            triggers=triggers, enterprise_markers=frozenset(raw.get("enterprise_markers", [])),
            set_aside=set_aside,
        )

    # -- export ---------------------------------------------------------------------------------------
    def export(self) -> dict[str, Any]:
        """The taxonomy as the API serves it (codes and labels, without the phrase weights)."""
        return {
            "families": [
                {"code": code, "label": fam["label"],
                 "types": [{"code": t, "label": typ["label"]}
                           for t, typ in self.types.items() if typ["family"] == code]}
                for code, fam in self.families.items()
            ],
            "tag_groups": [
                {"code": g["code"], "label": g["label"],
                 "tags": [{"code": t["code"], "label": t["label"]} for t in g["tags"]]}
                for g in self.raw["tag_groups"]
            ],
            "must_investigate": [{"code": code, "label": label} for code, label, _ in self.triggers],
            "decisions": [
                {"code": "accept", "label": "受理"},
                {"code": "transfer", "label": "转办"},
                {"code": "merge", "label": "合并"},
                {"code": "set_aside", "label": "存查"},
            ],
            "review_threshold": self.review_threshold,
        }

    def family_of(self, type_code: str) -> str:
        return self.types[type_code]["family"]

    # -- matching -------------------------------------------------------------------------------------
    def scan(self, text: str) -> set[str]:
        """Every phrase the taxonomy knows that occurs in ``text`` (one pass)."""
        return {phrase for _, phrase in self.automaton.iter(text)}

    def classify(self, text: str, found: set[str] | None = None) -> Classification:
        """Score families, types and tags by the phrases present; the confidence grows with the winning
        family's score and its margin over the runner-up."""
        family_scores: dict[str, float] = defaultdict(float)
        type_scores: dict[str, float] = defaultdict(float)
        tag_scores: dict[str, float] = defaultdict(float)
        evidence = []
        found = self.scan(text) if found is None else found
        for phrase in sorted(p for p in found if p in self.targets):  # sorted: deterministic evidence
            for kind, code, weight in self.targets[phrase]:
                evidence.append((phrase, code, weight))
                if kind == "family":
                    family_scores[code] += weight
                elif kind == "type":
                    type_scores[code] += weight
                    family_scores[self.types[code]["family"]] += weight
                else:
                    tag_scores[code] += weight
        tags = tuple(sorted(code for code, score in tag_scores.items() if score >= 2.0))
        if not family_scores:
            return Classification(None, None, tags, 0.0, tuple(evidence), {})
        ranked = sorted(family_scores.items(), key=lambda kv: (-kv[1], kv[0]))
        family, top = ranked[0]
        second = ranked[1][1] if len(ranked) > 1 else 0.0
        in_family = [(c, s) for c, s in type_scores.items() if self.types[c]["family"] == family]
        type_code = min(in_family, key=lambda cs: (-cs[1], cs[0]))[0] if in_family else None
        confidence = (top / (top + second)) * (1.0 - math.exp(-top / 2.0))
        return Classification(family, type_code, tags, round(confidence, 3), tuple(evidence), dict(family_scores))


def build_automaton(phrases) -> Any:
    automaton = ahocorasick.Automaton()
    for phrase in phrases:
        automaton.add_word(phrase, phrase)
    automaton.make_automaton()
    return automaton


@lru_cache
def default_taxonomy() -> Taxonomy:
    return Taxonomy.load()
