"""Cross-cutting HTTP pieces: JSON errors, liveness, readiness and metrics."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as JSON; an unexpected one is logged and answered 500."""
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        if e.status == 413:
            log.warning("%s %s: body too large (%s)", request.method, request.path, e.text)
        return web.json_response({"error": e.reason}, status=e.status, headers=_keep(e))
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return web.json_response({"error": "internal error"}, status=500)


def _keep(e: web.HTTPException) -> dict[str, str]:
    return {k: v for k, v in e.headers.items() if k in ("Allow", "Retry-After")}


def health_routes() -> list[web.RouteDef]:
    return [
        web.get("/healthz", healthz),
        web.get("/readyz", readyz),
        web.get("/metrics", metrics),
    ]


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    from bots.app import ready_checks

    checks = await ready_checks(request.app)
    ok = all(v == "ok" for v in checks.values())
    return web.json_response(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503
    )


async def metrics(request: web.Request) -> web.Response:
    from bots.app import BACKENDS, METRICS

    m = request.app[METRICS]
    queue = request.app[BACKENDS].queue
    try:
        m.queue_depth.set(await queue.depth())
    except Exception:
        log.warning("queue depth unavailable", exc_info=True)
    owned = getattr(queue, "owned_partitions", None)
    if owned is not None:
        m.partitions_owned.set(len(owned))
    return web.Response(body=m.render(), content_type="text/plain", charset="utf-8")
