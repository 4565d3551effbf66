"""The cost of writing analytics events in the turn's path: bench-load's embedded REST closed
loop (SQLite + in-process memory) run twice in one go, with the events written and with the
writers switched off (`bench_analytics_serve`, ``BENCH_ANALYTICS_EVENTS=off``), alternating
on/off/on/off so drift on the machine hits both sides alike."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from tests.benchmarks.bench_load import ROOT, Services, run_load, wait_ready

SERVE = Path(__file__).resolve().with_name("bench_analytics_serve.py")


class SwitchableServices(Services):
    """bench-load's embedded services, started through `bench_analytics_serve`."""

    def __init__(self, events: bool, workdir: Path, model: Path) -> None:
        super().__init__("embedded", "http://127.0.0.1:9", workdir, model)
        self.events = events

    def env(self) -> dict[str, str]:
        env = super().env()
        env["BENCH_ANALYTICS_EVENTS"] = "on" if self.events else "off"
        env.pop("OMNIRELAY_TELEGRAM_TOKEN", None)
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
    services = SwitchableServices(events, workdir, model)
    base = services.start()
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(base, session)
        result = await run_load(base, "rest", concurrency, duration, None)
    finally:
        services.stop()
    result["events"] = "on" if events else "off"
    return result


async def overhead(model: Path, concurrency: int, duration: float, rounds: int) -> dict[str, Any]:
    """Throughput with and without event writing; the cost in per cent of the 'off' figure."""
    runs = []
    for _ in range(rounds):
        for events in (True, False):
            r = await one_run(events, model, concurrency, duration)
            print(f"  load events={r['events']}: {r['messages_per_s']} msg/s", flush=True)
            runs.append(r)
    on = [r["messages_per_s"] for r in runs if r["events"] == "on"]
    off = [r["messages_per_s"] for r in runs if r["events"] == "off"]
    mean_on, mean_off = sum(on) / len(on), sum(off) / len(off)
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
        "target_percent": 5.0,
    }
