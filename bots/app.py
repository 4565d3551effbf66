"""`create_app(settings)`: the aiohttp application, with each resource opened in one
setup/cleanup context. `role` picks the halves: "all" (one process), "gateway" or "worker"."""

from __future__ import annotations

import asyncio
import gc
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial
from typing import Literal

from aiohttp import web

import handoff.api
import handoff.wiring
from bots.channels.base import Channel, IngestResult
from bots.channels.registry import build_channels
from bots.config import Settings
from bots.flows import build_dialogue
from bots.flows.clock import Clock
from bots.flows.engine import Dialogue
from bots.flows.linking import LinkingFlow
from bots.flows.templates import Templates, viber_welcome
from bots.gateway.admin_api import admin_routes
from bots.gateway.events_api import events_routes
from bots.gateway.http import bad_input, error_middleware, health_routes
from bots.gateway.ingress import INGRESS, QueueIngress
from bots.gateway.limits import inbound_limiter, ip_limit_middleware
from bots.gateway.simulator import setup_simulator, simulator_settings
from bots.gateway.web import web_routes
from bots.identity.service import build_identity
from bots.keys import (
    BACKENDS,
    CHANNELS,
    CLOCK,
    DATABASE,
    DRAIN,
    METRICS,
    NLU,
    OUTBOX,
    PROACTIVE,
    SCHEDULER,
    SETTINGS,
    WORKER,
)
from bots.messages import InboundEvent
from bots.metrics import HandoffCounter, Metrics
from bots.nlu_setup import open_nlu
from bots.privacy.wiring import privacy_flow, setup_privacy
from bots.proactive import load_scenarios
from bots.proactive.followups import SilenceScan, TicketFollowUps
from bots.proactive.hooks import ProactiveTurn
from bots.proactive.hooks_booking import BookingReminders
from bots.proactive.scheduler import Scheduler
from bots.settings_views import handoff_config, review_log
from bots.shutdown import Drain, stop_consuming
from bots.worker.analytics import TurnAnalytics
from bots.worker.consumer import Worker
from bots.worker.handoff_outlet import StoredReplies
from bots.worker.outbox import Outbox
from storage import fences, planner_stats
from storage.analytics.rollups import run_rollups
from storage.backends import open_backends
from storage.db import Database
from storage.errors import StorageError
from storage.fences import FenceToken
from storage.inbox import Inbox
from storage.inbox_queue import QueueBounds, work_queue
from storage.inbox_sweeper import InboxSweeper
from storage.queue_memory import MemoryQueue
from storage.queue_redis import RedisStreamQueue
from storage.session_snapshots import snapshot_loader

log = logging.getLogger(__name__)

Role = Literal["all", "gateway", "worker"]


def create_app(settings: Settings, role: Role = "all") -> web.Application:
    simulated = bool(settings.simulator) and role == "all"
    if simulated:
        # every platform channel talks to this server's in-process sandbox instead
        settings = simulator_settings(settings)
    drain = Drain(settings.shutdown_grace)  # SIGTERM: see bots/shutdown.py
    middlewares = [error_middleware, drain.middleware, ip_limit_middleware(settings), bad_input]
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=middlewares)
    app[DRAIN] = drain
    app.on_shutdown.append(drain.on_shutdown)
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[CLOCK] = Clock(settings.clock_start)
    app[PROACTIVE] = load_scenarios(settings.scenarios)  # a bad file stops the start here
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_backends)
    app.cleanup_ctx.append(partial(_inbox, worker=role in ("all", "worker")))
    if role in ("all", "worker"):
        app.cleanup_ctx.append(_nlu)
    app.cleanup_ctx.append(_channels)
    # tickets, routing, the agent API (gateway roles); the worker below uses its gate
    handoff.wiring.setup(
        app,
        handoff_config(settings),
        role=role,
        database=lambda: app[DATABASE],
        backends=lambda: app[BACKENDS],
        texts=Templates(settings.default_language),
        outlet=StoredReplies(lambda: app.get(OUTBOX)),
        clock=app[CLOCK],
    )
    setup_privacy(app, settings, role)  # export and erasure: routes, resumed jobs
    app.cleanup_ctx.append(_ticket_followups)
    if role in ("all", "worker"):
        app.cleanup_ctx.append(_worker)
    # Channels are plain objects until `start()`; their routes must exist before the router
    # freezes, so they get providers for the resources the cleanup contexts open later.
    channels = build_channels(
        settings,
        mailbox=lambda: app[BACKENDS].mailbox,
        register_webhooks=role != "worker",
        clock=app[CLOCK],
        viber_welcome=viber_welcome(settings.default_language),
        resources=lambda: (app[DATABASE], app[BACKENDS]),
    )
    app[CHANNELS] = channels
    app.add_routes(health_routes())
    if role in ("all", "gateway"):
        _gateway(app, settings, simulated=simulated)
    return app


