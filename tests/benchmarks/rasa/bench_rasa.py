"""Rasa 3.6 (default DIET pipeline) next to the built-in model on BANKING77 / CLINC150.

Run through ``run.sh`` (it installs Rasa into its own Python 3.10 virtualenv). For each dataset:
``rasa train nlu`` on train.yml (timed), ``rasa run --enable-api`` on a free port, then every
val/test message through ``POST /model/parse`` with the project's own ``RasaHttpModel``. Rasa's
FallbackClassifier is left out of the pipeline so that both systems get their out-of-scope
threshold the same way: chosen on CLINC150's val split by the same function
(``nlu.classifier.choose_threshold``) and the same rule (``--min-oos-recall``, default 0.70: the
best in-scope accuracy on val that keeps out-of-scope recall on val at 0.70).
The built-in model is trained and scored on the same splits in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))

from bench_nlu import TARGETS, machine_info, run_dataset, table, threshold_rule  # noqa: E402

from nlu import RasaHttpModel  # noqa: E402
from nlu.classifier import ClassifierConfig, choose_threshold  # noqa: E402
from nlu.evaluate import intent_metrics  # noqa: E402
from nlu.training_data import load_data  # noqa: E402
from nlu.types import OUT_OF_SCOPE_INTENT, ParseResult  # noqa: E402

# Rasa 3.6's suggested default pipeline (`rasa init`), minus FallbackClassifier (see docstring).
CONFIG = """recipe: default.v1
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: RegexFeaturizer
  - name: LexicalSyntacticFeaturizer
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 4
  - name: DIETClassifier
    epochs: {epochs}
    constrain_similarities: true
  - name: EntitySynonymMapper
  - name: ResponseSelector
    epochs: {epochs}
    constrain_similarities: true
policies: []
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def parse_all(
    url: str, texts: list[str], concurrency: int
) -> tuple[list[ParseResult], list[float]]:
    """Parse every text over HTTP; returns results in order and per-request latencies (ms)."""
    results: list[ParseResult | None] = [None] * len(texts)
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(texts)):
        queue.put_nowait(i)
    async with aiohttp.ClientSession() as session:
        client = RasaHttpModel(url, session=session, timeout=60)

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                t0 = time.perf_counter()
                results[i] = await client.parse(texts[i])
                latencies.append((time.perf_counter() - t0) * 1000)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return [r for r in results if r is not None], latencies


async def wait_ready(url: str, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"{url}/status") as resp:
                    if resp.status == 200 and (await resp.json()).get("model_file"):
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(1)
    raise TimeoutError(f"Rasa at {url} not ready after {deadline_s} s")


def pick_threshold(val: list[ParseResult], gold: list[str], min_oos_recall: float | None) -> float:
    """The built-in model's rule, applied to Rasa's confidences: ``nlu.classifier.choose_threshold``
    (the best in-scope accuracy on val that keeps out-of-scope recall on val at
    ``min_oos_recall``; ``None``: the library's default expected-accuracy rule)."""
    conf = np.array([r.confidence for r in val], dtype=np.float64)
    pred = [r.intent for r in val]
    threshold, _ = choose_threshold(
        conf,
        np.array([p == g for p, g in zip(pred, gold, strict=True)]),
        np.array([g == OUT_OF_SCOPE_INTENT for g in gold]),
        np.array([p == OUT_OF_SCOPE_INTENT for p in pred]),
        oos_weight=ClassifierConfig().oos_weight,
        min_oos_recall=min_oos_recall,
        recall_z=ClassifierConfig().oos_recall_z,
    )
    return threshold


