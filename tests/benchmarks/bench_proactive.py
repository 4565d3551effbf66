"""Proactive messages at volume (issue 14): 100,000 booking reminders due at once, drained by
the embedded mode and by 1 and 3 worker processes over Redis + PostgreSQL against the loopback
fake Telegram and Viber, with the outbound pacing at 1,000 messages/s per bot; then 3,000 at
Telegram's default 30/s to show the pace is kept (the fake answers 429 beyond it); then the
scheduler's own cost per message (claim + decide + commit) timed alone.

    python -m tests.benchmarks.bench_proactive               # the full run (make bench-proactive)
    python -m tests.benchmarks.bench_proactive --jobs 2000   # a quick check

Reminders are scheduled through `bots.proactive.trigger` (see bench_proactive_seed). Figures:
messages/s (delivered at the fakes over the sending time), time to drain (from the processes'
start to the last message), duplicates and lost (counted per job at the fakes), cap violations
(more distinct messages to a customer than the topic's cap, at the fakes and in the decisions),
429s and the busiest second at each fake, CPU per message. Prints a table and writes JSON to
``--out`` (default ``$BENCH_OUT/proactive.json``, ``proactive-<jobs>.json`` for other sizes).
Exits 1 when a message was lost or doubled, a cap broken or a 429 provoked.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bots.proactive import Scenarios, load_scenarios  # noqa: E402
from bots.proactive.loader import BUNDLED  # noqa: E402
from tests.benchmarks.bench_proactive_overhead import scheduler_overhead  # noqa: E402
from tests.benchmarks.bench_proactive_procs import (  # noqa: E402
    PG_URL,
    BenchPostgres,
    PgDatabases,
    machine,
)
from tests.benchmarks.bench_proactive_run import Drain, drain  # noqa: E402
from tests.benchmarks.bench_proactive_seed import Plan, seed  # noqa: E402

FULL = 100_000
MODES = {"embedded": 0, "w1": 1, "w3": 3}


def commit() -> str | None:
    """The code measured: ROOT/COMMIT (a snapshot made with `git archive`) or git's HEAD, with
    "+dirty" when the working tree differs from it."""
    stamp = ROOT / "COMMIT"
    if stamp.exists():
        return stamp.read_text().strip()
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, check=True
        ).stdout.decode()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=ROOT).returncode != 0
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.strip() + ("+dirty" if dirty else "")


def migrate(url: str) -> None:
    env = {**os.environ, "OMNIRELAY_DATABASE_URL": url}
    cmd = [sys.executable, "-m", "bots.cli", "db", "upgrade"]
    subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True)


class Stores:
    """Seeded stores, made once per (plan, backend) and copied for each drain."""

    def __init__(self, root: Path, scenarios: Scenarios, pg: PgDatabases) -> None:
        self.root = root
        self.scenarios = scenarios
        self.pg = pg
        self.made: dict[tuple[str, int, str], str] = {}
        self.seconds: dict[str, float] = {}

    async def get(self, plan: Plan, backend: str, tag: str) -> str:
        """A SQLite file path or a PostgreSQL database name holding ``plan``'s jobs."""
        key = (backend, plan.jobs, ",".join(plan.platforms))
        if key in self.made:
            return self.made[key]
        started = time.monotonic()
        if backend == "sqlite":
            path = self.root / f"seed-{tag}.db"
            url, found = f"sqlite+aiosqlite:///{path}", str(path)
        else:
            url = await self.pg.create(f"seed_{tag}")
            found = self.pg.name(url)
        migrate(url)
        await seed(url, plan, self.scenarios)
        took = time.monotonic() - started
        self.seconds[f"{backend} {tag}"] = round(took, 1)
        print(f"seeded {plan.jobs} reminders ({backend}, {tag}) in {took:.0f} s", flush=True)
        self.made[key] = found
        return found

    async def url(self, plan: Plan, backend: str, tag: str) -> str:
        """A fresh copy to use up (the scheduler-alone measurement)."""
        found = await self.get(plan, backend, tag)
        if backend == "sqlite":
            copy = self.root / f"copy-{tag}.db"
            await asyncio.to_thread(shutil.copyfile, found, copy)
            return f"sqlite+aiosqlite:///{copy}"
        return await self.pg.create(f"copy_{tag}", template=found)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="omnirelay-bench-proactive-"))
    model = _model(args, root)
    scenarios = load_scenarios(BUNDLED)
    private = BenchPostgres() if args.postgres == "private" else None
    if private is not None:
        await private.init()
    pg = PgDatabases(private.url() if private else PG_URL, private)
    stores = Stores(root, scenarios, pg)
    extra = dict(kv.split("=", 1) for kv in args.env)
    rates = {"telegram": args.rate, "viber": args.rate}
    drains: list[dict[str, Any]] = []
    try:
        plan = Plan(args.jobs)
        for mode in filter(None, args.modes.split(",")):
            workers = MODES[mode]
            backend = "sqlite" if workers == 0 else "postgresql"
            seeded = await stores.get(plan, backend, "main")
            d = Drain(
                "embedded" if workers == 0 else "workers", workers, plan, seeded,
                root / mode, model, rates, rates, args.stall, extra, args.profile_service,
            )  # fmt: skip
            drains.append(await _one(d, pg))
        if args.pacing_jobs:
            drains.append(await _pacing(args, stores, root, model, extra, pg))
        overhead = await _overheads(args, stores, scenarios, pg) if args.overhead_jobs else []
    finally:
        await pg.drop_all()
        if private is not None:
            await private.destroy()
    return {
        "benchmark": "proactive messages (issue 14)",
        "command": " ".join(["python -m tests.benchmarks.bench_proactive", *sys.argv[1:]]),
        "machine": machine(),
        "commit": commit(),
        "postgres": "private cluster" if private else "shared server",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seeding_s": stores.seconds,
        "drains": drains,
        "scheduler_alone": overhead,
    }


