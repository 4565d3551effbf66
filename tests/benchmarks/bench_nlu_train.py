"""Training time of the built-in model on one benchmark dataset, for before/after comparisons
(not part of the test suite): CPU and wall seconds of `train_data` with the library defaults,
optionally again with 10 more examples (the test split's first ten), and the figures that must
not move (the test split's top-intent accuracy, the threshold, the cascade's gate). With
``--retrain`` the 10-more-examples training runs twice: incremental (from the first model:
`nlu.incremental`, what ``omnirelay nlu train`` does by default) and full (``--full``), each with
its figures, so that the incremental path's accuracy, threshold and gate can be set beside a full
training's on the same data. A root whose ``train_data`` has no ``previous`` (a commit from before
the incremental path) runs the full one only.

CPU seconds count the child processes that training hands work to (`nlu.background`: the
cheap model's SVM and the CRF beside the rest on a second core); ``cpu_main_s`` is this
process's share alone, about the wall time on two idle cores when the children end before it
waits for them (a figure a loaded machine does not distort); ``--sequential`` runs every
part in this process, one after the other, for the comparison; ``digest`` is a hash of the
trained weights and CRF, equal when two runs trained the same model bit for bit.

Compare two commits by running one copy per commit at the same time, so that both see the same
load on a shared machine::

    git archive <commit> nlu | tar -x -C /tmp/before
    python tests/benchmarks/bench_nlu_train.py --data ../shared/benchmarks/nlu/snips \\
        --root /tmp/before & python tests/benchmarks/bench_nlu_train.py \\
        --data ../shared/benchmarks/nlu/snips --root . & wait
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import inspect
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def _loadavg() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def _figures(model: Any, test: Any) -> dict[str, Any]:
    """On the test split but its first ten (the examples the retrainings add): the top intent's
    accuracy, the accuracy of the answer (fallback included), the threshold and the gate."""
    rest = test.examples[10:]
    res = model.parse_batch([e.text for e in rest], entities=False)
    right = [r.ranking[0].name == e.intent for r, e in zip(res, rest, strict=True)]
    out = {"out_of_scope", "nlu_fallback"}  # either answer is right for an out-of-scope message
    answer = [
        r.intent == e.intent or (e.intent in out and r.intent in out)
        for r, e in zip(res, rest, strict=True)
    ]
    cascade = model.classifier.cascade
    return {
        "answers": [r.intent for r in res],  # for `_agreement`, not printed
        "top_intent_accuracy": round(sum(right) / len(right), 4),
        "answer_accuracy": round(sum(answer) / len(answer), 4),
        "threshold": model.threshold,
        "gate": cascade.gate if cascade is not None else None,
    }


def _cpu() -> float:
    """CPU seconds of this process and of its children that have ended (the fits that
    training hands to a second core, `nlu.background`)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _digest(model: Any) -> str:
    """The trained arrays (both SVMs' weights and biases, the CRF's model bytes): equal
    digests are bit-for-bit equal models."""
    h = hashlib.sha256()
    clf = model.classifier
    parts = [clf, clf.cascade.full] if clf.cascade is not None else [clf]
    for part in parts:
        for name in ("_weights", "_bias", "_dense_w"):
            arr = getattr(part, name, None)
            h.update(b"-" if arr is None else arr.tobytes())
    h.update(getattr(model.crf, "_model", None) or b"-")
    return h.hexdigest()[:16]


def _agreement(a: dict[str, Any], b: dict[str, Any], ma: Any, mb: Any) -> dict[str, Any]:
    """How far two models of the same data are apart (a warm-started and an exact refit):
    the share of test messages answered alike and the largest weight difference per SVM."""
    same = [x == y for x, y in zip(a.pop("answers"), b.pop("answers"), strict=True)]
    ca, cb = ma.classifier, mb.classifier
    pairs = [(ca, cb)]
    if ca.cascade is not None and cb.cascade is not None:
        pairs.append((ca.cascade.full, cb.cascade.full))
    diffs = []
    for x, y in pairs:
        wa = [getattr(x, n) for n in ("_weights", "_bias", "_dense_w")]
        wb = [getattr(y, n) for n in ("_weights", "_bias", "_dense_w")]
        d = [float(abs(p - q).max()) for p, q in zip(wa, wb, strict=True) if p is not None]
        diffs.append(round(max(d), 5))
    return {"answers_alike": round(sum(same) / len(same), 4), "max_weight_diff": diffs}


