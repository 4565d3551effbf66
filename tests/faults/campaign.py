"""Run one case end to end: services, topology, traffic, the fault, the drain, the report.

Every case gets a fresh Redis (with or without persistence), a fresh database copied from a
migrated template on the private PostgreSQL cluster, and fresh gateway and worker processes,
so one case's damage never shows up in the next one's figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from storage.db import upgrade
from tests.faults.cases import Case, Context, Scale
from tests.faults.harness import PrivatePostgres, PrivateRedis, Topology
from tests.faults.ledger import Ledger
from tests.faults.platforms import Platforms
from tests.faults.report import CaseResult, summarise
from tests.faults.traffic import Traffic

log = logging.getLogger("faults")

LOG_NEEDLES = ("Traceback", "lost the lease", "ERROR", "dead-letter")


@dataclass
class Services:
    """What outlives a case: the PostgreSQL cluster, its migrated template, the NLU model."""

    postgres: PrivatePostgres
    template: str
    nlu_model: Path


async def open_services(nlu_model: Path) -> Services:
    """Start a private PostgreSQL and migrate (and seed) a template database on it."""
    postgres = PrivatePostgres()
    await postgres.init()
    template = "faults_template"
    await postgres.execute(f'CREATE DATABASE "{template}"')
    await asyncio.to_thread(upgrade, postgres.url(template))
    return Services(postgres, template, nlu_model)


@dataclass
class Stack:
    """One running system: the fakes, a private Redis, a database, gateway and workers."""

    platforms: Platforms
    redis: PrivateRedis
    topology: Topology
    postgres: PrivatePostgres
    database: str


@contextlib.asynccontextmanager
async def open_stack(
    scale: Scale, services: Services, workdir: Path, *, persistent: bool
) -> AsyncIterator[Stack]:
    """Start a stack (Redis with the compose file's `appendonly yes` when `persistent`);
    logs of its processes stay in `workdir`. Torn down with SIGKILL: by then nothing is in
    flight that a report still needs."""
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    database = f"faults_{uuid.uuid4().hex[:10]}"
    pg = services.postgres
    await pg.execute(f'CREATE DATABASE "{database}" TEMPLATE "{services.template}"')
    platforms = Platforms(Ledger())
    redis = PrivateRedis(workdir, persistent=persistent)
    async with platforms.running():
        await redis.start()
        env = _env(scale, services, redis, database, platforms, workdir)
        topology = Topology(env, workdir, workers=scale.workers)
        try:
            await topology.start()
            yield Stack(platforms, redis, topology, pg, database)
        finally:
            await asyncio.gather(*(p.stop(signal.SIGKILL) for p in topology.procs))
            await redis.stop()


async def run_case(case: Case, scale: Scale, services: Services, workdir: Path) -> CaseResult:
    """Run `case` at `scale` on a stack of its own."""
    began = time.monotonic()
    async with open_stack(scale, services, workdir, persistent=case.redis_persistent) as stack:
        startup = round(time.monotonic() - began, 1)
        result = await run_on(stack, case, scale)
    result.notes["startup_s"] = startup
    return result


async def run_on(stack: Stack, case: Case, scale: Scale) -> CaseResult:
    """Run `case` on a running `stack` (which may have served other cases before: it is
    brought back to ready first, and only this case's customers are counted)."""
    ledger = Ledger()
    stack.platforms.ledger = ledger
    topology = stack.topology
    ctx = Context(scale, topology, stack.redis, stack.postgres, stack.platforms)
    before = topology.log_counts(LOG_NEEDLES)
    began = time.monotonic()
    await topology.ready(within=120)
    ctx.notes["ready_s"] = round(time.monotonic() - began, 1)
    await _drive(case, ctx, ledger)
    ctx.notes["drive_s"] = round(time.monotonic() - began - ctx.notes["ready_s"], 1)
    began = time.monotonic()
    await _drain(ctx, ledger, stack.database)
    ctx.notes["drain_s"] = round(time.monotonic() - began, 1)
    after = topology.log_counts(LOG_NEEDLES)
    ctx.notes["logs"] = {k: after[k] - before.get(k, 0) for k in after}
    return summarise(case.name, case.description, ledger, ctx.window, ctx.notes)


def _env(
    scale: Scale,
    services: Services,
    redis: PrivateRedis,
    database: str,
    platforms: Platforms,
    workdir: Path,
) -> dict[str, str]:
    return {
        "OMNIRELAY_DATABASE_URL": services.postgres.url(database),
        "OMNIRELAY_REDIS_URL": redis.url,
        "OMNIRELAY_REDIS_PREFIX": f"faults{uuid.uuid4().hex[:8]}",
        "OMNIRELAY_NLU_MODEL": str(services.nlu_model),
        "OMNIRELAY_NLU_REVIEW_LOG": str(workdir / "review.jsonl"),
        "OMNIRELAY_QUEUE_LEASE_MS": str(scale.lease_ms),
        "OMNIRELAY_SEND_LEASE": str(scale.send_lease),
        "OMNIRELAY_DEFAULT_LANGUAGE": "en",
        # the campaign's customers write faster than the per-sender abuse limit lets a person
        "OMNIRELAY_INBOUND_RATE_BURST": "0",
        "OMNIRELAY_LOG_LEVEL": "INFO",
        "OMNIRELAY_LOG_FORMAT": "text",
        "PYTHONUNBUFFERED": "1",  # every log line on disk, even from a SIGKILLed process
        **platforms.settings(),
    }


async def _drive(case: Case, ctx: Context, ledger: Ledger) -> None:
    scale = ctx.scale
    traffic = Traffic(
        ctx.topology.gateway_url, ledger, customers=scale.customers, interval=scale.interval
    )
    sending = asyncio.create_task(traffic.run(scale.duration, grace=scale.accept_grace))
    await asyncio.sleep(scale.duration * scale.fault_at)
    log.info("%s: fault starts", case.name)
    try:
        await case.fault(ctx)
    except Exception as e:  # the fault itself failed: say so in the report, keep measuring
        log.exception("%s: the fault failed", case.name)
        ctx.notes["fault_error"] = f"{type(e).__name__}: {e}"
    log.info("%s: fault over (%s)", case.name, ctx.notes)
    await sending
    await traffic.settle(scale.accept_grace)


async def _drain(ctx: Context, ledger: Ledger, database: str) -> None:
    """Wait until nothing more can come: no queued message, no pending reply, and either every
    acknowledged message answered or no reply for `idle_seconds`; or, when something stays
    queued or pending (stuck), no reply for three times that."""
    scale = ctx.scale
    last_count = -1
    deadline = time.monotonic() + scale.drain_timeout
    last_change = time.monotonic()
    while time.monotonic() < deadline:
        count = len(ledger.replies)
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        quiet_for = time.monotonic() - last_change
        idle = quiet_for >= scale.idle_seconds
        if (ledger.all_answered() or idle) and await _nothing_in_flight(ctx, database):
            break
        if quiet_for >= 3 * scale.idle_seconds:
            ctx.notes["drain"] = f"stuck: work queued or pending, no reply for {quiet_for:.0f} s"
            break
        await asyncio.sleep(0.25)
    else:
        ctx.notes["drain"] = f"gave up after {scale.drain_timeout} s"


async def _nothing_in_flight(ctx: Context, database: str) -> bool:
    depth = None
    for worker in ctx.topology.workers:
        depth = await ctx.topology.metric(worker, "omnirelay_queue_depth ")
        if depth is not None:
            break
    if depth is None or depth > 0:
        return False
    try:
        if await ctx.postgres.fetchval(_PENDING_REPLIES, database) != 0:
            return False
        if await ctx.postgres.fetchval("SELECT to_regclass('inbox') IS NULL", database):
            return True
        return await ctx.postgres.fetchval(_OPEN_INBOX, database) == 0
    except (OSError, TimeoutError, asyncpg.PostgresError):
        return False


_PENDING_REPLIES = "SELECT count(*) FROM messages WHERE direction = 'out' AND status = 'pending'"
# accepted events not processed yet (once the durable inbox of issue 12 exists)
_OPEN_INBOX = "SELECT count(*) FROM inbox WHERE done_at IS NULL"
