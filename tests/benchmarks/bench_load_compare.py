"""`bench_load.py --compare OLD_MODEL`: runs alternate between two NLU model files under the
same load (issue 18: the dense model against the sparse-only one), medians side by side."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any


def rss_mb(pid: int) -> float:
    """Resident memory of a process now (MB; Linux; 0 when gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    kb = next((int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS")), 0)
    return round(kb / 1024, 1)


def compare(args: argparse.Namespace) -> None:
    """Alternate runs of ``--compare`` (before) and ``--model`` (after); medians side by side."""
    from tests.benchmarks.bench_load import machine, main_async

    runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    for _ in range(args.rounds):
        for label, path in (("before", args.compare), ("after", args.model)):
            one = argparse.Namespace(**{**vars(args), "model": str(Path(path).resolve())})
            runs[label] += asyncio.run(main_async(one))["results"]
    print(f"{'channel':9} {'C':>4} {'before msg/s':>13} {'after msg/s':>12} {'change':>7} "
          f"{'before p99':>11} {'after p99':>10} {'RSS MB before/after':>20}")  # fmt: skip
    rows = []
    for key in sorted({(r["channel"], r["concurrency"]) for r in runs["after"]}):
        b = [r for r in runs["before"] if (r["channel"], r["concurrency"]) == key]
        a = [r for r in runs["after"] if (r["channel"], r["concurrency"]) == key]
        bm = statistics.median(r["messages_per_s"] for r in b)
        am = statistics.median(r["messages_per_s"] for r in a)
        row = {
            "channel": key[0], "concurrency": key[1], "before_messages_per_s": bm,
            "after_messages_per_s": am, "change": round(am / bm - 1, 4),
            "before_p99_ms": statistics.median(r["p99_ms"] for r in b),
            "after_p99_ms": statistics.median(r["p99_ms"] for r in a),
            "before_rss_mb": max(max(r["rss_mb"] or [0]) for r in b),
            "after_rss_mb": max(max(r["rss_mb"] or [0]) for r in a),
        }  # fmt: skip
        rows.append(row)
        print(f"{key[0]:9} {key[1]:>4} {bm:>13} {am:>12} {row['change']:>+7.1%} "
              f"{row['before_p99_ms']:>11} {row['after_p99_ms']:>10} "
              f"{row['before_rss_mb']:>9}/{row['after_rss_mb']}")  # fmt: skip
    report = {
        "benchmark": "closed-loop load, two models alternating",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "load_average_at_end": list(os.getloadavg()),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "before_model": args.compare,
        "after_model": args.model,
        "summary": rows,
        "runs": runs,
    }
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2))
        print(f"written to {args.out}")
