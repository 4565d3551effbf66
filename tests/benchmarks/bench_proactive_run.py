"""One drain of the proactive benchmark: seeded reminders, the service processes, the fakes.

The service's clock starts at `START`, when every seeded reminder is already due; the drain
ends when every message the plan expects has arrived at the fakes (then a short wait for late
doubles), when no message arrived for ``stall`` seconds, or when a process died.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from tests.benchmarks.bench_proactive_fakes import Ledger, Platforms
from tests.benchmarks.bench_proactive_procs import (
    REDIS_URL,
    PgDatabases,
    Service,
    drop_redis_prefix,
    load_average,
    machine_busy,
)
from tests.benchmarks.bench_proactive_seed import START, Plan, audit

__all__ = ["Drain", "drain"]

DOUBLES_GRACE = 3.0  # seconds to keep listening after the last expected message
STARTUP_LIMIT = 600.0  # seconds the processes may take to become ready


@dataclass
class Drain:
    """What to run: a mode, its seeded store, the pace the service keeps and the fakes allow."""

    mode: str  # "embedded" | "workers"
    workers: int  # 0 for embedded
    plan: Plan
    seeded: str  # SQLite file path (embedded) or template database name (workers)
    workdir: Path
    model: Path
    rates: dict[str, float]  # what the fakes allow per platform
    service_rates: dict[str, float] | None  # OMNIRELAY_OUTBOUND_RATES (None: the defaults)
    stall: float = 120.0
    extra_env: dict[str, str] = field(default_factory=dict)
    profile: bool = False  # the service processes under cProfile (procN.prof in workdir)
    ready_at: float | None = None  # monotonic: when every process answered /readyz

    @property
    def label(self) -> str:
        if self.mode == "embedded":
            return "embedded (SQLite + memory)"
        plural = "s" if self.workers > 1 else ""
        return f"{self.workers} worker{plural} (PostgreSQL + Redis)"


async def drain(d: Drain, pg: PgDatabases) -> dict[str, Any]:
    """Run one drain and return its figures (see `bench_proactive.print_table`)."""
    d.workdir.mkdir(parents=True, exist_ok=True)
    prefix = f"benchp{os.getpid()}w{d.workers}{int(time.time()) % 100000}"
    if d.mode == "embedded":
        db_file = d.workdir / "bench.db"
        shutil.copyfile(d.seeded, db_file)
        url, db_name = f"sqlite+aiosqlite:///{db_file}", None
    else:
        url = await pg.create(f"w{d.workers}", template=d.seeded)
        db_name = pg.name(url)
    platforms = Platforms(d.rates)
    ledger = platforms.ledger
    async with platforms.running():
        env = _env(d, platforms, url, prefix)
        service = Service(env, d.workdir, d.workers, profile=d.profile)
        started = service.start()
        sample = partial(_sample, service, pg, db_name)
        # costs count from the first message on: start-up (imports, the NLU model) is not a
        # message's cost
        at_first = asyncio.create_task(_after(ledger.started, sample))
        try:
            ended = await _watch(d, ledger, service, started)
            end = await sample()
            first = await at_first if at_first.done() else end
        finally:
            at_first.cancel()
            service.stop()
    if db_name is not None:
        await drop_redis_prefix(prefix)
    checks = await audit(url, d.plan, ledger)
    return _figures(d, ledger, started, ended, (first, end), checks) | {
        "load_average": [first.load, end.load],  # 1-minute, at the first message and the end
        "platforms": platforms.report(),
        "profiles": sorted(str(p) for p in d.workdir.glob("proc*.prof")),
        "logs": service.log_tail(5) if ended != "drained" else None,
    }


@dataclass(frozen=True)
class Sample:
    """Costs so far: the service's CPU, its PostgreSQL server processes' CPU, the machine."""

    cpu: float
    server: float | None
    busy: tuple[float, float]
    load: float


async def _sample(service: Service, pg: PgDatabases, db_name: str | None) -> Sample:
    server = await pg.backend_cpu(db_name) if db_name else None
    return Sample(service.cpu(), server, machine_busy(), load_average())


async def _after(event: asyncio.Event, sample: Callable[[], Awaitable[Sample]]) -> Sample:
    await event.wait()
    return await sample()


def _env(d: Drain, platforms: Platforms, url: str, prefix: str) -> dict[str, str]:
    env = {
        **platforms.settings(),
        "OMNIRELAY_DATABASE_URL": url,
        "OMNIRELAY_NLU_MODEL": str(d.model),
        "OMNIRELAY_NLU_REVIEW_LOG": str(d.workdir / "review.jsonl"),
        "OMNIRELAY_LOG_LEVEL": "WARNING",
        "OMNIRELAY_DEFAULT_LANGUAGE": "en",
        "OMNIRELAY_CLOCK_START": START.isoformat(),
        "OMNIRELAY_REDIS_URL": "",  # embedded: no Redis (an empty value means unset)
    }
    if d.service_rates is not None:
        env["OMNIRELAY_OUTBOUND_RATES"] = json.dumps(d.service_rates)
    if d.mode == "workers":
        env["OMNIRELAY_REDIS_URL"] = REDIS_URL
        env["OMNIRELAY_REDIS_PREFIX"] = prefix
    return {**env, **d.extra_env}


async def _ready(service: Service, started: float) -> float | None:
    """When every process answered ``/readyz`` (None: a process died or it took too long)."""
    while time.monotonic() - started < STARTUP_LIMIT and service.alive():
        if await service.ready():
            return time.monotonic()
        await asyncio.sleep(0.25)
    return None


async def _watch(d: Drain, ledger: Ledger, service: Service, started: float) -> str:
    """Wait for the drain to end; print progress every 10 s. Returns how it ended."""
    expected = d.plan.expected_sent()
    ready = await _ready(service, started)
    d.ready_at = ready
    if ready is None:
        print(service.log_tail(), flush=True)
        return "the processes did not become ready"
    last_count, last_change, last_print = ledger.unique, ready, ready
    while True:
        await asyncio.sleep(0.25)
        now = time.monotonic()
        if ledger.unique >= expected:
            await asyncio.sleep(DOUBLES_GRACE)
            return "drained"
        if not service.alive():
            print(service.log_tail(), flush=True)
            return "a process died"
        if ledger.unique != last_count:
            last_count, last_change = ledger.unique, now
        elif now - last_change > d.stall:
            return f"stalled: nothing new for {d.stall:.0f} s"
        if now - last_print >= 10:
            last_print = now
            rate = ledger.unique / (now - ledger.first) if ledger.first else 0.0
            print(
                f"  {d.label}: {ledger.unique}/{expected} delivered after {now - started:.0f} s "
                f"({rate:.0f}/s)",
                flush=True,
            )


def _figures(
    d: Drain,
    ledger: Ledger,
    started: float,
    ended: str,
    samples: tuple[Sample, Sample],
    checks: dict[str, Any],
) -> dict[str, Any]:
    first, last = ledger.first or started, ledger.last or started
    sending = max(last - first, 1e-9)
    n = max(ledger.unique, 1)
    s0, s1 = samples
    cpu = s1.cpu - s0.cpu
    server_cpu = s1.server - s0.server if s1.server is not None and s0.server is not None else None
    (b0, t0), (b1, t1) = s0.busy, s1.busy
    return {
        "mode": d.label,
        "workers": d.workers,
        "ended": ended,
        "jobs": d.plan.jobs,
        "expected_sent": d.plan.expected_sent(),
        "expected_capped": d.plan.expected_capped(),
        "delivered": ledger.unique,
        "messages_per_s": round(ledger.unique / sending, 1),
        "time_to_drain_s": round(last - started, 1),  # from the processes' start
        "ready_after_s": round((d.ready_at or started) - started, 1),  # all answer /readyz
        "first_message_after_s": round(first - started, 1),
        "sending_s": round(sending, 1),
        "duplicates": checks["duplicates"],
        "lost": checks["lost"],  # at the fakes: undecided jobs count here too
        "cap_violations": checks["cap_violations"] + checks["cap_violations_db"],
        "checks": checks,
        "outbound_rates": d.service_rates or "defaults (Telegram 30/s)",
        "service_cpu_s": round(cpu, 1),
        "service_cpu_ms_per_message": round(1000 * cpu / n, 3),
        "db_server_cpu_ms_per_message": (
            round(1000 * server_cpu / n, 3) if server_cpu is not None else None
        ),
        "machine_busy_pct": round(100 * (b1 - b0) / max(t1 - t0, 1), 1),
    }
