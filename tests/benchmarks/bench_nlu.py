"""NLU benchmark: BANKING77 and CLINC150 with the built-in model (not part of the test suite).

    python tests/benchmarks/bench_nlu.py --data ../shared/benchmarks/nlu --out results.json

Per dataset: training time, test accuracy and macro-F1; for CLINC150 also in-scope accuracy and
out-of-scope recall at the fallback threshold chosen on its ``val`` split: the best in-scope
accuracy on val that keeps out-of-scope recall on val at ``--min-oos-recall`` (0.70, the target;
0 selects the library's default rule). BANKING77 has no validation split: the model tunes on a
stratified 15% hold-out of ``train`` and then retrains on all of it. Latency: single-message
``parse_sync`` p50/p99 over test messages, and batch throughput of ``parse_batch``. Everything
goes through the Rasa YAML loader and the full parse pipeline (classifier, CRF, rule
extractors, language detection). ``bundled`` is the product's own data (``nlu/data``): its
test split's accuracy and the single-message latency of the worker's call (``parse_sync`` with a
reference time and time zone).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from nlu.classifier import ClassifierConfig  # noqa: E402
from nlu.evaluate import intent_metrics  # noqa: E402
from nlu.model import BuiltinModel, train_data  # noqa: E402
from nlu.modelfile import library_versions  # noqa: E402
from nlu.training_data import TrainingData, load_data  # noqa: E402
from nlu.types import FALLBACK_INTENT, OUT_OF_SCOPE_INTENT  # noqa: E402

TARGETS = {  # issue 18
    "bundled_accuracy": 0.92,
    "bundled_language_accuracy": 0.90,  # each of uk, en
    "banking77_accuracy": 0.93,
    "clinc150_in_scope_accuracy": 0.94,
    "clinc150_oos_recall": 0.75,
    "train_seconds": 60.0,  # 10k examples, the vector cache warm
    "retrain_seconds": 10.0,  # the same after adding 10 examples
    "parse_cpu_ms_mean": 3.0,
    "parse_ms_p99": 30.0,
}


def machine_info() -> dict[str, Any]:
    """CPU model, cores, Python and library versions: the context the figures need."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu_model": cpu,
        "cpu_count": os.cpu_count(),
        "usable_cores": usable,
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "libraries": library_versions(),
    }


def threshold_rule(min_oos_recall: float | None) -> str:
    """How the fallback threshold was chosen on validation data (the same for every system)."""
    if min_oos_recall:
        return (
            f"max in-scope accuracy on val with the oos recall on val, standard errors down"
            f" (lower Wilson bound, z={ClassifierConfig().oos_recall_z:g}), >= {min_oos_recall}"
        )
    return "library default (expected accuracy, 25% out-of-scope traffic)"


def single_parse_latency(
    model: BuiltinModel, texts: list[str], passes: int, **kwargs: Any
) -> dict[str, float]:
    """``parse_sync`` of each text, ``passes`` times: p50/p99 (ms) over every parse, and with
    several passes also over each text's fastest parse (robust to other work on the cores)."""
    for t in texts[:50]:  # warm caches
        model.parse_sync(t, **kwargs)
    times: list[list[float]] = [[] for _ in texts]
    cpu0 = time.process_time()
    for _ in range(passes):
        for k, t in enumerate(texts):
            t0 = time.perf_counter()
            model.parse_sync(t, **kwargs)
            times[k].append((time.perf_counter() - t0) * 1000)
    cpu_ms = (time.process_time() - cpu0) * 1000 / max(1, passes * len(texts))
    flat = [x for per_text in times for x in per_text]
    clf = model.classifier
    cascade = getattr(clf, "cascade", None)
    share = (
        float(np.mean([cascade.needs_encoder(clf.score_cheap(t)[0]) for t in texts]))
        if cascade is not None
        else 0.0
    )
    out = {
        "parse_cpu_ms_mean": round(cpu_ms, 3),
        "encoder_share": round(share, 4),  # messages the cascade sends to the encoder
        "parse_ms_mean": round(float(np.mean(flat)), 3),
        "parse_ms_p50": round(float(np.percentile(flat, 50)), 3),
        "parse_ms_p99": round(float(np.percentile(flat, 99)), 3),
        "latency_sample": len(flat),
        "latency_passes": passes,
    }
    if passes > 1:
        best = [min(per_text) for per_text in times]
        out["parse_ms_p50_best_of_passes"] = round(float(np.percentile(best, 50)), 3)
        out["parse_ms_p99_best_of_passes"] = round(float(np.percentile(best, 99)), 3)
    return out