async def _one(d: Drain, pg: PgDatabases) -> dict[str, Any]:
    print(f"draining {d.plan.jobs} reminders: {d.label}, pace {d.service_rates}", flush=True)
    result = await drain(d, pg)
    print(
        f"  {result['ended']}: {result['delivered']} delivered, "
        f"{result['messages_per_s']}/s, {result['time_to_drain_s']} s",
        flush=True,
    )
    return result


async def _pacing(
    args: argparse.Namespace,
    stores: Stores,
    root: Path,
    model: Path,
    extra: dict[str, str],
    pg: PgDatabases,
) -> dict[str, Any]:
    """Telegram only, at the service's default pace; the fake refuses beyond 30/s (+10%)."""
    plan = Plan(args.pacing_jobs, platforms=("telegram",))
    workers = MODES[args.pacing_mode]
    backend = "sqlite" if workers == 0 else "postgresql"
    seeded = await stores.get(plan, backend, "pacing")
    d = Drain(
        "embedded" if workers == 0 else "workers", workers, plan, seeded,
        root / f"pacing-{args.pacing_mode}", model, {"telegram": 30.0}, None, args.stall, extra,
        args.profile_service,
    )  # fmt: skip
    result = await _one(d, pg)
    result["check"] = "pacing at the default 30/s"
    return result


async def _overheads(
    args: argparse.Namespace, stores: Stores, scenarios: Scenarios, pg: PgDatabases
) -> list[dict[str, Any]]:
    plan = Plan(args.overhead_jobs)
    out = []
    for backend in ("sqlite", "postgresql"):
        url = await stores.url(plan, backend, f"alone_{backend[:2]}")
        profile = (
            Path(args.out_dir) / f"proactive-scheduler-{backend}.prof" if args.profile else None
        )
        result = await scheduler_overhead(
            url, scenarios, pg=pg if backend == "postgresql" else None, profile=profile
        )
        print(f"scheduler alone ({result['backend']}): {result}", flush=True)
        out.append(result)
    return out


def _model(args: argparse.Namespace, root: Path) -> Path:
    if args.model:
        return Path(args.model).resolve()
    path = root / "nlu.model"
    cmd = [sys.executable, "-m", "bots.cli", "nlu", "train", "--out", str(path)]
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True)
    return path