def _split(folder: Path, name: str) -> Path:
    """``name.yml`` in a benchmark folder, or the folder ``name`` (the bundled data: nlu/data)."""
    path = folder / f"{name}.yml"
    return path if path.exists() or not (folder / name).is_dir() else folder / name


@contextlib.contextmanager
def _exact() -> Any:
    """Incremental refits from zero with scikit-learn's solver (`nlu.incremental.WARM`)."""
    from nlu import incremental

    before = getattr(incremental, "WARM", False)
    incremental.WARM = False
    try:
        yield
    finally:
        incremental.WARM = before


def _timed(train: Any, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
    from nlu.model import train_data

    load0 = _loadavg()
    t0, c0, m0 = time.perf_counter(), _cpu(), time.process_time()
    model = train_data(train, **kwargs)
    wall, cpu, main = time.perf_counter() - t0, _cpu() - c0, time.process_time() - m0
    took = {
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "cpu_main_s": round(main, 1),
        "load": [load0, _loadavg()],
    }
    # the CRF's own fit (in its child process on two cores): the other branch of the wall time
    crf_cpu = getattr(model.crf, "fit_cpu_seconds", None)
    return model, {**took, "crf_fit_cpu_s": crf_cpu, "digest": _digest(model)}


def run(
    folder: Path, retrain: bool, incremental_only: bool = False, exact: bool = False
) -> dict[str, Any]:
    from nlu.classifier import ClassifierConfig
    from nlu.model import train_data
    from nlu.training_data import load_data

    train = load_data([_split(folder, "train")])
    test = load_data([_split(folder, "test")])
    val = load_data([folder / "val.yml"]) if (folder / "val.yml").exists() else None
    cfg = ClassifierConfig(min_oos_recall=0.75 if val is not None else None)
    model, took = _timed(train, val=val, classifier=cfg)
    out: dict[str, Any] = {"dataset": folder.name, **took, **_figures(model, test)}
    out.pop("answers")
    if retrain:
        more = dataclasses.replace(train, examples=[*train.examples, *test.examples[:10]])
        if "previous" in inspect.signature(train_data).parameters:
            again, took = _timed(more, val=val, classifier=cfg, previous=model)
            inc = {**took, **_figures(again, test), "training": again.meta.get("training")}
            out["plus_10_incremental"] = inc
            if exact:  # the same retraining with exact refits from zero, and again warm
                with _exact():
                    ref, took = _timed(more, val=val, classifier=cfg, previous=model)
                ref_fig = _figures(ref, test)
                inc.update(_agreement(inc, ref_fig, again, ref))
                out["plus_10_incremental_exact"] = {**took, **ref_fig}
                _, took = _timed(more, val=val, classifier=cfg, previous=model)
                inc["digest_again"] = took["digest"]
            inc.pop("answers", None)
        if not incremental_only:
            again, took = _timed(more, val=val, classifier=cfg)
            out["plus_10_full"] = {**took, **_figures(again, test)}
            out["plus_10_full"].pop("answers")
    return out


def _sequential() -> Any:
    """`nlu.background.inline`, or nothing in a root from before it (always sequential)."""
    try:
        from nlu import background
    except ImportError:
        return contextlib.nullcontext()
    return background.inline()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="one dataset folder (train.yml...)")
    ap.add_argument(
        "--root",
        type=Path,
        default=Path(__file__).resolve().parents[2],
        help="folder whose nlu/ package is timed (a git archive of another commit)",
    )
    ap.add_argument("--retrain", action="store_true", help="train again with 10 more examples")
    ap.add_argument(
        "--incremental-only",
        action="store_true",
        help="with --retrain: the incremental retraining only, not the full one beside it",
    )
    ap.add_argument(
        "--sequential", action="store_true", help="one part after the other on one core"
    )
    ap.add_argument(
        "--compare-exact",
        action="store_true",
        help="with --retrain: the incremental retraining also with exact refits from zero "
        "(scikit-learn, no warm start), how far the two models are apart, and the warm one again "
        "(its digest twice)",
    )
    args = ap.parse_args(argv)
    sys.path.insert(0, str(args.root.resolve()))
    import nlu

    with _sequential() if args.sequential else contextlib.nullcontext():
        out = {
            "root": str(args.root),
            **run(args.data.resolve(), args.retrain, args.incremental_only, args.compare_exact),
        }
    out["sequential"] = args.sequential
    assert nlu.__file__ is not None and nlu.__file__.startswith(str(args.root.resolve()))
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
