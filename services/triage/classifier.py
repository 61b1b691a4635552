"""The classifier a clue meets: the learned model for conduct / family / type / tags / 涉企, and the 五必查
layer beside it (never the model alone).

``classify`` gives everything an officer sees: codes with their Chinese labels, calibrated confidence, and
evidence — the n-grams of this text that weighed most for the decision, the layer's phrases and numbers.
The newest model version found (the one shipped in the repository, or one ``zuofeng triage train`` wrote
to ``TRIAGE_MODEL_DIR``) is the one loaded.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .model.linear import LinearModel
from .must_investigate import MustInvestigateLayer, default_layer
from .taxonomy import Taxonomy, default_taxonomy

log = logging.getLogger(__name__)
SHIPPED_MODELS = Path(__file__).parent / "model" / "artifacts"
DEFAULT_MODEL_DIR = Path(".run") / "models"


@dataclass(frozen=True)
class Verdict:
    """One clue's classification (what ``Classification`` was for the phrase model, and more)."""

    family: str | None
    type_code: str | None
    tags: tuple[str, ...]
    confidence: float
    evidence: tuple[tuple[str, str, float], ...]  # (n-gram or phrase, what it counted for, weight)
    conduct: bool = True
    conduct_probability: float = 1.0
    triggers: tuple[str, ...] = ()
    trigger_candidates: tuple[str, ...] = ()  # found by the layer alone: an officer confirms or not
    enterprise: bool = False
    enterprise_markers: tuple[str, ...] = ()
    model_version: str | None = None
    family_scores: dict[str, float] = field(default_factory=dict)

    def evidence_json(self) -> list[dict[str, Any]]:
        return [{"phrase": p, "for": t, "weight": w} for p, t, w in self.evidence]


def model_dirs(extra: Path | None = None) -> list[Path]:
    roots = [SHIPPED_MODELS]
    configured = extra or Path(os.environ.get("TRIAGE_MODEL_DIR", DEFAULT_MODEL_DIR))
    roots.append(configured)
    return [d for root in roots if root.is_dir() for d in root.iterdir() if (d / "meta.json").is_file()]


def newest_model_dir(extra: Path | None = None) -> Path:
    """Versions are named triage-YYYYMMDD-HHMMSS, so the newest sorts last (shipped or retrained alike)."""
    found = sorted(model_dirs(extra), key=lambda d: d.name)
    if not found:
        raise FileNotFoundError(f"no triage model under {SHIPPED_MODELS} or TRIAGE_MODEL_DIR")
    return found[-1]


