"""Where a message's time goes: bench-load's closed REST loop against the real service, sampled by
py-spy in every service process (not part of `make test`).

    python tests/benchmarks/profile_load.py --mode embedded --out-dir bench-results/profile

For each process it writes py-spy's collapsed stacks (``<role>.txt``) and a flame graph
(``<role>.svg``), both outside git, and prints the frames with the most samples: by own time
(the frame on top of the stack) and inclusive, for this project's packages. Shares are of the
samples py-spy took of running threads (``--idle`` off), so they hold on a busy machine better
than absolute timings; the throughput measured while sampling is printed beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.bench_analytics_load import ensure_model
from tests.benchmarks.bench_load import ROOT, Services, run_load, wait_ready

OURS = ("bots/", "nlu/", "storage/", "handoff/")
ROOTS = ("bots/cli.py", "bots/shutdown.py")  # every sample's bottom frames: no news


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: pip install py-spy (the dev extra has it)")
    return found


def _frame(frame: str) -> tuple[str, str]:
    """``name (path/file.py:12)`` -> (name, path/file.py)."""
    name, _, where = frame.partition(" (")
    return name, where.rsplit(":", 1)[0]


def tops(collapsed: Path, n: int) -> dict[str, Any]:
    """The frames with the most samples in a py-spy raw (collapsed) file."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [_frame(f) for f in stack.split(";")]
        name, path = frames[-1]
        own[f"{name} ({path})"] += samples
        mine = {f"{name} ({path})" for name, path in frames if path.startswith(OURS)}
        for label in {m for m in mine if not m.endswith(tuple(f"({r})" for r in ROOTS))}:
            inclusive[label] += samples

    def share(counter: collections.Counter[str]) -> list[tuple[str, float]]:
        return [(k, round(v / total * 100, 2)) for k, v in counter.most_common(n)] if total else []

    return {"samples": total, "own": share(own), "inclusive_ours": share(inclusive)}


async def _ready_and_warm(base: str, args: argparse.Namespace) -> None:
    async with aiohttp.ClientSession() as session:
        await wait_ready(base, session)
    await run_load(base, "rest", args.concurrency, args.warmup, None)


def _spy(pid: int, fmt: str, output: Path, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    cmd = [py_spy(), "record", "--pid", str(pid), "--rate", str(args.rate), "--nonblocking"]
    cmd += ["--duration", str(int(args.duration)), "--format", fmt, "--output", str(output)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL)


def profile(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="omnirelay-profile-"))
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    services = Services(args.mode, "http://127.0.0.1:9", workdir, Path(args.model).resolve())
    base = services.start()
    roles = ["service"] if args.mode == "embedded" else ["gateway", "worker1", "worker2"]
    spies: list[subprocess.Popen[bytes]] = []
    try:
        asyncio.run(_ready_and_warm(base, args))
        for role, proc in zip(roles, services.procs, strict=False):
            spies.append(_spy(proc.pid, "raw", out / f"{role}.txt", args))
            spies.append(_spy(proc.pid, "flamegraph", out / f"{role}.svg", args))
        load = asyncio.run(run_load(base, "rest", args.concurrency, args.duration, None))
        for spy in spies:
            spy.wait(timeout=args.duration + 60)
    finally:
        for spy in spies:
            if spy.poll() is None:
                spy.kill()
        services.stop()
    return {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "load_average_after": os.getloadavg(),
        "mode": args.mode,
        "concurrency": args.concurrency,
        "messages_per_s": load.get("messages_per_s"),
        "p99_ms": load.get("p99_ms"),
        "processes": {role: tops(out / f"{role}.txt", args.top) for role in roles},
        "files": sorted(str(p) for p in out.glob("*.*")),
    }


def report(doc: dict[str, Any]) -> None:
    print(f"{doc['command']}\n{doc['machine']}, load average after {doc['load_average_after']}")
    print(f"{doc['mode']}: {doc['messages_per_s']} msg/s, p99 {doc['p99_ms']} ms while sampled")
    for role, found in doc["processes"].items():
        print(f"\n{role}: {found['samples']} samples")
        tables = (("own time", found["own"]), ("inclusive, ours", found["inclusive_ours"]))
        for title, rows in tables:
            print(f"  {title}:")
            for label, pct in rows:
                print(f"    {pct:6.2f}%  {label}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=["embedded", "scaleout"], default="embedded")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--model", default=str(ROOT / "models" / "nlu.model"))
    parser.add_argument("--out-dir", default=str(ROOT / "bench-results" / "profile"))
    args = parser.parse_args()
    args.model = str(ensure_model(Path(args.model)))
    doc = profile(args)
    report(doc)
    path = Path(args.out_dir) / f"profile-{args.mode}.json"
    path.write_text(json.dumps(doc, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