def latency(model: BuiltinModel, texts: list[str], n: int, passes: int = 1) -> dict[str, float]:
    """Single-message latency over ``n`` texts, then batch throughput over all of them."""
    out = single_parse_latency(model, texts[:n], passes)
    t0 = time.perf_counter()
    for i in range(0, len(texts), 256):
        model.parse_batch(texts[i : i + 256])
    batch_s = time.perf_counter() - t0
    out["batch_per_second"] = round(len(texts) / batch_s, 1)
    out["batch_size"] = 256
    return out


VARIANT: dict[str, Any] = {}  # --dense / --dense-weight / --no-cascade, for A/B runs


def classifier_config(min_oos_recall: float | None, pair_window: int | None) -> ClassifierConfig:
    """The library defaults, with the benchmark's threshold rule (and the A/B overrides)."""
    cfg = ClassifierConfig(min_oos_recall=min_oos_recall)
    if pair_window is not None:
        cfg.pair_window = pair_window  # older checkouts (A/B runs) ignore it
    if VARIANT and hasattr(cfg, "dense"):
        cfg.dense.source = VARIANT.get("dense", cfg.dense.source)
        cfg.dense.weight = VARIANT.get("dense_weight", cfg.dense.weight)
        cfg.cascade.enabled = VARIANT.get("cascade", cfg.cascade.enabled)
    return cfg


def retrain_seconds(
    model: BuiltinModel, train: TrainingData, extra: list[Any], cfg: ClassifierConfig
) -> dict[str, Any]:
    """Training again after adding ``extra`` examples, as ``omnirelay nlu train`` does: from
    the previous model (incremental when the tuning can be kept, `nlu.incremental`; the vector
    cache holds the rest): wall seconds, and which training it was."""
    more = dataclasses.replace(train, examples=[*train.examples, *extra])
    t0 = time.perf_counter()
    again = train_data(more, classifier=cfg, previous=model)
    took = round(time.perf_counter() - t0, 2)
    return {"retrain_seconds_plus_10": took, "retrain_kind": again.meta["training"]["kind"]}


def language_accuracy(examples: list[Any], pred: list[str]) -> dict[str, float]:
    """Accuracy per example language (the file's tag)."""
    out = {}
    for lang in sorted({e.language for e in examples if e.language}):
        pairs = [(e.intent, p) for e, p in zip(examples, pred, strict=True) if e.language == lang]
        out[lang] = round(float(np.mean([g == p for g, p in pairs])), 4)
    return out


