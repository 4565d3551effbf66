"""Evaluation: intent and entity metrics, latency, cross-validation, confusion-matrix plot."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold

from nlu.model import BuiltinModel, train_data
from nlu.training_data import Example, TrainingData
from nlu.types import FALLBACK_INTENT, OUT_OF_SCOPE_INTENT, ParseResult

EntityKey = tuple[int, int, int, str]


def _prf(p: float, r: float, f: float, n: int) -> dict[str, float | int]:
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "support": n}


def intent_metrics(gold: Sequence[str], pred: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro/weighted F1 and per-intent P/R/F1 (``nlu_fallback`` counts as a label)."""
    labels = sorted(set(gold))
    p, r, f, n = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    _, _, wf, _ = precision_recall_fscore_support(
        gold, pred, labels=labels, average="weighted", zero_division=0
    )
    per = {lab: _prf(p[i], r[i], f[i], int(n[i])) for i, lab in enumerate(labels)}
    acc = float(np.mean([g == q for g, q in zip(gold, pred, strict=True)])) if gold else 0.0
    return {
        "accuracy": round(acc, 4),
        "macro_f1": round(float(np.mean(f)) if len(f) else 0.0, 4),
        "weighted_f1": round(float(wf), 4),
        "per_intent": per,
    }


def entity_metrics(gold: set[EntityKey], pred: set[EntityKey]) -> dict[str, Any]:
    """Micro and per-type P/R/F1 over entity mentions; a hit needs the exact span and type."""

    def score(g: set[EntityKey], q: set[EntityKey]) -> tuple[float, float, float]:
        tp = len(g & q)
        prec = tp / len(q) if q else 0.0
        rec = tp / len(g) if g else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        return prec, rec, f1

    mp, mr, mf = score(gold, pred)
    per: dict[str, Any] = {}
    for typ in sorted({k[3] for k in gold | pred}):
        g = {k for k in gold if k[3] == typ}
        q = {k for k in pred if k[3] == typ}
        per[typ] = _prf(*score(g, q), len(g))
    return {
        "micro_precision": round(mp, 4),
        "micro_recall": round(mr, 4),
        "micro_f1": round(mf, 4),
        "per_type": per,
    }


def _predicted_intent(result: ParseResult, has_oos: bool) -> str:
    # A fallback on an out-of-scope example is the right answer.
    if result.intent == FALLBACK_INTENT and has_oos:
        return OUT_OF_SCOPE_INTENT
    return result.intent


def evaluate_examples(
    model: BuiltinModel, examples: Sequence[Example], *, timing: bool = True
) -> dict[str, Any]:
    """Parse every example; return the full report (see INTERFACE.md for the fields)."""
    texts = [e.text for e in examples]
    latencies: list[float] = []
    results: list[ParseResult] = []
    for text in texts:
        t0 = time.perf_counter()
        results.append(model.parse_sync(text))
        latencies.append((time.perf_counter() - t0) * 1000)
    return build_report(model, examples, results, latencies if timing else [])


def build_report(
    model: BuiltinModel | None,
    examples: Sequence[Example],
    results: Sequence[ParseResult],
    latencies: Sequence[float],
) -> dict[str, Any]:
    """Metrics from examples and their parse results."""
    gold = [e.intent for e in examples]
    has_oos = OUT_OF_SCOPE_INTENT in gold
    pred = [_predicted_intent(r, has_oos) for r in results]
    report = intent_metrics(gold, pred)
    gold_ents = {(i, s.start, s.end, s.entity) for i, e in enumerate(examples) for s in e.entities}
    types = {k[3] for k in gold_ents}
    pred_ents = {
        (i, x.start, x.end, x.entity)
        for i, r in enumerate(results)
        for x in r.entities
        if x.start is not None and x.end is not None and x.entity in types
    }
    report["entities"] = entity_metrics(gold_ents, pred_ents)
    report["parse_ms_p50"] = round(float(np.percentile(latencies, 50)), 3) if latencies else None
    report["parse_ms_p99"] = round(float(np.percentile(latencies, 99)), 3) if latencies else None
    report["examples"] = len(examples)
    report["fallback_rate"] = round(
        float(np.mean([r.intent == FALLBACK_INTENT for r in results])) if results else 0.0, 4
    )
    if model is not None:
        report["threshold"] = round(model.threshold, 4)
        report["model_data_hash"] = model.meta.get("data_hash")
    labels = sorted(set(gold) | set(pred))
    report["confusion"] = {
        "labels": labels,
        "matrix": confusion_matrix(gold, pred, labels=labels).tolist(),
    }
    report["errors"] = [
        {"text": e.text, "intent": e.intent, "predicted": p, "confidence": round(r.confidence, 4)}
        for e, p, r in zip(examples, pred, results, strict=True)
        if p != e.intent
    ][:200]
    return report


