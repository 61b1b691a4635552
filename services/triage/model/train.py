"""Training: TF-IDF over character n-grams (and optionally jieba words) into logistic-regression heads,
calibrated on out-of-fold scores, exported as a ``linear.LinearModel`` artefact.

Calibration and every threshold are fitted on 4-fold out-of-fold predictions of the training data, so the
evaluation split stays untouched until the report.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from .corpus import Example, fingerprint
from .features import analyse
from .linear import LinearModel

MIN_TAG_POSITIVES = 12
TRIGGERS = ("approval_complaint", "project_slow", "investor_withdrawal", "investment_approval_service",
            "over_budget_schedule")


def _folds(y: np.ndarray, k: int = 4, seed: int = 7):
    counts = Counter(y.tolist())
    k = max(2, min(k, min(counts.values()))) if len(counts) > 1 else 2
    return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def _fit(X, y, *, C: float, balanced: bool) -> LogisticRegression:
    model = LogisticRegression(C=C, max_iter=3000, class_weight="balanced" if balanced else None)
    return model.fit(X, y)


def _oof_scores(X, y, *, C: float, balanced: bool) -> np.ndarray:
    """Decision scores of each row from a model that never saw it."""
    classes = np.unique(y)
    out = np.zeros((len(y), len(classes) if len(classes) > 2 else 1), dtype=np.float64)
    for train, test in _folds(y):
        m = _fit(X[train], y[train], C=C, balanced=balanced)
        s = m.decision_function(X[test])
        if len(classes) > 2:
            # a fold may lack a rare class: place its columns where they belong
            full = np.full((len(test), len(classes)), -1e3)
            full[:, np.searchsorted(classes, m.classes_)] = s
            out[test] = full
        else:
            out[test, 0] = s
    return out


def _temperature(scores: np.ndarray, y_index: np.ndarray) -> float:
    def nll(t: float) -> float:
        z = scores / t
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return -float(logp[np.arange(len(y_index)), y_index].mean())

    return float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x)


def _platt(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    lr = LogisticRegression(C=1e4, max_iter=1000).fit(scores.reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _recall_threshold(p: np.ndarray, y: np.ndarray, *, recall: float, floor: float = 0.05,
                      ceiling: float = 0.5) -> float:
    """The highest threshold that still keeps ``recall`` of the positives out of fold (a low net)."""
    positives = np.sort(p[y == 1])
    if not len(positives):
        return ceiling
    k = int(math.floor((1 - recall) * len(positives)))
    return float(min(ceiling, max(floor, positives[k] - 1e-6)))


def layer_statistics(examples: list[Example]) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """[right, hits] of every 五必查 rule and every 涉企 marker of the phrase layer over labelled examples."""
    from ..must_investigate import default_layer

    layer = default_layer()
    rule_stats: dict[str, list[int]] = {}
    marker_stats: dict[str, list[int]] = {}
    for e in examples:
        found = layer.scan(e.text)
        for hit in layer.hits(e.text, found, conduct=e.conduct):
            stats = rule_stats.setdefault(hit.rule, [0, 0])
            stats[0] += hit.code in e.triggers
            stats[1] += 1
        for marker in layer.enterprise_marker(e.text, found):
            stats = marker_stats.setdefault(marker, [0, 0])
            stats[0] += e.enterprise
            stats[1] += 1
    return rule_stats, marker_stats


def train(examples: list[Example], *, use_words: bool = False, C: float = 20.0, version: str | None = None,
          min_df: int = 2, calibration: list[Example] | None = None,
          trigger_recall: float = 0.99) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Fit every head; return (meta, arrays) ready for ``write`` or ``LinearModel``.

    ``calibration``: labelled conduct complaints written apart from the corpus (not the evaluation split).
    A corpus composed from templates is easy to fit, so its own out-of-fold scores are overconfident;
    when given, the family/type temperatures and the review threshold are fitted on these instead."""
    texts = [e.text for e in examples]
    vectoriser = TfidfVectorizer(analyzer=lambda t: analyse(t, use_words=use_words), sublinear_tf=True,
                                 min_df=min_df, dtype=np.float32)
    X = vectoriser.fit_transform(texts).tocsr()
    vocabulary = [None] * len(vectoriser.vocabulary_)
    for gram, j in vectoriser.vocabulary_.items():
        vocabulary[j] = gram
    columns: list[np.ndarray] = []
    biases: list[np.ndarray] = []
    heads: list[dict[str, Any]] = []
    width = 0
    report: dict[str, Any] = {}

    def add(name: str, kind: str, classes: list[str], W: np.ndarray, b: np.ndarray, **extra) -> None:
        nonlocal width
        columns.append(W.astype(np.float32))
        biases.append(b.astype(np.float32))
        heads.append({"name": name, "kind": kind, "classes": classes, "start": width,
                      "stop": width + W.shape[1], **extra})
        width += W.shape[1]

    def binary(name: str, y: np.ndarray, *, balanced: bool, recall: float | None = None) -> None:
        if y.sum() < 3 or y.sum() > len(y) - 3:
            return
        model = _fit(X, y, C=C, balanced=balanced)
        oof = _oof_scores(X, y, C=C, balanced=balanced)[:, 0]
        a, b = _platt(oof, y)
        p = _sigmoid(a * oof + b)
        threshold = 0.5 if recall is None else _recall_threshold(p, y, recall=recall)
        pred = p >= threshold
        tp = int((pred & (y == 1)).sum())
        report[name] = {"positives": int(y.sum()), "threshold": round(threshold, 4),
                        "oof_recall": round(tp / max(1, int(y.sum())), 4),
                        "oof_precision": round(tp / max(1, int(pred.sum())), 4)}
        add(name, "binary", ["yes"], model.coef_.T, model.intercept_, platt=[a, b], threshold=threshold)

    def softmax(name: str, rows: np.ndarray, labels: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
        y = np.array(labels)
        model = _fit(X[rows], y, C=C, balanced=False)
        classes = [str(c) for c in model.classes_]
        oof = _oof_scores(X[rows], y, C=C, balanced=False)
        y_index = np.searchsorted(np.array(classes), y)
        t = _temperature(oof, y_index)
        report[name] = {"examples": int(len(rows)), "temperature": round(t, 4),
                        "oof_accuracy": round(float((oof.argmax(axis=1) == y_index).mean()), 4)}
        W = model.coef_.T if len(classes) > 2 else np.hstack([-model.coef_.T, model.coef_.T]) / 2
        b = model.intercept_ if len(classes) > 2 else np.array([-model.intercept_[0], model.intercept_[0]]) / 2
        add(name, "softmax", classes, W, b, temperature=t)
        return oof / t, y_index, classes

    conduct = np.array([e.conduct for e in examples], dtype=int)
    binary("conduct", conduct, balanced=True)
    rows = np.flatnonzero(conduct == 1)
    fam_rows = np.array([i for i in rows if examples[i].family])
    softmax("family", fam_rows, [examples[i].family for i in fam_rows])
    type_rows = np.array([i for i in rows if examples[i].type])
    type_oof, type_y, type_classes = softmax("type", type_rows, [examples[i].type for i in type_rows])
    binary("enterprise", np.array([e.enterprise for e in examples], dtype=int), balanced=True)
    for code in TRIGGERS:
        binary(f"trigger:{code}", np.array([code in e.triggers for e in examples], dtype=int), balanced=True,
               recall=trigger_recall)
    tag_counts = Counter(t for e in examples for t in e.tags)
    for tag, count in sorted(tag_counts.items()):
        if count >= MIN_TAG_POSITIVES:
            binary(f"tag:{tag}", np.array([tag in e.tags for e in examples], dtype=int), balanced=True)

    if calibration:
        Xc = vectoriser.transform([e.text for e in calibration])
        for head in heads:
            if head["name"] not in ("family", "type"):
                continue
            W = np.hstack(columns)[:, head["start"] : head["stop"]]
            b = np.concatenate(biases)[head["start"] : head["stop"]]
            z = np.asarray(Xc @ W) + b
            labels = [e.family if head["name"] == "family" else e.type for e in calibration]
            keep = [i for i, lab in enumerate(labels) if lab in head["classes"]]
            y_index = np.array([head["classes"].index(labels[i]) for i in keep])
            head["temperature"] = _temperature(z[keep], y_index)
            report[head["name"]]["temperature_on_calibration_set"] = round(head["temperature"], 4)
            if head["name"] == "type":
                type_oof, type_y = z[keep] / head["temperature"], y_index
        report["calibration_examples"] = len(calibration)

    # The review threshold: confidence (calibrated P(type)) below which a clue waits for an officer,
    # the lowest value at which the auto-decided clues' type accuracy reaches 90 %, never sending more
    # than a fifth of the clues to the queue.
    e = np.exp(type_oof - type_oof.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    confidence, right = p.max(axis=1), p.argmax(axis=1) == type_y
    review = 0.0
    for t in np.arange(0.0, 0.9, 0.01):
        keep = confidence >= t
        if (confidence < t).mean() > 0.2:
            break
        review = float(t)
        if keep.sum() and right[keep].mean() >= 0.9:
            break
    report["review_threshold"] = {"value": round(review, 2),
                                  "oof_share_below": round(float((confidence < review).mean()), 4)}

    # Where the phrase layers decide on their own: a 五必查 rule (one alternative of a trigger) names the
    # trigger, and a 涉企 marker makes the clue 涉企, only where its precision on the training corpus shows
    # it can; elsewhere what they find keeps the clue with an officer.
    rule_stats, marker_stats = layer_statistics(examples)

    def precise(stats: dict[str, list[int]], floor: float) -> dict[str, float]:
        # a rule that was never wrong counts even when it fired rarely (撤资 says what it says)
        return {k: round(tp / n, 4) for k, (tp, n) in sorted(stats.items())
                if (n >= 5 and tp / n >= floor) or (n >= 1 and tp == n)}

    layer_confirms = precise(rule_stats, 0.8)
    # markers: 0.85 measured worse on 涉企 F1 than the learned head alone (公司, 投资 and 厂 are too often
    # a 物业公司 or a 厂 the citizen lives by); only the near-certain ones decide
    strong_markers = precise(marker_stats, 0.95)
    report["layer_rules"] = {k: {"precision": round(tp / n, 4), "hits": n} for k, (tp, n) in sorted(rule_stats.items())}
    report["enterprise_markers"] = {k: {"precision": round(tp / n, 4), "hits": n}
                                    for k, (tp, n) in sorted(marker_stats.items())}

    stamp = datetime.now(UTC)
    meta = {
        "version": version or stamp.strftime("triage-%Y%m%d-%H%M%S"),
        "trained_at": stamp.isoformat(), "use_words": use_words, "C": C, "min_df": min_df,
        "trigger_recall": trigger_recall,
        "examples": len(examples), "data_fingerprint": fingerprint(examples),
        "sources": dict(Counter(e.source or "corpus" for e in examples)),
        "review_threshold": round(review, 2), "layer_confirms": layer_confirms,
        "strong_enterprise_markers": strong_markers, "heads": heads, "vocabulary": vocabulary, "training": report,
    }
    arrays = {"idf": vectoriser.idf_.astype(np.float32), "weights": np.hstack(columns).astype(np.float16),
              "bias": np.concatenate(biases).astype(np.float32)}
    return meta, arrays


def write(meta: dict[str, Any], arrays: dict[str, np.ndarray], root: Path) -> Path:
    directory = root / meta["version"]
    directory.mkdir(parents=True, exist_ok=True)
    # numpy's stub types **kwds so that a dict of arrays could land on allow_pickle: bool
    np.savez_compressed(directory / "model.npz", **arrays)  # type: ignore[arg-type]
    (directory / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, separators=(",", ":")),
                                         encoding="utf-8")
    return directory


def as_model(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> LinearModel:
    return LinearModel(meta, arrays)