def _gateway(app: web.Application, settings: Settings, *, simulated: bool) -> None:
    """The routes a gateway serves: the channels' webhooks, the web pages and the APIs."""
    channels = app[CHANNELS]
    ingress = LazyIngress(lambda: app[INGRESS])
    for channel in channels.values():
        app.add_routes(channel.routes(ingress))
    app.add_routes(web_routes(index=not simulated))
    app.add_routes(admin_routes(settings, lambda: (app[DATABASE], app[BACKENDS])))
    app.add_routes(events_routes(settings, lambda: (app[DATABASE], app[PROACTIVE], app[CLOCK])))
    if simulated:
        setup_simulator(app, settings)
    if settings.telegram_mode == "polling" and "telegram" in channels:
        app.cleanup_ctx.append(_telegram_polling)


async def _telegram_polling(app: web.Application) -> AsyncIterator[None]:
    """Development mode without a public URL: long-poll getUpdates into the same ingress."""
    from bots.channels.telegram import TelegramChannel

    channel = app[CHANNELS]["telegram"]
    assert isinstance(channel, TelegramChannel)
    stop = asyncio.Event()
    task = asyncio.create_task(channel.poll(app[INGRESS], stop), name="telegram-polling")
    yield
    stop.set()
    await asyncio.gather(task, return_exceptions=True)


class LazyIngress:
    """Hands events to the app's `QueueIngress`, which exists once the backends are open."""

    def __init__(self, provider: Callable[[], QueueIngress]) -> None:
        self._provider = provider

    async def accept(self, events: Sequence[InboundEvent]) -> IngestResult:
        return await self._provider().accept(events)


def freeze_heap(app: web.Application) -> None:
    """At start, move everything loaded (the NLU model, libraries) out of the garbage
    collector's sight: full collections then scan only per-message garbage, which keeps their
    pauses out of the latency tail. For a process that runs one app (`omnirelay run`, `gateway`,
    `worker`): with a heap this size each full collection takes ~0.4 s, too much for the test
    suite's hundreds of short-lived apps in one process."""
    app.on_startup.append(_freeze_heap)
    app.on_cleanup.append(_thaw_heap)


async def _freeze_heap(app: web.Application) -> None:
    gc.collect()
    gc.freeze()


async def _thaw_heap(app: web.Application) -> None:
    """Give the frozen objects back to the collector when the app ends: what was frozen at
    start is never collected otherwise, and an app started after it in the same process would
    keep the first one's NLU model (~50 MB with the dense model) for good. Collected at once:
    with a heap this size full collections are rare, and the app's cycles would pile up."""
    gc.unfreeze()
    gc.collect()


async def _database(app: web.Application) -> AsyncIterator[None]:
    db = Database(app[SETTINGS].database_url)
    app[DATABASE] = db
    stop = asyncio.Event()
    stats = asyncio.create_task(planner_stats.keep_fresh(db, stop), name="planner-stats")
    yield
    stop.set()
    await stats
    await db.dispose()


