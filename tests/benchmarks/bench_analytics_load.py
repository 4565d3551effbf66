"""The cost of writing analytics events in the turn's path: bench-load's embedded REST closed
loop (SQLite + in-process memory) run twice in one go, with the events written and with the
writers switched off (`bench_analytics_serve`, ``BENCH_ANALYTICS_EVENTS=off``), alternating
on/off/on/off so drift on the machine hits both sides alike.

Two figures: throughput, and the service's CPU per message (its user + system time over the
loop, read from /proc, divided by the messages answered). On a shared machine throughput is
mostly the neighbours' load; CPU per message is what the writers add to each message, and
is the figure the <5 % target is judged on when the machine is busy."""

from __future__ import annotations

import asyncio
import bisect
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select

from storage.analytics.models import EVENTS
from storage.analytics.rollups import roll_up
from storage.db import Database
from tests.benchmarks.bench_analytics_serve import slice_on
from tests.benchmarks.bench_load import ROOT, Services, run_load, wait_ready

SERVE = Path(__file__).resolve().with_name("bench_analytics_serve.py")


class SwitchableServices(Services):
    """bench-load's embedded services, started through `bench_analytics_serve`."""

    def __init__(self, events: str, workdir: Path, model: Path, slice_s: float = 0.0) -> None:
        super().__init__("embedded", "http://127.0.0.1:9", workdir, model)
        self.events = events  # on, off or alternate (every other slice_s seconds)
        self.slice_s = slice_s

    def env(self) -> dict[str, str]:
        env = super().env()
        env["BENCH_ANALYTICS_EVENTS"] = self.events
        env.pop("OMNIRELAY_TELEGRAM_TOKEN", None)
        if self.events.startswith("alternate"):
            env["BENCH_ANALYTICS_SLICE"] = str(self.slice_s)
            # no rollup round inside the run: folding is measured on its own (bench_analytics)
            env["OMNIRELAY_ANALYTICS_ROLLUP_INTERVAL"] = "86400"
        return env

    def _spawn(self, cmd: list[str], env: dict[str, str]) -> None:
        if cmd[1:3] == ["-m", "bots.cli"]:
            cmd = [sys.executable, str(SERVE), *cmd[3:]]
        super()._spawn(cmd, env)


def ensure_model(model: Path) -> Path:
    model = model.resolve()
    if not model.exists():
        print(f"training the bundled NLU model into {model} ...", flush=True)
        cmd = [sys.executable, "-m", "bots.cli", "nlu", "train", "--out", str(model)]
        subprocess.run(cmd, check=True, cwd=ROOT)
    return model


async def one_run(events: bool, model: Path, concurrency: int, duration: float) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="omnirelay-bench-analytics-"))
    services = SwitchableServices("on" if events else "off", workdir, model)
    base = services.start()
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(base, session)
        before = _cpu_seconds(services)
        result = await run_load(base, "rest", concurrency, duration, None)
        cpu = _cpu_seconds(services) - before
    finally:
        services.stop()
    result["events"] = "on" if events else "off"
    answered = result.get("messages") or round(result["messages_per_s"] * duration)
    result["service_cpu_ms_per_message"] = round(cpu * 1000 / answered, 3) if answered else None
    return result


