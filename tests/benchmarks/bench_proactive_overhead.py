"""The scheduler's own cost per message: claim + decide + commit, timed alone.

The real `Scheduler` (its claim, its decision transaction, the transcript row, the session
note) runs in this process over a seeded database, with an outbox that only counts what it is
handed (nothing is sent), until every job is decided. CPU time of this process (the event loop
plus aiosqlite's threads) and, on PostgreSQL, of the server processes serving it, divided by the
messages decided. With ``profile`` a cProfile of the loop is written too.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import time
import uuid
from pathlib import Path
from typing import Any

from bots.flows.clock import Clock
from bots.messages import PendingSend
from bots.proactive import Scenarios
from bots.proactive.scheduler import Scheduler
from storage.backends import open_backends
from storage.db import Database
from tests.benchmarks.bench_proactive_procs import REDIS_URL, PgDatabases, drop_redis_prefix
from tests.benchmarks.bench_proactive_seed import START

__all__ = ["scheduler_overhead"]


class CountingOutbox:
    """Stands where the outbox is: takes the stored message and does not send it."""

    def __init__(self) -> None:
        self.owner = f"bench-{uuid.uuid4().hex[:8]}"
        self.handed = 0
        self.in_flight = 0  # nothing is ever being sent: the scheduler is never held back

    def dispatch(self, send: PendingSend, *, last_inbound_at: Any = None) -> None:
        self.handed += 1


async def scheduler_overhead(
    url: str,
    scenarios: Scenarios,
    *,
    pg: PgDatabases | None = None,
    batch: int = 200,
    concurrency: int = 8,
    profile: Path | None = None,
) -> dict[str, Any]:
    """Drain the jobs seeded at ``url`` with one in-process scheduler; see the module."""
    prefix = f"benchpo{uuid.uuid4().hex[:8]}"
    backends = await open_backends(REDIS_URL if pg else None, keys_prefix=prefix)
    db = Database(url)
    outbox = CountingOutbox()
    scheduler = Scheduler(
        db=db,
        scenarios=scenarios,
        outbox=outbox,  # type: ignore[arg-type]
        clock=Clock(START),
        channels=("telegram", "viber"),
        timezone="Europe/Kyiv",
        default_language="en",
        backends=backends,
        batch=batch,
        concurrency=concurrency,
    )
    try:
        cpu, wall, server, rounds, profiler = await _drain(scheduler, db, url, pg, profile)
    finally:
        await db.dispose()
        await backends.close()
        if pg:
            await drop_redis_prefix(prefix)
    decided = sum(scheduler.decided.values())
    result = {
        "backend": "postgresql + redis" if pg else "sqlite + memory",
        "decided": decided,
        "decisions": dict(scheduler.decided),
        "rounds": rounds,
        "batch": batch,
        "concurrency": concurrency,
        "wall_s": round(wall, 2),
        "decided_per_s": round(decided / wall, 1) if wall else None,
        "cpu_ms_per_message": round(1000 * cpu / max(decided, 1), 3),
        "db_server_cpu_ms_per_message": round(1000 * server / max(decided, 1), 3) if pg else None,
    }
    if profiler and profile:
        profile.parent.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(str(profile))
        result["profile"] = str(profile)
        result["profile_top"] = _top(profiler)
    return result


async def _drain(
    scheduler: Scheduler, db: Database, url: str, pg: PgDatabases | None, profile: Path | None
) -> tuple[float, float, float, int, cProfile.Profile | None]:
    """Tick until nothing is due: (CPU s, wall s, PostgreSQL server CPU s, rounds, profile)."""
    await db.ping()  # the pool's first connection is not the scheduler's cost
    server0 = await pg.backend_cpu(pg.name(url)) if pg else 0.0
    profiler = cProfile.Profile() if profile else None
    cpu0, wall0 = time.process_time(), time.perf_counter()
    rounds = 0
    if profiler:
        profiler.enable()
    while await scheduler.tick():
        rounds += 1
    if profiler:
        profiler.disable()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    server = (await pg.backend_cpu(pg.name(url)) - server0) if pg else 0.0
    return cpu, wall, server, rounds, profiler


def _top(profiler: cProfile.Profile, n: int = 25) -> list[str]:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(n)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    return lines[-(n + 1) :]