def failures(report: dict[str, Any]) -> list[str]:
    """What broke a promise: lost, doubled, over a cap, a 429, a drain that did not finish."""
    out = []
    for d in report["drains"]:
        for key in ("lost", "duplicates", "cap_violations"):
            if d[key]:
                out.append(f"{d['mode']}: {key} = {d[key]}")
        if d["ended"] != "drained":
            out.append(f"{d['mode']}: {d['ended']}")
        for name, p in d["platforms"].items():
            if p["refused_429"]:
                out.append(f"{d['mode']}: {p['refused_429']} sends refused by the fake {name}")
    return out


def print_table(report: dict[str, Any]) -> None:
    print(f"\n{report['command']}\n{report['machine']}, PostgreSQL: {report['postgres']}")
    print(
        f"{'mode':31} {'pace/s':>6} {'jobs':>7} {'sent':>7} {'msg/s':>6} {'drain s':>7} "
        f"{'1st s':>5} {'dup':>3} {'lost':>4} {'cap':>3} {'429':>3} {'max1s':>5} {'cpu ms':>6} "
        f"{'pg ms':>5} {'load':>9}"
    )
    for d in report["drains"]:
        pace = int(next(iter(d["platforms"].values()))["rate_per_s"])
        refused = sum(p["refused_429"] for p in d["platforms"].values())
        busiest = max(p["max_in_any_1s"] for p in d["platforms"].values())
        pg = d["db_server_cpu_ms_per_message"]
        load = "-".join(f"{x:.1f}" for x in d["load_average"])
        print(
            f"{d['mode'][:31]:31} {pace:>6} {d['jobs']:>7} {d['delivered']:>7} "
            f"{d['messages_per_s']:>6} {d['time_to_drain_s']:>7} "
            f"{d['first_message_after_s']:>5} {d['duplicates']:>3} {d['lost']:>4} "
            f"{d['cap_violations']:>3} {refused:>3} {busiest:>5} "
            f"{d['service_cpu_ms_per_message']:>6} {pg if pg is not None else '-':>5} {load:>9}"
        )
    for o in report["scheduler_alone"]:
        server = o["db_server_cpu_ms_per_message"]
        print(
            f"scheduler alone, {o['backend']}: {o['decided']} decided in {o['wall_s']} s "
            f"({o['decided_per_s']}/s), {o['cpu_ms_per_message']} ms CPU per message"
            + (f" + {server} ms in PostgreSQL" if server is not None else "")
        )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--jobs", type=int, default=FULL, help="reminders per drain")
    p.add_argument("--modes", default="embedded,w1,w3", help="of embedded, w1, w3")
    p.add_argument("--rate", type=float, default=1000.0, help="pace per bot, messages/s")
    p.add_argument("--pacing-jobs", type=int, help="the 30/s run (default: 3%% of --jobs)")
    p.add_argument("--pacing-mode", default="embedded", choices=sorted(MODES))
    p.add_argument("--overhead-jobs", type=int, help="scheduler alone (default: 10%% of --jobs)")
    p.add_argument("--profile", action="store_true", help="cProfile the scheduler alone")
    p.add_argument("--profile-service", action="store_true", help="run the service under cProfile")
    p.add_argument("--stall", type=float, default=120.0, help="give up after this long idle")
    p.add_argument("--env", action="append", default=[], help="KEY=VALUE for the services")
    p.add_argument("--model", help="a trained NLU model (default: train one)")
    p.add_argument(
        "--postgres",
        choices=["private", "shared"],
        default="private",
        help="a throw-away cluster of its own, or the shared server (OMNIRELAY_TEST_POSTGRES_URL)",
    )
    p.add_argument("--out", help="JSON report path")
    args = p.parse_args(argv)
    if args.pacing_jobs is None:
        args.pacing_jobs = max(300, args.jobs * 3 // 100)
    if args.overhead_jobs is None:
        args.overhead_jobs = max(1000, args.jobs // 10)
    out_dir = os.environ.get("BENCH_OUT", "bench-results")
    name = "proactive.json" if args.jobs == FULL else f"proactive-{args.jobs}.json"
    args.out = args.out or str(Path(out_dir) / name)
    args.out_dir = str(Path(args.out).parent)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    report = asyncio.run(run(args))
    print_table(report)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"written to {args.out}")
    broken = failures(report)
    for line in broken:
        print(f"FAIL {line}")
    if broken:
        sys.exit(1)


if __name__ == "__main__":
    main()
