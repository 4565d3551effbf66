"""`setup(app, ...)`: handoff wired into the application with one call: the service opened
with the app (after the database and backends), the routing ticker, and the agent API and
console on gateway processes."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from handoff import audit_api, console, dashboard, openapi
from handoff.api import HANDOFF, HOOK, routes
from handoff.config import HandoffConfig
from handoff.events import EventBus, MemoryEventBus, RedisEventBus
from handoff.hook import HandoffHook
from handoff.service import HandoffService, Outlet, Texts
from handoff.webhook import WebhookSender
from storage.backends import Backends
from storage.db import Database
from storage.models import utcnow

__all__ = ["setup"]


def setup(
    app: web.Application,
    config: HandoffConfig,
    *,
    role: str = "all",
    database: Callable[[], Database],
    backends: Callable[[], Backends],
    texts: Texts,
    outlet: Outlet | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
) -> None:
    """Open the handoff service with the app (after the database and backends), run the
    routing ticker, and serve the API on gateway processes (``role`` "all" or "gateway").
    ``clock``: the bot's "now" (tickets' times, and so the metrics' waits, run on it)."""

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        opened = backends()
        bus: EventBus
        if opened.redis is not None and opened.keys is not None:
            bus = RedisEventBus(opened.redis, opened.keys.handoff_events())
        else:
            bus = MemoryEventBus()
        await bus.start()
        webhook = (
            WebhookSender(config.webhook_url, config.webhook_secret) if config.webhook_url else None
        )
        service = HandoffService(
            db=database(),
            backends=opened,
            config=config,
            texts=texts,
            bus=bus,
            outlet=outlet,
            webhook=webhook,
            lock_timeout=config.lock_timeout,
            send_lease=config.send_lease,
            clock=clock,
        )
        app[HANDOFF] = service
        app[HOOK] = HandoffHook(service)
        stop = asyncio.Event()
        ticker = asyncio.create_task(service.run_ticker(stop), name="handoff-ticker")
        yield
        stop.set()
        await asyncio.gather(ticker, return_exceptions=True)
        if webhook is not None:
            await webhook.drain()
        await bus.close()

    app.cleanup_ctx.append(lifecycle)
    if role in ("all", "gateway"):
        app.add_routes(routes(config))
        app.add_routes(console.routes(config))  # the page the agents work in
        app.add_routes(dashboard.routes(config))  # the supervisors' metrics
        app.add_routes(openapi.routes())  # GET /api/openapi.json
        app.add_routes(audit_api.routes(config))  # the admins' audit log