def run_rasa(
    name: str, folder: Path, rasa: str, epochs: int, work: Path, min_oos_recall: float | None
) -> dict[str, Any]:
    config = work / f"{name}-config.yml"
    config.write_text(CONFIG.format(epochs=epochs))
    t0 = time.perf_counter()
    subprocess.run(
        [rasa, "train", "nlu", "--nlu", str(folder / "train.yml"), "--config", str(config),
         "--out", str(work), "--fixed-model-name", name],
        check=True,
    )  # fmt: skip
    train_s = time.perf_counter() - t0
    port = free_port()
    server = subprocess.Popen(
        [rasa, "run", "--enable-api", "--model", str(work / f"{name}.tar.gz"), "--port", str(port)]
    )
    url = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(wait_ready(url, 600))
        test = load_data([folder / "test.yml"])
        texts, gold = [e.text for e in test.examples], [e.intent for e in test.examples]
        t0 = time.perf_counter()
        results, lat = asyncio.run(parse_all(url, texts, concurrency=4))
        per_s = len(texts) / (time.perf_counter() - t0)
        out: dict[str, Any] = {"dataset": name, "train_seconds": round(train_s, 1)}
        pred = [r.intent for r in results]
        if (folder / "val.yml").exists():
            val = load_data([folder / "val.yml"])
            val_res, _ = asyncio.run(parse_all(url, [e.text for e in val.examples], 4))
            thr = pick_threshold(val_res, [e.intent for e in val.examples], min_oos_recall)
            pred = [OUT_OF_SCOPE_INTENT if r.confidence < thr else r.intent for r in results]
            ins = [i for i, g in enumerate(gold) if g != OUT_OF_SCOPE_INTENT]
            oos = [i for i, g in enumerate(gold) if g == OUT_OF_SCOPE_INTENT]
            out["threshold"] = thr
            out["threshold_rule"] = threshold_rule(min_oos_recall)
            out["in_scope_accuracy"] = round(float(np.mean([pred[i] == gold[i] for i in ins])), 4)
            out["in_scope_accuracy_no_threshold"] = round(
                float(np.mean([results[i].intent == gold[i] for i in ins])), 4
            )
            out["oos_recall"] = round(
                float(np.mean([pred[i] == OUT_OF_SCOPE_INTENT for i in oos])), 4
            )
        m = intent_metrics(gold, pred)
        out.update(accuracy=m["accuracy"], macro_f1=m["macro_f1"], weighted_f1=m["weighted_f1"])
        out["parse_ms_p50"] = round(float(np.percentile(lat, 50)), 2)
        out["parse_ms_p99"] = round(float(np.percentile(lat, 99)), 2)
        out["batch_per_second"] = round(per_s, 1)  # HTTP, 4 concurrent requests
        return out
    finally:
        server.terminate()
        server.wait(timeout=60)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--rasa", required=True, help="the rasa executable in its own venv")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--datasets", default="banking77,clinc150")
    p.add_argument(
        "--min-oos-recall", type=float, default=TARGETS["clinc150_oos_recall"],
        help="threshold rule for both systems (0: the library's default rule)",
    )  # fmt: skip
    args = p.parse_args()
    floor = args.min_oos_recall or None
    info = machine_info()
    builtin: list[dict[str, Any]] = []
    rasa: list[dict[str, Any]] = []

    def write() -> None:
        # Written after every dataset: a Rasa run takes hours here, and what finished is kept.
        Path(args.out).write_text(
            json.dumps(
                {
                    "benchmark": "nlu-vs-rasa",
                    "command": " ".join(sys.argv),
                    "machine": info,
                    "rasa_epochs": args.epochs,
                    "threshold_rule": threshold_rule(floor),
                    "builtin": builtin,
                    "rasa": rasa,
                },
                indent=2,
            )
            + "\n"
        )

    with tempfile.TemporaryDirectory(prefix="omnirelay-rasa-") as tmp:
        for name in args.datasets.split(","):
            folder = Path(args.data) / name
            print(f"[bench-rasa] built-in on {name}", file=sys.stderr, flush=True)
            builtin.append(run_dataset(name, folder, 1000, floor))
            write()
            print(f"[bench-rasa] Rasa 3.6 DIET on {name}", file=sys.stderr, flush=True)
            rasa.append(run_rasa(name, folder, args.rasa, args.epochs, Path(tmp), floor))
            write()
    print("built-in:\n" + table(builtin))
    print(f"Rasa 3.6 DIET ({args.epochs} epochs; latency over HTTP):\n" + table(rasa))
    return 0


if __name__ == "__main__":
    sys.exit(main())