def run_dataset(
    name: str,
    folder: Path,
    n_latency: int,
    min_oos_recall: float | None = TARGETS["clinc150_oos_recall"],
    passes: int = 1,
    pair_window: int | None = None,
) -> dict[str, Any]:
    """Train on train(.yml), tune on val when present, evaluate on test."""
    train = load_data([folder / "train.yml"])
    val: TrainingData | None = (
        load_data([folder / "val.yml"]) if (folder / "val.yml").exists() else None
    )
    test = load_data([folder / "test.yml"])
    t0 = time.perf_counter()
    cfg = classifier_config(min_oos_recall, pair_window)
    model = train_data(train, val=val, classifier=cfg)
    train_s = time.perf_counter() - t0
    texts = [e.text for e in test.examples]
    gold = [e.intent for e in test.examples]
    results = model.parse_batch(texts)
    raw = [r.ranking[0].name for r in results]  # before the fallback threshold
    final = [r.intent for r in results]
    out: dict[str, Any] = {
        "dataset": name,
        "train_examples": len(train.examples),
        "test_examples": len(texts),
        "intents": len(train.intents),
        "train_seconds": round(train_s, 2),
        "threshold": round(model.threshold, 4),
        "threshold_tuned_on": "val split" if val else "15% hold-out of train",
        "threshold_rule": threshold_rule(min_oos_recall),
        "unknown_power": model.classifier.unknown_power,
        "fallback_base": model.classifier.fallback_base,
        "sim_weight": getattr(model.classifier, "sim_weight", 0.0),
        "cascade": _cascade_info(model),
    }
    if val is None:  # BANKING77: the 10k-example training again with 10 more examples
        out.update(retrain_seconds(model, train, test.examples[:10], cfg))
    has_oos = OUT_OF_SCOPE_INTENT in gold
    if has_oos and val is not None:  # the same figures on val, where the threshold was chosen
        vres = model.parse_batch([e.text for e in val.examples], entities=False)
        pairs = [(r.intent, e.intent) for r, e in zip(vres, val.examples, strict=True)]
        caught = (OUT_OF_SCOPE_INTENT, FALLBACK_INTENT)
        out["val"] = {
            "in_scope_accuracy": round(float(np.mean(
                [p == g for p, g in pairs if g != OUT_OF_SCOPE_INTENT])), 4),
            "oos_recall": round(float(np.mean(
                [p in caught for p, g in pairs if g == OUT_OF_SCOPE_INTENT])), 4),
        }  # fmt: skip
    if has_oos:
        ins = [i for i, g in enumerate(gold) if g != OUT_OF_SCOPE_INTENT]
        oos = [i for i, g in enumerate(gold) if g == OUT_OF_SCOPE_INTENT]
        caught = {OUT_OF_SCOPE_INTENT, FALLBACK_INTENT}
        out["in_scope_accuracy"] = round(float(np.mean([final[i] == gold[i] for i in ins])), 4)
        out["oos_recall"] = round(float(np.mean([final[i] in caught for i in oos])), 4)
        out["in_scope_accuracy_no_threshold"] = round(
            float(np.mean([raw[i] == gold[i] for i in ins])), 4
        )
        pred = [OUT_OF_SCOPE_INTENT if p == FALLBACK_INTENT else p for p in final]
        # The trade-off curve on test, for the README only: the threshold in use was chosen on val.
        # Fallback scores: the confidence discounted for unseen words, as the model falls back.
        clf = model.classifier
        conf = clf.fallback_scores(texts, clf.predict_proba(texts))
        curve = []
        for t in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
            fb = conf < t
            curve.append({
                "threshold": t,
                "in_scope_accuracy": round(float(np.mean(
                    [raw[i] == gold[i] and not fb[i] for i in ins])), 4),
                "oos_recall": round(float(np.mean(
                    [raw[i] == OUT_OF_SCOPE_INTENT or fb[i] for i in oos])), 4),
            })  # fmt: skip
        out["test_operating_points"] = curve
    else:
        pred = raw  # no out-of-scope class: the intent decision is the ranking's top
        out["fallback_rate"] = round(float(np.mean([p == FALLBACK_INTENT for p in final])), 4)
    m = intent_metrics(gold, pred)
    out["accuracy"] = m["accuracy"]
    out["macro_f1"] = m["macro_f1"]
    out["weighted_f1"] = m["weighted_f1"]
    out.update(latency(model, texts, n_latency, passes))
    return out


def run_bundled(passes: int = 5, pair_window: int | None = None) -> dict[str, Any]:
    """The product's own data: train on ``nlu/data/train``, score ``nlu/data/test``, and time
    ``parse_sync`` the way the worker calls it (one message, a reference time and time zone, so
    dates resolve), ``passes`` times over the test messages."""
    from zoneinfo import ZoneInfo

    from nlu.evaluate import build_report
    from nlu.model import bundled_data_path, bundled_test_path

    train = load_data([bundled_data_path()])
    test = load_data([bundled_test_path()])
    t0 = time.perf_counter()
    cfg = classifier_config(None, pair_window)
    model = train_data(train, classifier=cfg)
    train_s = time.perf_counter() - t0
    now, tz = datetime(2026, 11, 20, 10, 0, tzinfo=ZoneInfo("Europe/Kyiv")), "Europe/Kyiv"
    texts = [e.text for e in test.examples]
    results = [model.parse_sync(t, now=now, tz=tz) for t in texts]  # also warms the caches
    report = build_report(model, test.examples, results, [])
    timing = single_parse_latency(model, texts, passes, now=now, tz=tz)
    t1 = time.perf_counter()
    model.parse_batch(texts, now=now, tz=tz)
    batch_s = time.perf_counter() - t1
    return {
        "dataset": "bundled",
        "train_examples": len(train.examples),
        "test_examples": len(texts),
        "intents": len(train.intents),
        "train_seconds": round(train_s, 2),
        "threshold": round(model.threshold, 4),
        "threshold_tuned_on": "15% hold-out of train",
        "accuracy": report["accuracy"],
        "language_accuracy": language_accuracy(
            test.examples,
            [OUT_OF_SCOPE_INTENT if r.intent == FALLBACK_INTENT else r.intent for r in results],
        ),  # fmt: skip (a fallback on an out-of-scope example is right, as in the report)
        "cascade": _cascade_info(model),
        "macro_f1": report["macro_f1"],
        "weighted_f1": report["weighted_f1"],
        "entity_micro_f1": report["entities"]["micro_f1"],
        "fallback_rate": report["fallback_rate"],
        **timing,
        "batch_per_second": round(len(texts) / batch_s, 1),
        "batch_size": len(texts),
    }


