"""The faults, one function each, and the scale they run at.

A fault runs while the traffic flows: it records when it began and ended (`Context.window`),
so the report can say how long the system took to recover after the end.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes import wait_until
from tests.faults.harness import PrivatePostgres, PrivateRedis, Topology
from tests.faults.platforms import Platforms


@dataclass(frozen=True)
class Scale:
    """How big and how long; `FULL` for `make faults`, `SMALL` for `make test`."""

    customers: int = 10  # per channel
    duration: float = 60.0  # seconds of traffic
    interval: float = 1.0  # seconds between one customer's messages (jittered)
    fault_at: float = 0.2  # the fault starts this far into the traffic (fraction)
    fault_seconds: float = 20.0  # how long an outage lasts / kills go on
    kill_every: float = 4.0
    down_seconds: float = 3.0  # how long a restarted Redis / PostgreSQL stays away
    hang_seconds: float = 40.0  # past every client's timeout (Telegram's is 30 s)
    lease_ms: int = 4000
    send_lease: float = 5.0
    workers: int = 3
    accept_grace: float = 120.0  # platforms retry an unacknowledged message this long
    drain_timeout: float = 240.0
    idle_seconds: float = 20.0  # no reply for this long, with nothing queued: the rest is lost


FULL = Scale()
SMALL = Scale(
    customers=2,
    duration=6.0,
    interval=0.8,
    fault_at=0.25,
    fault_seconds=4.0,
    kill_every=2.0,
    down_seconds=2.0,
    hang_seconds=12.0,  # past Viber's and Instagram's 10 s, not Telegram's 30 s
    lease_ms=3000,
    send_lease=4.0,
    accept_grace=90.0,
    drain_timeout=120.0,
    idle_seconds=8.0,
)


@dataclass
class Context:
    """What a fault may act on, and what it reports back."""

    scale: Scale
    topology: Topology
    redis: PrivateRedis
    postgres: PrivatePostgres
    platforms: Platforms
    window: tuple[float, float] | None = None  # monotonic start and end of the fault
    notes: dict[str, Any] = field(default_factory=dict)

    def begin(self) -> float:
        return time.monotonic()

    def end(self, began: float) -> None:
        self.window = (began, time.monotonic())


Fault = Callable[[Context], Awaitable[None]]


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    fault: Fault
    redis_persistent: bool = False  # the compose file's `appendonly yes`


async def calm(ctx: Context) -> None:
    """No fault: the baseline."""


async def worker_kills(ctx: Context) -> None:
    """SIGKILL one worker every `kill_every` seconds (round robin), start it again at once."""
    kills = max(1, round(ctx.scale.fault_seconds / ctx.scale.kill_every))
    began = ctx.begin()
    for i in range(kills):
        if i:
            await asyncio.sleep(ctx.scale.kill_every)
        worker = ctx.topology.workers[i % len(ctx.topology.workers)]
        await worker.stop(signal.SIGKILL)
        worker.start()
    ctx.end(began)  # the last one is still starting: recovery time includes its start
    ctx.notes["kills"] = kills


async def worker_stall(ctx: Context) -> None:
    """SIGSTOP a worker mid-traffic; SIGCONT it only once the others have taken all of its
    partitions over (its lease expired): the stalled worker wakes up holding turns it no
    longer owns."""
    topology = ctx.topology
    stalled, others = topology.workers[0], topology.workers[1:]
    began = ctx.begin()
    stalled.send(signal.SIGSTOP)
    ctx.notes["stalls"] = 1

    async def taken_over() -> bool:
        owned = [await topology.metric(w, "omnirelay_queue_partitions_owned ") for w in others]
        return sum(n or 0 for n in owned) >= 16  # OMNIRELAY_QUEUE_PARTITIONS' default

    try:
        await wait_until(taken_over, timeout=120, interval=0.25, what="partitions taken over")
        ctx.notes["takeover_s"] = round(time.monotonic() - began, 2)
    finally:
        stalled.send(signal.SIGCONT)
        ctx.notes["sigcont_s"] = round(time.monotonic() - began, 2)
    ctx.end(began)


def _redis_restart(*, persistent: bool) -> Fault:
    async def restart(ctx: Context) -> None:
        """Redis crashes (SIGKILL) and comes back after `down_seconds`: from its AOF, or
        empty (a Redis without persistence; its files are wiped in case the stack's Redis
        was started with them)."""
        began = ctx.begin()
        await ctx.redis.crash()
        if not persistent:
            await ctx.redis.wipe()
        await asyncio.sleep(ctx.scale.down_seconds)
        await ctx.redis.start()
        ctx.end(began)

    return restart


async def postgres_restart(ctx: Context) -> None:
    """PostgreSQL stops (fast shutdown: connections cut) and starts after `down_seconds`."""
    began = ctx.begin()
    await ctx.postgres.stop("fast")
    await asyncio.sleep(ctx.scale.down_seconds)
    await ctx.postgres.start()
    ctx.end(began)


def _outage(mode: str) -> Fault:
    async def outage(ctx: Context) -> None:
        seconds = ctx.scale.hang_seconds if mode == "hang" else ctx.scale.fault_seconds
        began = ctx.begin()
        ctx.platforms.start_outage(mode, hang_seconds=seconds + 5, retry_after=1)
        await asyncio.sleep(seconds)
        ctx.platforms.stop_outage()
        ctx.end(began)
        ctx.notes["platform_answers"] = ctx.platforms.outage_answers()

    outage.__doc__ = f"All three platforms in outage mode {mode!r} for a while."
    return outage


def _gateway_restart(sig: signal.Signals) -> Fault:
    async def restart(ctx: Context) -> None:
        began = ctx.begin()
        ctx.notes["restart_s"] = round(
            await ctx.topology.restart(ctx.topology.gateway, sig, within=120), 2
        )
        ctx.end(began)

    return restart


CASES: dict[str, Case] = {
    c.name: c
    for c in (
        Case("calm", "no fault (baseline)", calm),
        Case("worker-kill", "a worker SIGKILLed every few seconds, restarted", worker_kills),
        Case("worker-stall", "a worker SIGSTOPped past its lease, then SIGCONTed", worker_stall),
        Case(
            "redis-restart-aof",
            "Redis crash + restart, appendonly yes",
            _redis_restart(persistent=True),
            redis_persistent=True,
        ),
        Case(
            "redis-restart-volatile",
            "Redis crash + restart, no persistence",
            _redis_restart(persistent=False),
        ),
        Case("postgres-restart", "PostgreSQL stopped (fast) and started", postgres_restart),
        Case("platform-429", "platforms answer 429 with retry_after", _outage("429")),
        Case("platform-429-bare", "platforms answer 429 without retry_after", _outage("429-bare")),
        Case("platform-5xx", "a 500/502/503 storm from the platforms", _outage("5xx")),
        Case("platform-hang", "platform APIs hang past the client timeout", _outage("hang")),
        Case("gateway-restart", "gateway SIGTERM + start", _gateway_restart(signal.SIGTERM)),
        Case("gateway-kill", "gateway SIGKILL + start", _gateway_restart(signal.SIGKILL)),
    )
}