class Classifier:
    def __init__(self, model: LinearModel, *, taxonomy: Taxonomy | None = None,
                 layer: MustInvestigateLayer | None = None) -> None:
        self.model = model
        self.taxonomy = taxonomy or default_taxonomy()
        self.layer = layer or default_layer()
        self.version = model.version
        self.review_threshold = float(model.meta.get("review_threshold", self.taxonomy.review_threshold))
        heads = model.heads
        self._types = list(heads["type"].classes)
        self._type_family = np.array([self.taxonomy.family_of(t) for t in self._types])
        self._families = list(heads["family"].classes)
        # (families × types): 1 where the type belongs to the family
        self._family_of_type = np.array([[float(self._type_family[j] == fam) for j in range(len(self._types))]
                                         for fam in self._families])
        self._trigger_heads = [h for h in heads if h.startswith("trigger:")]
        self._tag_heads = [h for h in heads if h.startswith("tag:")]
        # where the phrase layer's precision on the training corpus lets it name a trigger on its own
        self._layer_confirms: dict[str, float] = model.meta.get("layer_confirms", {})
        # 涉企 markers precise enough on the training corpus to make a clue 涉企 by themselves
        self._strong_markers = frozenset(model.meta.get("strong_enterprise_markers", {}))

    def classify(self, text: str, *, enterprise_flag: bool = False, explain: bool = True) -> Verdict:
        """``explain=False`` skips the evidence (the benchmark measures both)."""
        m = self.model
        scores = m.score(text)
        p_conduct = float(m.probabilities(scores, "conduct")[0]) if "conduct" in m.heads else 1.0
        conduct = p_conduct >= m.heads["conduct"].threshold if "conduct" in m.heads else True

        # family: the average of the family head and the type head's mass per family (the variant the
        # evaluation measured); type: the best type inside that family; confidence: P(family) × P(type |
        # family), both calibrated
        p_type = m.probabilities(scores, "type")
        combined = 0.5 * m.probabilities(scores, "family") + 0.5 * (self._family_of_type @ p_type)
        f = int(combined.argmax())
        family = self._families[f]
        family_scores = dict(zip(self._families, np.round(combined, 4).tolist(), strict=True))
        inside = p_type * self._family_of_type[f]
        t = int(inside.argmax())
        type_code = self._types[t]
        confidence = round(float(inside[t] / max(inside.sum(), 1e-9)) * float(combined[f]), 3)

        evidence: list[tuple[str, str, float]] = []
        if explain and conduct:
            evidence = [(g, type_code, w) for g, w in m.evidence(scores, "type", t, original=text)]
        elif explain:
            evidence = [(g, "out_of_scope", w)
                        for g, w in m.evidence(scores, "conduct", 0, sign=-1.0, original=text)]

        # 五必查: the learned detector (low, recall-oriented thresholds fitted out of fold) names the
        # triggers; the phrase-and-number layer is the second net: what it finds alone is a candidate that
        # still keeps the clue in front of an officer
        triggers: dict[str, None] = {}
        candidates: dict[str, None] = {}
        found = self.layer.scan(text)
        hits = self.layer.hits(text, found, conduct=conduct)
        for head in self._trigger_heads:
            h = m.heads[head]
            if scores.probs[h.start] >= h.threshold:
                triggers[head.removeprefix("trigger:")] = None
        learned = set(triggers)
        for hit in hits:
            if hit.code in triggers:
                pass
            elif hit.rule in self._layer_confirms:
                triggers[hit.code] = None
            else:
                candidates[hit.code] = None
            if explain:  # the layer's own words, the longest only
                evidence += [(p, hit.code, 1.0) for p in hit.phrases
                             if not any(p != q and p in q for q in hit.phrases)]
        if explain:
            shown = {hit.code for hit in hits}
            for code in sorted(learned - shown):  # a trigger the detector found alone: its strongest n-grams
                evidence += [(g, code, w) for g, w in m.top_grams(scores, "trigger:" + code)]

        markers = tuple(self.layer.enterprise_marker(text, found))
        p_enterprise = float(m.probabilities(scores, "enterprise")[0]) if "enterprise" in m.heads else 0.0
        enterprise = enterprise_flag or p_enterprise >= 0.5 or not self._strong_markers.isdisjoint(markers)
        if enterprise and explain:
            evidence += [(g, "enterprise", w) for g, w in m.top_grams(scores, "enterprise")]

        tags = tuple(sorted(h.removeprefix("tag:") for h in self._tag_heads
                            if scores.probs[m.heads[h].start] >= m.heads[h].threshold))
        if not conduct:  # out of scope: no family, type or tags
            tags = ()
        return Verdict(family=family if conduct else None, type_code=type_code if conduct else None, tags=tags,
                       confidence=confidence,
                       evidence=tuple(evidence), conduct=conduct, conduct_probability=round(p_conduct, 3),
                       triggers=tuple(sorted(triggers)), trigger_candidates=tuple(sorted(candidates)),
                       enterprise=enterprise, enterprise_markers=markers,
                       model_version=self.version, family_scores=family_scores)

    def labelled(self, verdict: Verdict) -> dict[str, Any]:
        """The verdict as the API shows it: every code with its Chinese label beside it."""
        tax = self.taxonomy
        trigger_labels = {code: label for code, label, _ in tax.triggers}
        return {
            "conduct": verdict.conduct,
            "out_of_scope": not verdict.conduct,
            "conduct_probability": verdict.conduct_probability,
            "family": _coded(verdict.family, tax.families),
            "type": _coded(verdict.type_code, tax.types),
            "tags": [{"code": t, "label": tax.tags[t]["label"]} for t in verdict.tags if t in tax.tags],
            "triggers": [{"code": t, "label": trigger_labels.get(t, t)} for t in verdict.triggers],
            "trigger_candidates": [{"code": t, "label": trigger_labels.get(t, t)} for t in verdict.trigger_candidates],
            "must_investigate": bool(verdict.triggers),
            "enterprise": verdict.enterprise,
            "enterprise_markers": list(verdict.enterprise_markers),
            "confidence": verdict.confidence,
            "needs_officer": needs_officer(verdict, self.review_threshold),
            "evidence": [{"phrase": p, "for": t, "label": _label(t, tax, trigger_labels), "weight": w}
                         for p, t, w in verdict.evidence],
            "model_version": verdict.model_version,
        }


def needs_officer(verdict: Verdict, threshold: float) -> bool:
    """五必查 candidates and 涉企 clues always reach an officer; so does a low-confidence classification."""
    return bool(verdict.triggers or verdict.trigger_candidates or verdict.enterprise
                or verdict.enterprise_markers) or (
        verdict.conduct and verdict.confidence < threshold)


def _coded(code: str | None, table: dict[str, dict[str, Any]]) -> dict[str, str] | None:
    return {"code": code, "label": table[code]["label"]} if code else None


def _label(target: str, tax: Taxonomy, triggers: dict[str, str]) -> str:
    if target in tax.types:
        return tax.types[target]["label"]
    if target in triggers:
        return "五必查：" + triggers[target]
    return {"enterprise": "涉企", "out_of_scope": "非作风问题"}.get(target, target)


_lock = threading.Lock()
_current: Classifier | None = None


def default_classifier(model_dir: Path | None = None) -> Classifier:
    """The classifier of the newest model version; reloaded when a newer version appears."""
    global _current
    newest = newest_model_dir(model_dir)
    with _lock:
        if _current is None or _current.version != newest.name:
            _current = Classifier(LinearModel.load(newest))
            log.info("triage model loaded", extra={"version": _current.version, "path": str(newest)})
        return _current