def cross_validate(
    data: TrainingData, folds: int, *, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Stratified K-fold: train on K-1 folds, parse the held-out fold, pool all predictions."""
    if folds < 2:
        raise ValueError("--cross-validation needs K >= 2")
    labels = [e.intent for e in data.examples]
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    examples: list[Example] = []
    results: list[ParseResult] = []
    latencies: list[float] = []
    for k, (tr, te) in enumerate(skf.split(np.zeros(len(labels)), labels), start=1):
        if progress:
            progress(f"fold {k}/{folds}: training on {len(tr)}, testing on {len(te)}")
        part = TrainingData(
            [data.examples[i] for i in tr], data.synonyms, data.regexes, data.lookups
        )
        model = train_data(part)
        for i in te:
            t0 = time.perf_counter()
            results.append(model.parse_sync(data.examples[i].text))
            latencies.append((time.perf_counter() - t0) * 1000)
            examples.append(data.examples[i])
    report = build_report(None, examples, results, latencies)
    report["cross_validation_folds"] = folds
    return report


def format_table(report: dict[str, Any]) -> str:
    """Plain-text per-intent and per-entity-type table."""
    lines = [f"{'intent':<28}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}"]
    for name, m in report["per_intent"].items():
        lines.append(
            f"{name:<28}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['f1']:>8.3f}{m['support']:>9}"
        )
    lines.append(
        f"accuracy {report['accuracy']:.4f}  macro F1 {report['macro_f1']:.4f}  "
        f"weighted F1 {report['weighted_f1']:.4f}  examples {report['examples']}"
    )
    ents = report["entities"]
    if ents["per_type"]:
        lines.append("")
        lines.append(f"{'entity':<28}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}")
        for name, m in ents["per_type"].items():
            lines.append(
                f"{name:<28}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['f1']:>8.3f}"
                f"{m['support']:>9}"
            )
        lines.append(
            f"entities micro P {ents['micro_precision']:.4f} R {ents['micro_recall']:.4f} "
            f"F1 {ents['micro_f1']:.4f}"
        )
    if report.get("parse_ms_p50") is not None:
        p50, p99 = report["parse_ms_p50"], report["parse_ms_p99"]
        lines.append(f"parse latency p50 {p50:.3f} ms, p99 {p99:.3f} ms")
    return "\n".join(lines)


def plot_confusion(report: dict[str, Any], path: str | Path) -> None:
    """Draw the confusion matrix to a PNG (matplotlib, headless Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = report["confusion"]["labels"]
    matrix = np.asarray(report["confusion"]["matrix"], dtype=float)
    rows = matrix.sum(axis=1, keepdims=True)
    norm = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    size = max(6.0, 0.32 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    try:
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"accuracy {report['accuracy']:.3f}, macro F1 {report['macro_f1']:.3f}")
        if len(labels) <= 30:
            for i in range(len(labels)):
                for j in range(len(labels)):
                    if matrix[i, j]:
                        color = "white" if norm[i, j] > 0.5 else "black"
                        ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=6,
                                color=color)  # fmt: skip
        fig.tight_layout()
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)