async def _backends(app: web.Application) -> AsyncIterator[None]:
    s = app[SETTINGS]
    backends = await open_backends(
        s.redis_url,
        keys_prefix=s.redis_prefix,
        session_ttl=s.session_ttl,
        dedup_ttl=s.dedup_ttl,
        partitions=s.queue_partitions,
        consumer_id=f"{uuid.uuid4().hex[:12]}",
        lease_ms=s.queue_lease_ms,
        lock_lease_ms=s.lock_lease_ms or s.queue_lease_ms,
    )
    app[BACKENDS] = backends
    yield
    await backends.close()


async def _inbox(app: web.Application, *, worker: bool) -> AsyncIterator[None]:
    """The durable inbox behind the gateway's 2xx, its sweeper (processes with a worker), and
    sessions rebuilt from the transcript when the session store lost them."""
    s, db, backends = app[SETTINGS], app[DATABASE], app[BACKENDS]
    inbox = Inbox(db)
    inbox.attach()  # the worker marks rows done through its database
    if isinstance(backends.queue, MemoryQueue):
        backends.queue.repartition(s.queue_partitions)
    bounds = QueueBounds(s.queue_max_depth, s.queue_max_partition_depth, s.queue_retry_after)
    queue = work_queue(backends.queue, backends.redis, backends.keys, bounds)
    recover_with = getattr(backends.sessions, "recover_with", None)
    if recover_with is not None:
        recover_with(snapshot_loader(db, s.session_ttl))
    sweeper = InboxSweeper(
        inbox, queue, grace=s.inbox_grace, interval=s.inbox_sweep_interval, keep_done=s.dedup_ttl
    )
    limiter = inbound_limiter(s, backends, lambda: app[CHANNELS], app[METRICS])
    app[INGRESS] = QueueIngress(inbox, queue, app[METRICS], sweeper, limiter=limiter)
    stop = asyncio.Event()
    task: asyncio.Task[None] | None = None
    if worker or isinstance(backends.queue, MemoryQueue):  # the memory queue is this process's
        try:  # before the first webhook: what an earlier process accepted goes first, in order
            await sweeper.restore_lost()
        except StorageError as e:  # e.g. the database is down: offers wait for the sweeper
            log.warning("inbox: restoring the queue at start failed (%s); retrying", e)
        task = asyncio.create_task(sweeper.run(stop), name="inbox-sweeper")
    yield
    stop.set()
    if task is not None:
        await asyncio.gather(task, return_exceptions=True)
    await limiter.close()  # its polite notices in flight
    await inbox.close()


async def _nlu(app: web.Application) -> AsyncIterator[None]:
    async with open_nlu(app[SETTINGS]) as model:
        app[NLU] = model
        yield


async def _channels(app: web.Application) -> AsyncIterator[None]:
    channels: dict[str, Channel] = app[CHANNELS]
    started: list[Channel] = []
    try:
        for channel in channels.values():
            await channel.start()
            started.append(channel)
        yield
    finally:
        for channel in reversed(started):
            await channel.close()


async def _ticket_followups(app: web.Application) -> AsyncIterator[None]:
    """A ticket closed here (the agent API) schedules its follow-up; a CSAT score cancels it.
    Tickets opened here are counted by reason (`omnirelay_handoffs_total`)."""
    service = app[handoff.api.HANDOFF]
    listener = TicketFollowUps(app[DATABASE], app[PROACTIVE], app[CLOCK], service.set_session)
    service.listeners.append(listener)
    app[handoff.api.HANDOFF].listeners.append(HandoffCounter(app[METRICS]))
    yield


