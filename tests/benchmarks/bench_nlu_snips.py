"""SNIPS entity benchmark: the built-in model's entities and intents (not part of the test suite).

    python tests/benchmarks/bench_nlu_snips.py --data ../shared/benchmarks/nlu/snips \
        --out bench-results/nlu-snips.json

Data: the official 2017-06 custom-intent-engines split (13,784 train, 700 test, 7 intents, 39
slot types; ``../shared/benchmarks/nlu/snips/README.md``). The model is trained with the library
defaults through the Rasa YAML loader, exactly as ``omnirelay nlu train`` would.

Entities are scored as ``nlu/evaluate.py`` scores them (``entity_metrics``): a predicted mention
counts only with the exact character span *and* type of a gold mention; micro precision, recall
and F1 over all mentions, and the same per type. Two figures: ``entities`` is the full parse
(CRF plus rule extractors, overlaps resolved as in parsing; rule types that are not SNIPS types
are ignored), ``entities_crf`` the CRF's own output. Intent accuracy is the ranking's top (SNIPS
has no out-of-scope class; ``accuracy_after_fallback`` counts ``nlu_fallback`` as wrong).
Training cost is CPU seconds of this process (``time.process_time``) for the whole training and
for the CRF's fit alone, plus wall seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))

from bench_nlu import machine_info  # noqa: E402

from nlu.evaluate import build_report, entity_metrics  # noqa: E402
from nlu.model import train_data  # noqa: E402
from nlu.normalise import normalise_text  # noqa: E402
from nlu.training_data import load_data  # noqa: E402

TARGETS = {"entity_micro_f1": 0.945, "intent_accuracy": 0.98, "train_cpu_seconds": 60.0}


def _loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _brief(ents: dict[str, Any]) -> dict[str, Any]:
    return {k: ents[k] for k in ("micro_precision", "micro_recall", "micro_f1")}


def run(folder: Path) -> dict[str, Any]:
    """Train on ``train.yml``, evaluate on ``test.yml``; every figure in one dict."""
    train = load_data([folder / "train.yml"])
    test = load_data([folder / "test.yml"])
    cpu0, wall0 = time.process_time(), time.perf_counter()
    model = train_data(train)
    train_cpu, train_wall = time.process_time() - cpu0, time.perf_counter() - wall0
    texts = [e.text for e in test.examples]
    t0 = time.perf_counter()
    results = model.parse_batch(texts)
    parse_s = time.perf_counter() - t0
    report = build_report(model, test.examples, results, [])
    gold_ents = {
        (i, s.start, s.end, s.entity) for i, e in enumerate(test.examples) for s in e.entities
    }
    crf_ents = {
        (i, x.start, x.end, x.entity)
        for i, text in enumerate(texts)
        for x in model.crf.extract(normalise_text(text))
        if x.start is not None and x.end is not None
    }
    top = [r.ranking[0].name for r in results]
    gold = [e.intent for e in test.examples]
    return {
        "dataset": "snips (2017-06 custom intent engines, official split)",
        "train_examples": len(train.examples),
        "test_examples": len(texts),
        "entity_types": len(train.entity_types),
        "test_mentions": len(gold_ents),
        "scoring": "exact character span + type (nlu.evaluate.entity_metrics), micro over mentions",
        "entities": report["entities"],
        "entities_crf": entity_metrics(gold_ents, crf_ents),
        "intent_accuracy": round(
            sum(p == g for p, g in zip(top, gold, strict=True)) / len(gold), 4
        ),
        "accuracy_after_fallback": report["accuracy"],
        "train_cpu_seconds": round(train_cpu, 2),
        "train_wall_seconds": round(train_wall, 2),
        "crf_fit_cpu_seconds": getattr(model.crf, "fit_cpu_seconds", None),
        "crf_params": dict(model.crf.params),
        "parse_per_second": round(len(texts) / parse_s, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/benchmarks/nlu/snips")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    load0 = _loadavg()
    out = run(args.data)
    out.update(
        started=started, finished=datetime.now(UTC).isoformat(timespec="seconds"),
        command=" ".join([Path(sys.executable).name, *sys.argv]),
        machine=machine_info(), load_average_start=load0, load_average_end=_loadavg(),
        targets=TARGETS,
    )  # fmt: skip
    ents, crf = out["entities"], out["entities_crf"]
    print(f"{'entity type':<28}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}")
    for name, m in ents["per_type"].items():
        print(
            f"{name:<28}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['f1']:>8.3f}{m['support']:>9}"
        )
    print(
        f"entities (full parse) micro P {ents['micro_precision']:.4f} R {ents['micro_recall']:.4f} "
        f"F1 {ents['micro_f1']:.4f} (target {TARGETS['entity_micro_f1']}); CRF alone "
        f"F1 {crf['micro_f1']:.4f}"
    )
    print(
        f"intent accuracy {out['intent_accuracy']:.4f} (target {TARGETS['intent_accuracy']}), "
        f"after fallback {out['accuracy_after_fallback']:.4f}"
    )
    print(
        f"training {out['train_cpu_seconds']} s CPU ({out['train_wall_seconds']} s wall), CRF fit "
        f"{out['crf_fit_cpu_seconds']} s CPU; load average {load0} -> {out['load_average_end']}"
    )
    out["entities_crf"] = _brief(crf)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
