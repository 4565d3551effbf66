"""The report: summary rows per task kind, language, opening shape and noise; the machine the
run used; the printed table."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from tests.benchmarks.tasks.customer import Outcome
from tests.benchmarks.tasks.phrases import LANGUAGES, TRANSCRIPTS

ROOT = Path(__file__).resolve().parents[3]


def _row(group: list[Outcome]) -> dict[str, Any]:
    ok = [o for o in group if o.done and not o.handoff]
    return {
        "tasks": len(group),
        "completed_without_handoff": len(ok),
        "share": round(len(ok) / max(1, len(group)), 4),
        "handoffs": sum(o.handoff for o in group),
        "avg_turns": round(sum(o.turns for o in group) / max(1, len(group)), 2),
        "avg_turns_completed": round(sum(o.turns for o in ok) / max(1, len(ok)), 2),
    }


def summarise(outcomes: list[Outcome], transcripts: int = TRANSCRIPTS) -> dict[str, Any]:
    scripts = [o for o in outcomes if o.kind == "script"]
    escalation = [o for o in outcomes if o.kind == "escalation script"]
    generated = [o for o in outcomes if "script" not in o.kind]
    rows: dict[str, dict[str, Any]] = {}
    if scripts:
        rows["scripts (hand-written)"] = _row(scripts)
    for kind in ("booking", "reschedule", "cancel", "order_status", "faq"):
        for lang in LANGUAGES:
            group = [o for o in generated if o.kind == kind and o.language == lang]
            if group:
                rows[f"{kind} {lang}"] = _row(group)
    for lang in LANGUAGES:
        rows[f"generated {lang}"] = _row([o for o in generated if o.language == lang])
    booking = [o for o in generated if o.kind == "booking"]
    for shape in sorted({o.shape for o in booking}):
        rows[f"booking, opening gives {shape}"] = _row([o for o in booking if o.shape == shape])
    rows["generated, with noise"] = _row([o for o in generated if o.noisy])
    rows["generated, without noise"] = _row([o for o in generated if not o.noisy])
    rows["generated, all"] = _row(generated)
    failed = [o for o in generated if not (o.done and not o.handoff)]
    return {
        "generated": _row(generated),
        "scripts": _row(scripts) if scripts else None,
        "escalation_scripts": {
            "scripts": len(escalation),
            "as_designed": sum(o.done for o in escalation),
        },
        "rows": rows,
        "script_failures": [
            {"script": o.label, "error": o.error} for o in scripts + escalation if not o.done
        ],
        "failed": [
            {"task": o.label, "error": o.error, "turns": o.turns, "handoff": o.handoff}
            for o in failed
        ],
        "failed_transcripts": [
            {"task": o.label, "error": o.error, "transcript": o.transcript}
            for o in failed[:transcripts]
        ],
    }


def machine() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "unknown"

    memory = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) // 1024 // 1024} GiB"
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
        "commit": git("rev-parse", "--short", "HEAD")
        + (" (with uncommitted changes)" if git("status", "--porcelain") else ""),
    }


def print_table(report: dict[str, Any]) -> None:
    print(f"command: {report['command']}")
    m = report["machine"]
    print(
        f"machine: {m['platform']}, {m['cpus']} CPUs, {m['memory']}, Python {m['python']}, "
        f"commit {m['commit']}; seed {report['seed']}; {report['seconds']} s"
    )
    print(f"method: {report['method']}\n")
    print(
        f"{'row':<34} {'tasks':>6} {'no-handoff':>11} {'share':>7} {'handoffs':>9} "
        f"{'turns':>6} {'turns ok':>9}"
    )
    for name, row in report["rows"].items():
        print(
            f"{name:<34} {row['tasks']:>6} {row['completed_without_handoff']:>11} "
            f"{row['share']:>7.1%} {row['handoffs']:>9} {row['avg_turns']:>6} "
            f"{row['avg_turns_completed']:>9}"
        )
    esc = report["escalation_scripts"]
    if esc["scripts"]:
        print(f"\nescalation scripts ending in a handoff as designed: {esc['as_designed']}/"
              f"{esc['scripts']}")  # fmt: skip
    for miss in report["script_failures"]:
        print(f"  script failed: {miss['script']}: {miss['error']}")
    print(f"\nfailed generated tasks ({len(report['failed'])}):")
    for miss in report["failed"]:
        print(f"  {miss['task']}  -> {miss['error']} ({miss['turns']} turns)")