async def _worker(app: web.Application) -> AsyncIterator[None]:
    s = app[SETTINGS]
    db, backends, metrics = app[DATABASE], app[BACKENDS], app[METRICS]
    channels: dict[str, Channel] = app[CHANNELS]
    outbox = Outbox(
        db,
        channels,
        metrics,
        max_attempts=s.send_max_attempts,
        max_retry_after=s.send_max_retry_after,
        lease=s.send_lease,
        rate_limits=s.outbound_rate_limits,
    )
    worker, dialogue = _turns(app, outbox)
    app[WORKER] = worker
    app[OUTBOX] = outbox
    if isinstance(backends.queue, RedisStreamQueue):
        backends.queue.on_fence = partial(_advance_fence, db)
    stop = asyncio.Event()
    consumer = asyncio.create_task(
        backends.queue.consume(worker.handle, concurrency=s.workers, stop=stop),
        name="queue-consumer",
    )
    sweeper = asyncio.create_task(outbox.run_sweeper(stop, interval=2.0), name="outbox-sweeper")
    scheduler = app[SCHEDULER] = _scheduler(app, outbox)
    scheduler.add_scan(SilenceScan(db, app[PROACTIVE]))  # re-engagement after a silence
    scheduling = asyncio.create_task(
        scheduler.run(stop, interval=s.scheduler_interval), name="proactive-scheduler"
    )
    rollups = run_rollups(
        db, stop, s.analytics_rollup_interval, s.timezone, s.analytics_fcr_days
    )  # storage.analytics
    folding = asyncio.create_task(rollups, name="analytics-rollups")
    yield
    drain = app[DRAIN]
    # in-process queue: nobody else will answer what it holds, so it is worked off first
    in_process = backends.redis is None
    helpers = [consumer, sweeper, scheduling, folding]
    await stop_consuming(backends.queue, stop, helpers, drain, in_process=in_process)
    await worker.close()
    await outbox.drain(drain.remaining())
    await dialogue.aclose()


def _turns(app: web.Application, outbox: Outbox) -> tuple[Worker, Dialogue]:
    """The worker that runs each message's turn, and the dialogue it answers with: flows on
    their backends (a booking's reminders follow it), identity, handoff and proactive steps."""
    s = app[SETTINGS]
    db, backends, metrics = app[DATABASE], app[BACKENDS], app[METRICS]
    clock = app[CLOCK]
    identity = build_identity(s, db, backends)
    reminders = BookingReminders(app[PROACTIVE], clock, s.timezone)
    dialogue = build_dialogue(
        s, db, clock, extra_flows=[LinkingFlow(identity), privacy_flow(app)], on_booking=reminders
    )
    review = review_log(s)
    worker = Worker(
        db=db,
        backends=backends,
        nlu=app[NLU],
        dialogue=dialogue,
        outbox=outbox,
        metrics=metrics,
        lock_timeout=s.lock_timeout,
        timezone=s.timezone,
        review_log=review,
        send_lease=s.send_lease,
        clock=clock,
        identity=identity,
        handoff=app[handoff.api.HOOK],
        proactive=ProactiveTurn(
            db=db,
            scenarios=app[PROACTIVE],
            templates=dialogue.t,
            handoff=app[handoff.api.HOOK],
            default_language=s.default_language,
        ),
        analytics=TurnAnalytics(s.analytics_conversation_gap_hours, handoff_config(s).topic_for),
    )
    return worker, dialogue


def _scheduler(app: web.Application, outbox: Outbox) -> Scheduler:
    """Proactive messages due in this process's share: claimed, decided, sent via ``outbox``."""
    s = app[SETTINGS]
    channels: dict[str, Channel] = app[CHANNELS]
    return Scheduler(
        db=app[DATABASE],
        scenarios=app[PROACTIVE],
        outbox=outbox,
        clock=app[CLOCK],
        channels=tuple(channels),
        timezone=s.timezone,
        default_language=s.default_language,
        backends=app[BACKENDS],
        lease=s.scheduler_lease,
        batch=s.scheduler_batch,
        concurrency=s.scheduler_concurrency,
        send_lease=s.send_lease,
    )


async def _advance_fence(db: Database, fence: FenceToken) -> int:
    """A queue partition changed hands: turns read under its older leases cannot commit now."""
    async with db.transaction() as s:
        return await fences.advance(s, fence)
