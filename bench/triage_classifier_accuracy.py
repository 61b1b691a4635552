"""Benchmark: the triage classifier on the separate evaluation split (tests/data/triage_eval.jsonl).

Measures, with the newest model (shipped or retrained): family and type accuracy, per-type recall and
confusion, 五必查 recall/precision (the learned detector with and without the phrase layer), 涉企 F1 (the
learned head, the markers, both), non-conduct recognition, the human-queue share and whether any 五必查
clue was set aside or auto-transferred (by running the screening rules over the split), the old phrase
model on the same split for comparison, and throughput in clues per CPU-second on one core (with and
without evidence). Run: ``.venv/bin/python -m bench.triage_classifier_accuracy [eval|eval2]`` — ``eval2`` is
the second hand-written split (tests/data/triage_eval2.jsonl, with tags), results in triage_classifier_eval2.*.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from bench.common import write
from services.triage.classifier import default_classifier, newest_model_dir
from services.triage.model.corpus import EVAL_FILE, eval_examples, training_examples
from services.triage.model.evaluate import evaluate, markdown
from services.triage.taxonomy import default_taxonomy


def _throughput(classifier, texts: list[str], *, explain: bool, rounds: int = 3) -> float:
    """Clues per CPU-second (process time: on a shared machine, wall time measures the neighbours)."""
    best = 0.0
    for _ in range(rounds):
        started = time.process_time()
        for text in texts:
            classifier.classify(text, explain=explain)
        best = max(best, len(texts) / max(1e-9, time.process_time() - started))
    return round(best)


def _batched(classifier, texts: list[str], *, explain: bool, rounds: int = 3) -> float:
    """``classify_many`` (what the daily run uses), clues per CPU-second."""
    best = 0.0
    for _ in range(rounds):
        started = time.process_time()
        classifier.classify_many(texts, explain=explain)
        best = max(best, len(texts) / max(1e-9, time.process_time() - started))
    return round(best)


def _layer_value(classifier, examples) -> dict:
    """What the phrase layers add beside the model, measured rather than assumed."""
    tp = {"model": 0, "model+layer": 0}
    fp = {"model": 0, "model+layer": 0}
    required = sum(len(e.triggers) for e in examples)
    officer = 0
    ent = {k: [0, 0, 0] for k in ("model", "markers", "either")}
    phrase_tags = [0, 0, 0]
    model_tags = [0, 0, 0]
    union_tags = [0, 0, 0]
    taxonomy = default_taxonomy()
    for e in examples:
        v = classifier.classify(e.text)
        truth = set(e.triggers)
        for name, pred in (("model", set(v.triggers)), ("model+layer", set(v.triggers) | set(v.trigger_candidates))):
            # "model": the triggers reported (learned detector + the layer rules precise enough to decide);
            # "model+layer": with the layer's candidates too
            tp[name] += len(pred & truth)
            fp[name] += len(pred - truth)
        officer += len(truth & (set(v.triggers) | set(v.trigger_candidates)))
        for name, flag in (("model", v.enterprise), ("markers", bool(v.enterprise_markers)),
                           ("either", v.enterprise or bool(v.enterprise_markers))):
            if flag or e.enterprise:
                ent[name][0 if flag and e.enterprise else 1 if flag else 2] += 1
        if e.conduct:
            phrase = set(taxonomy.classify(e.text).tags)
            for counts, pred in ((phrase_tags, phrase), (model_tags, set(v.tags)), (union_tags, phrase | set(v.tags))):
                counts[0] += len(pred & set(e.tags))
                counts[1] += len(pred - set(e.tags))
                counts[2] += len(set(e.tags) - pred)

    def f1(t, f, n):
        p, r = t / max(1, t + f), t / max(1, t + n)
        return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / max(1e-9, p + r), 4)}

    return {
        "triggers": {k: {"recall": round(tp[k] / max(1, required), 4),
                         "precision": round(tp[k] / max(1, tp[k] + fp[k]), 4)} for k in tp},
        "trigger_reaching_an_officer_recall": round(officer / max(1, required), 4),
        "enterprise": {k: f1(*v) for k, v in ent.items()},
        "tags": {"phrase model": f1(*phrase_tags), "learned": f1(*model_tags), "union": f1(*union_tags)},
    }


def _phrase_baseline(examples) -> dict:
    taxonomy = default_taxonomy()
    conduct = [e for e in examples if e.conduct]
    family = sum(taxonomy.classify(e.text).family == e.family for e in conduct)
    type_ = sum(taxonomy.classify(e.text).type_code == e.type for e in conduct)
    return {"family_accuracy": round(family / max(1, len(conduct)), 4),
            "type_accuracy": round(type_ / max(1, len(conduct)), 4)}


SPLITS = {"eval": (EVAL_FILE, "triage_classifier"),
          "eval2": (EVAL_FILE.with_name("triage_eval2.jsonl"), "triage_classifier_eval2")}


def main(split: str = "eval") -> int:
    path, result_name = SPLITS[split]
    classifier = default_classifier()
    examples = eval_examples(path)
    report = evaluate(classifier, examples)
    report["model_dir"] = str(newest_model_dir().relative_to(Path.cwd()) if newest_model_dir().is_relative_to(
        Path.cwd()) else newest_model_dir())
    report["train_examples"] = len(training_examples())
    report["layers"] = _layer_value(classifier, examples)
    report["phrase_model_baseline"] = _phrase_baseline(examples)
    texts = [e.text for e in examples] * 4
    report["throughput_per_cpu_second"] = {"with_evidence": _throughput(classifier, texts, explain=True),
                                           "without_evidence": _throughput(classifier, texts, explain=False),
                                           "batched_with_evidence": _batched(classifier, texts, explain=True),
                                           "batched_without_evidence": _batched(classifier, texts, explain=False),
                                           "load_average": round(os.getloadavg()[0], 1)}
    report["split"] = str(path.relative_to(Path(__file__).resolve().parents[1]))
    md = markdown(report, title=f"Triage classifier on the evaluation split `{report['split']}`")
    layers = report["layers"]
    md += "\n## What each layer adds (same split)\n\n| variant | recall | precision | F1 |\n|---|---|---|---|\n"
    for k, v in layers["triggers"].items():
        label = {"model": "reported (learned detector + layer rules that decide)",
                 "model+layer": "reported + layer candidates"}[k]
        md += f"| 五必查: {label} | {v['recall']:.1%} | {v['precision']:.1%} | |\n"
    md += f"| 五必查 reaching an officer (trigger or candidate) | {layers['trigger_reaching_an_officer_recall']:.1%} | | |\n"
    for k, v in layers["enterprise"].items():
        md += f"| 涉企: {k} | {v['recall']:.1%} | {v['precision']:.1%} | {v['f1']:.1%} |\n"
    for k, v in layers["tags"].items():
        md += f"| tags: {k} | {v['recall']:.1%} | {v['precision']:.1%} | {v['f1']:.1%} |\n"
    base = report["phrase_model_baseline"]
    md += (f"\nThe old phrase model on the same split: family {base['family_accuracy']:.1%}, type "
           f"{base['type_accuracy']:.1%}.\n\nThroughput on one core (clues per CPU-second): "
           f"{report['throughput_per_cpu_second']['without_evidence']:,} without evidence, "
           f"{report['throughput_per_cpu_second']['with_evidence']:,} with evidence; batched (the daily run): "
           f"{report['throughput_per_cpu_second']['batched_without_evidence']:,} / "
           f"{report['throughput_per_cpu_second']['batched_with_evidence']:,}; load average "
           f"{report['throughput_per_cpu_second']['load_average']} (2 shared cores).\n\n"
           f"Training corpus: {report['train_examples']} examples; evaluation split: {report['examples']}.\n")
    write(result_name, report, md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "eval"))