def _cpu_seconds(services: Services) -> float:
    """User + system CPU of the service processes so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in services.procs:
        fields = Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / tick


async def overhead(model: Path, concurrency: int, duration: float, rounds: int) -> dict[str, Any]:
    """Throughput with and without event writing; the cost in per cent of the 'off' figure."""
    runs = []
    for _ in range(rounds):
        for events in (True, False):
            r = await one_run(events, model, concurrency, duration)
            print(
                f"  load events={r['events']}: {r['messages_per_s']} msg/s, "
                f"{r['service_cpu_ms_per_message']} ms CPU per message",
                flush=True,
            )
            runs.append(r)
    on = [r["messages_per_s"] for r in runs if r["events"] == "on"]
    off = [r["messages_per_s"] for r in runs if r["events"] == "off"]
    mean_on, mean_off = sum(on) / len(on), sum(off) / len(off)
    cpu_on = _mean([r["service_cpu_ms_per_message"] for r in runs if r["events"] == "on"])
    cpu_off = _mean([r["service_cpu_ms_per_message"] for r in runs if r["events"] == "off"])
    return {
        "channel": "rest",
        "mode": "embedded",
        "concurrency": concurrency,
        "duration_s": duration,
        "switch": "BENCH_ANALYTICS_EVENTS=off (tests/benchmarks/bench_analytics_serve.py)",
        "runs": runs,
        "messages_per_s_on": round(mean_on, 1),
        "messages_per_s_off": round(mean_off, 1),
        "cost_percent": round((mean_off - mean_on) / mean_off * 100, 2) if mean_off else None,
        "cpu_ms_per_message_on": cpu_on,
        "cpu_ms_per_message_off": cpu_off,
        "cpu_cost_percent": round((cpu_on - cpu_off) / cpu_off * 100, 2)
        if cpu_on is not None and cpu_off
        else None,
        "target_percent": 5.0,
    }


async def interleaved(
    model: Path, concurrency: int, duration: float, slice_s: float, calibrate: bool = False
) -> dict[str, Any]:
    """One service whose writers are on and off in ``slice_s``-second slices
    (`bench_analytics_serve.slice_on`: one of each kind in every pair, in a hashed order): the
    machine's neighbours weigh on both halves alike, which separate runs cannot promise. Each
    slice's CPU (read from /proc at its edges) and answers (by the time they came) go to its
    half; the first two slices are warm-up. ``calibrate``: the writers stay off in both halves
    (an A/A run), so the difference read is the method's noise on this machine now."""
    workdir = Path(tempfile.mkdtemp(prefix="omnirelay-bench-analytics-"))
    mode = "alternate-off" if calibrate else "alternate"
    services = SwitchableServices(mode, workdir, model, slice_s)
    base = services.start()
    answered: list[float] = []
    edges: list[tuple[float, float]] = []  # (wall time, service CPU seconds)

    async def read_edges() -> None:
        while True:
            now = time.time()
            await asyncio.sleep((now // slice_s + 1) * slice_s - now)
            edges.append((time.time(), _cpu_seconds(services)))

    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(base, session)
        reader = asyncio.create_task(read_edges())
        try:
            result = await run_load(
                base, "rest", concurrency, duration, None, lambda: answered.append(time.time())
            )
        finally:
            reader.cancel()
    finally:
        services.stop()
    halves = {"on": [0.0, 0, 0.0], "off": [0.0, 0, 0.0]}  # CPU s, answers, seconds
    slices: dict[int, float] = {}  # slice index -> CPU ms per message
    for (t0, cpu0), (t1, cpu1) in list(itertools.pairwise(edges))[2:]:
        index = int((t0 + t1) / 2 // slice_s)
        half = halves["on" if slice_on(index) else "off"]
        n = bisect.bisect_left(answered, t1) - bisect.bisect_left(answered, t0)
        half[0] += cpu1 - cpu0
        half[1] += n
        half[2] += t1 - t0
        if n:
            slices[index] = (cpu1 - cpu0) * 1000 / n
    out: dict[str, Any] = {"mode": mode, "slice_s": slice_s, "p50_ms": result["p50_ms"]}
    for name, (cpu, n, seconds) in halves.items():
        out[name] = {
            "messages": n,
            "seconds": round(seconds, 1),
            "messages_per_s": round(n / seconds, 1) if seconds else None,
            "cpu_ms_per_message": round(cpu * 1000 / n, 3) if n else None,
        }
    on, off = out["on"]["cpu_ms_per_message"], out["off"]["cpu_ms_per_message"]
    out["cpu_cost_percent"] = round((on - off) / off * 100, 2) if on and off else None
    out["pairs"], out["cpu_cost_percent_median_of_pairs"] = _median_of_pairs(slices)
    if not calibrate:
        out["folding"] = await _fold_afterwards(workdir / "bench.db")
        fold = out["folding"]["cpu_ms_per_message"]
        out["total_cost_percent"] = round((on - off + fold) / off * 100, 2) if on and off else None
    return out


def _median_of_pairs(slices: dict[int, float]) -> tuple[int, float | None]:
    """The median over the slice pairs (`slice_on`: one of each kind) of the on slice's CPU
    per message against its partner's: one slice that a neighbour's burst or a collection hit
    moves the sums of the halves, not the median."""
    costs = []
    for pair in sorted({i // 2 for i in slices}):
        a, b = slices.get(2 * pair), slices.get(2 * pair + 1)
        if a is not None and b is not None:
            on, off = (a, b) if slice_on(2 * pair) else (b, a)
            costs.append((on - off) / off * 100)
    return len(costs), round(statistics.median(costs), 2) if costs else None


async def _fold_afterwards(path: Path) -> dict[str, Any]:
    """The rollups' share: the run's events (no round ran during it) folded here after it,
    timed in CPU (this process does nothing else meanwhile), per message that wrote events."""
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        messages = await db.run(
            lambda s: s.scalar(select(func.count()).where(EVENTS.c.kind == "message.in")),
            write=False,
        )
        before = time.process_time()
        folded = await roll_up(db)
        cpu = time.process_time() - before
    finally:
        await db.dispose()
    return {
        "events": folded,
        "messages": messages,
        "cpu_s": round(cpu, 2),
        "cpu_ms_per_message": round(cpu * 1000 / messages, 4) if messages else 0.0,
    }


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(sum(known) / len(known), 3) if known else None