def _cascade_info(model: BuiltinModel) -> dict[str, float] | None:
    cascade = getattr(model.classifier, "cascade", None)
    if cascade is None:
        return None
    return {"gate": round(cascade.gate, 4), **{k: round(v, 4) for k, v in cascade.info.items()}}


def table(rows: list[dict[str, Any]]) -> str:
    """The README table."""
    head = (
        f"{'dataset':<11}{'train s':>8}{'acc':>8}{'macroF1':>9}{'in-scope':>10}{'oos rec':>9}"
        f"{'p50 ms':>8}{'p99 ms':>8}{'batch/s':>9}"
    )
    lines = [head]
    for r in rows:
        ins = f"{r['in_scope_accuracy']:.4f}" if "in_scope_accuracy" in r else "-"
        oos = f"{r['oos_recall']:.4f}" if "oos_recall" in r else "-"
        lines.append(
            f"{r['dataset']:<11}{r['train_seconds']:>8.1f}{r['accuracy']:>8.4f}"
            f"{r['macro_f1']:>9.4f}{ins:>10}{oos:>9}{r['parse_ms_p50']:>8.3f}"
            f"{r['parse_ms_p99']:>8.3f}{r['batch_per_second']:>9.0f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the JSON results."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="folder with banking77/ and clinc150/")
    p.add_argument("--out", default="results.json")
    p.add_argument(
        "--datasets", default="bundled,banking77,clinc150",
        help="comma-separated; bundled = the product's own data in nlu/data",
    )  # fmt: skip
    p.add_argument("--latency-sample", type=int, default=1000)
    p.add_argument("--min-oos-recall", type=float, default=TARGETS["clinc150_oos_recall"])
    p.add_argument(
        "--passes", type=int, default=1,
        help="single-parse passes over the sample (bundled: at least 5); with more than one, "
        "p50/p99 of each message's fastest parse are reported too",
    )  # fmt: skip
    p.add_argument(
        "--pair-window", type=int, default=None,
        help="override ClassifierConfig.pair_window (0: no word pairs), for A/B runs",
    )  # fmt: skip
    p.add_argument("--dense", choices=["none", "static", "encoder"], help="A/B: dense source")
    p.add_argument("--dense-weight", type=float, help="A/B: weight of the dense block")
    p.add_argument("--no-cascade", action="store_true", help="A/B: no encoder model for unsure")
    args = p.parse_args(argv)
    if args.dense:
        VARIANT["dense"] = args.dense
    if args.dense_weight is not None:
        VARIANT["dense_weight"] = args.dense_weight
    if args.no_cascade:
        VARIANT["cascade"] = False
    info = machine_info()
    rows = []
    for name in args.datasets.split(","):
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        if name == "bundled":
            rows.append(run_bundled(max(args.passes, 5), args.pair_window))
            continue
        folder = Path(args.data) / name
        floor = args.min_oos_recall or None
        rows.append(
            run_dataset(name, folder, args.latency_sample, floor, args.passes, args.pair_window)
        )
    print(table(rows))
    info["load_average_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    result = {
        "benchmark": "nlu",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": info,
        "targets": TARGETS,
        "results": rows,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"[bench] written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
