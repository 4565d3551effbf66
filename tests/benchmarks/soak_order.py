"""`make soak-order`: the ordering tests, many times in a row, on a machine kept busy.

Runs `test_200_customers_each_in_order` (embedded and scale-out) and
`test_two_worker_processes_share_the_stream_in_order` ``--iterations`` times (default 20),
each time in a fresh pytest process, with ``--burners`` busy-loop Python processes beside them
(default: one per core). Stops at the first failure. Prints the pass counts, the load average
and the duration, and writes them as JSON to ``--out``.

The burners are plain Python loops (`stress-ng` is not installed everywhere); they are killed
when the run ends, however it ends, and each also stops by itself once its parent is gone.

    python tests/benchmarks/soak_order.py --iterations 20 --out bench-results/soak-order.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TESTS = [
    "tests/bots/test_concurrency.py::test_200_customers_each_in_order",
    "tests/bots/test_scaleout_processes.py::test_two_worker_processes_share_the_stream_in_order",
]
# a busy loop that ends by itself when the soak runner is gone (even after a SIGKILL)
BURNER = """
import os
parent = os.getppid()
while os.getppid() == parent:
    for _ in range(2_000_000):
        pass
"""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_signal)  # so `finally` kills the burners
    burners = [_burner() for _ in range(args.burners)]
    started = time.monotonic()
    iterations: list[dict[str, Any]] = []
    try:
        for i in range(1, args.iterations + 1):
            result = _iteration(i, args.iterations)
            iterations.append(result)
            if not result["passed"]:
                break
    finally:
        for proc in burners:
            proc.kill()
        for proc in burners:
            proc.wait()
    report = _report(args, iterations, time.monotonic() - started)
    _print_summary(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0 if report["passed"] else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--burners", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "soak-order.json")
    return parser


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _burner() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", BURNER], stdin=subprocess.DEVNULL)


def _iteration(i: int, total: int) -> dict[str, Any]:
    """One pytest run of the tests; CI=1 so that a missing Redis or PostgreSQL fails."""
    with tempfile.TemporaryDirectory(prefix="soak-order-") as tmp:
        junit = Path(tmp) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        cmd += [f"--junitxml={junit}", *TESTS]
        began = time.monotonic()
        proc = subprocess.run(
            cmd, cwd=ROOT, env={**os.environ, "CI": "1"}, capture_output=True, text=True
        )
        took = time.monotonic() - began
        outcomes = _outcomes(junit)
    load = os.getloadavg()
    passed = proc.returncode == 0 and bool(outcomes) and set(outcomes.values()) == {"passed"}
    print(
        f"iteration {i}/{total}: {'passed' if passed else 'FAILED'} in {took:.1f} s, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        flush=True,
    )
    result: dict[str, Any] = {
        "iteration": i,
        "passed": passed,
        "seconds": round(took, 1),
        "loadavg": [round(x, 2) for x in load],
        "tests": outcomes,
    }
    if not passed:
        result["output_tail"] = (proc.stdout + proc.stderr)[-20_000:]
        print(result["output_tail"])
    return result


def _outcomes(junit: Path) -> dict[str, str]:
    """Test id -> "passed" | "failed" | "error" | "skipped", from pytest's JUnit XML."""
    if not junit.exists():
        return {}
    outcomes: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        outcome = "passed"
        for tag in ("failure", "error", "skipped"):
            if case.find(tag) is not None:
                outcome = "failed" if tag == "failure" else tag
        outcomes[name] = outcome
    return outcomes


def _report(
    args: argparse.Namespace, iterations: list[dict[str, Any]], took: float
) -> dict[str, Any]:
    passes: Counter[str] = Counter()
    for it in iterations:
        passes.update(name for name, outcome in it["tests"].items() if outcome == "passed")
    loads = [it["loadavg"][0] for it in iterations]
    return {
        "tests": TESTS,
        "iterations_asked": args.iterations,
        "iterations_run": len(iterations),
        "iterations_passed": sum(1 for it in iterations if it["passed"]),
        "passed": len(iterations) == args.iterations and all(it["passed"] for it in iterations),
        "burners": args.burners,
        "cpus": os.cpu_count(),
        "passes_per_test": dict(sorted(passes.items())),
        "loadavg_1min_max": max(loads, default=None),
        "loadavg_1min_mean": round(sum(loads) / len(loads), 2) if loads else None,
        "seconds": round(took, 1),
        "python": sys.version.split()[0],
        "iterations": iterations,
    }


def _print_summary(report: dict[str, Any]) -> None:
    verdict = "PASSED" if report["passed"] else "FAILED"
    print(
        f"soak-order {verdict}: {report['iterations_passed']}/{report['iterations_asked']} "
        f"iterations passed in {report['seconds']:.0f} s with {report['burners']} CPU burners "
        f"on {report['cpus']} CPUs; 1-min load average max {report['loadavg_1min_max']}, "
        f"mean {report['loadavg_1min_mean']}"
    )
    for name, count in report["passes_per_test"].items():
        print(f"  {count:3d} passes  {name}")


if __name__ == "__main__":
    raise SystemExit(main())
