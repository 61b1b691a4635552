"""The figures of issue 14, measured on a labelled split through the whole screening path.

Classification (family, type, per-type recall, confusion), 五必查 recall/precision, 涉企 F1, non-conduct
recognition, and — by running ``screen.triage_batch`` over the split with the demo directory — the share
sent to the human queue and whether any 五必查 clue was set aside or auto-transferred.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from .corpus import Example

TARGETS = {"family_accuracy": 0.92, "type_accuracy": 0.75, "trigger_recall": 0.98, "trigger_precision": 0.80,
           "enterprise_f1": 0.90, "non_conduct_recognised": 0.85, "human_queue_share_max": 0.25}


def _f1(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0,
            "tp": tp, "fp": fp, "fn": fn}


def evaluate(classifier, examples: list[Example], *, directory=None, with_decisions: bool = True) -> dict[str, Any]:
    verdicts = [classifier.classify(e.text) for e in examples]
    conduct = [(e, v) for e, v in zip(examples, verdicts, strict=True) if e.conduct]
    non = [(e, v) for e, v in zip(examples, verdicts, strict=True) if not e.conduct]
    fam = [(e, v) for e, v in conduct if e.family]
    typ = [(e, v) for e, v in conduct if e.type]
    per_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    confusion: dict[str, Counter] = defaultdict(Counter)
    family_confusion: dict[str, Counter] = defaultdict(Counter)
    for e, v in typ:
        per_type[e.type][1] += 1
        per_type[e.type][0] += v.type_code == e.type
        confusion[e.type][v.type_code or "out_of_scope"] += 1
    for e, v in fam:
        family_confusion[e.family][v.family or "out_of_scope"] += 1

    trig = defaultdict(lambda: [0, 0, 0])  # tp, fp, fn per code
    for e, v in zip(examples, verdicts, strict=True):
        truth, pred = set(e.triggers), set(v.triggers)
        for code in truth | pred:
            trig[code][0 if code in truth and code in pred else 1 if code in pred else 2] += 1
    tp, fp, fn = (sum(x[i] for x in trig.values()) for i in range(3))
    must = [(e, v) for e, v in zip(examples, verdicts, strict=True) if e.triggers]

    ent = [0, 0, 0]
    for e, v in zip(examples, verdicts, strict=True):
        if e.enterprise or v.enterprise:
            ent[0 if e.enterprise and v.enterprise else 1 if v.enterprise else 2] += 1
    tags = [0, 0, 0]
    for e, v in conduct:
        truth, pred = set(e.tags), set(v.tags)
        tags[0] += len(truth & pred)
        tags[1] += len(pred - truth)
        tags[2] += len(truth - pred)

    # calibration: expected calibration error of the type confidence (10 bins)
    conf = np.array([v.confidence for _, v in typ]) if typ else np.zeros(0)
    right = np.array([v.type_code == e.type for e, v in typ]) if typ else np.zeros(0)
    ece = 0.0
    for lo in np.arange(0, 1, 0.1):
        sel = (conf >= lo) & (conf < lo + 0.1 + (1e-9 if lo >= 0.9 else 0))
        if sel.any():
            ece += sel.mean() * abs(conf[sel].mean() - right[sel].mean())

    report: dict[str, Any] = {
        "examples": len(examples), "conduct_examples": len(conduct), "non_conduct_examples": len(non),
        "model_version": classifier.version,
        "family_accuracy": round(sum(v.family == e.family for e, v in fam) / max(1, len(fam)), 4),
        "type_accuracy": round(sum(v.type_code == e.type for e, v in typ) / max(1, len(typ)), 4),
        "conduct_read_as_non_conduct": sum(not v.conduct for _, v in conduct),
        "non_conduct_recognised": round(sum(not v.conduct for _, v in non) / max(1, len(non)), 4),
        "trigger_recall": round(tp / max(1, tp + fn), 4), "trigger_precision": round(tp / max(1, tp + fp), 4),
        "trigger_required": tp + fn,
        "must_investigate_clues": len(must),
        "must_investigate_clues_flagged": sum(bool(v.triggers) for _, v in must),
        "triggers": {code: _f1(*x) for code, x in sorted(trig.items())},
        "enterprise": _f1(*ent),
        "tags": _f1(*tags),
        "type_confidence_ece": round(float(ece), 4),
        "per_type_recall": {t: {"recall": round(ok / n, 4), "n": n} for t, (ok, n) in sorted(per_type.items())},
        "type_confusion": {t: dict(c.most_common()) for t, c in sorted(confusion.items())},
        "family_confusion": {t: dict(c.most_common()) for t, c in sorted(family_confusion.items())},
    }
    report["enterprise_f1"] = report["enterprise"]["f1"]
    if with_decisions:
        report.update(_decisions(classifier, examples, directory))
    report["targets"] = {k: {"target": t, "met": (report.get(k.removesuffix("_max"), 1) <= t) if k.endswith("_max")
                             else report.get(k, 0) >= t} for k, t in TARGETS.items()}
    report["targets"]["no_must_investigate_set_aside_or_transferred"] = {
        "target": 0, "met": report.get("must_investigate_set_aside_or_transferred", 0) == 0}
    return report


def _decisions(classifier, examples: list[Example], directory) -> dict[str, Any]:
    from services.common.calendar import default_calendar

    from ..screen import ClueInput, triage_batch
    from ..taxonomy import default_taxonomy
    from ..units import DEMO_UNITS_FILE, Directory, load_routing_rules, read_directory_file

    if directory is None:
        directory = Directory.build([r.row() for r in read_directory_file(DEMO_UNITS_FILE)], load_routing_rules())
    t0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    # an hour apart: the split's clues are distinct complaints, so none should merge on arrival time alone
    clues = [ClueInput(id=uuid.uuid4(), tracking_number=f"EV-{i}", channel=e.channel or "hotline_12345",
                       subject=None, text=e.text, unit_id=None, enterprise_related=False,
                       received_at=t0 + timedelta(minutes=i)) for i, e in enumerate(examples)]
    outcomes, _ = triage_batch(clues, [], taxonomy=default_taxonomy(), directory=directory,
                               calendar=default_calendar(), run_date=date(2026, 11, 20), classifier=classifier)
    decisions = Counter(o.decision or "review" for o in outcomes)
    bad = [e.text for e, o in zip(examples, outcomes, strict=True)
           if e.triggers and o.decision in ("set_aside", "transfer")]
    ent_transferred = sum(1 for e, o in zip(examples, outcomes, strict=True)
                          if e.enterprise and o.decision == "transfer")
    wrongly_set_aside = sum(1 for e, o in zip(examples, outcomes, strict=True)
                            if e.conduct and o.decision == "set_aside")
    return {"decisions": dict(decisions), "human_queue_share": round(decisions["review"] / max(1, len(outcomes)), 4),
            "must_investigate_set_aside_or_transferred": len(bad), "must_investigate_set_aside_examples": bad[:5],
            "enterprise_auto_transferred": ent_transferred, "conduct_complaints_set_aside": wrongly_set_aside}


def markdown(report: dict[str, Any], *, title: str) -> str:
    lines = [f"# {title}", "", f"Model `{report['model_version']}`; {report['examples']} clues "
             f"({report['conduct_examples']} conduct complaints, {report['non_conduct_examples']} not).", "",
             "| measure | value | target | met |", "|---|---|---|---|"]
    shown = {"family_accuracy": "family accuracy", "type_accuracy": "type accuracy (13 types)",
             "trigger_recall": "五必查 recall", "trigger_precision": "五必查 precision", "enterprise_f1": "涉企 F1",
             "non_conduct_recognised": "non-conduct recognised", "human_queue_share": "sent to the human queue"}
    for key, label in shown.items():
        target = report["targets"].get(key) or report["targets"].get(key + "_max")
        value = report.get(key)
        shown_value = "" if value is None else f"{value:.1%}"
        bound = "" if not target else ("≤ " if key == "human_queue_share" else "≥ ") + f"{target['target']:.0%}"
        met = "" if not target else ("yes" if target["met"] else "NO")
        lines.append(f"| {label} | {shown_value} | {bound} | {met} |")
    kept = report["targets"]["no_must_investigate_set_aside_or_transferred"]["met"]
    lines.append("| 五必查 clues set aside or auto-transferred | "
                 f"{report.get('must_investigate_set_aside_or_transferred')} | 0 | {'yes' if kept else 'NO'} |")
    lines += ["", f"Conduct complaints read as non-conduct: {report['conduct_read_as_non_conduct']}; "
              f"conduct complaints set aside: {report.get('conduct_complaints_set_aside')}; "
              f"涉企 auto-transferred: {report.get('enterprise_auto_transferred')}; "
              f"type-confidence ECE: {report['type_confidence_ece']}; decisions: {report.get('decisions')}.", "",
              "Per-type recall:", "", "| type | recall | n |", "|---|---|---|"]
    lines += [f"| {t} | {r['recall']:.1%} | {r['n']} |" for t, r in report["per_type_recall"].items()]
    lines += ["", "五必查 per trigger:", "", "| trigger | recall | precision | n |", "|---|---|---|---|"]
    lines += [f"| {c} | {r['recall']:.1%} | {r['precision']:.1%} | {r['tp'] + r['fn']} |"
              for c, r in report["triggers"].items()]
    lines += ["", "Family confusion (row: label, column: predicted):", ""]
    for t, row in report["family_confusion"].items():
        lines.append(f"- {t}: " + ", ".join(f"{k} {v}" for k, v in row.items()))
    return "\n".join(lines) + "\n"
