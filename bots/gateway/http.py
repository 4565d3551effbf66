"""Cross-cutting HTTP pieces: JSON errors, liveness, readiness and metrics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import sqlalchemy.exc
from aiohttp import web
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bots.keys import BACKENDS, DATABASE, METRICS, NLU, OUTBOX, SCHEDULER
from storage.errors import BackendUnavailable

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
# What an unreachable Redis or database raises from a request handler: our own wrapper, and
# the drivers' connection errors where a path does not wrap them (yet).
UNAVAILABLE: tuple[type[BaseException], ...] = (
    BackendUnavailable,
    RedisConnectionError,
    RedisTimeoutError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    ConnectionError,  # ConnectionRefusedError, ConnectionResetError: the OSErrors of a socket
)

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
    except UNAVAILABLE as e:
        if isinstance(e, ConnectionResetError) and _client_left(request):
            # the browser went away mid-answer (a chat widget's or the console's event stream
            # closed): nothing is wrong here, and the answer reaches nobody
            log.debug("%s %s: the client left (%s)", request.method, request.path[:200], e)
            return web.Response(status=499, reason="Client Closed Request")
        # Redis or the database is down: nothing was stored, so the platform must retry. One
        # line, no traceback: during an outage every request would print one.
        log.warning("%s %s: storage unavailable (%s)", request.method, request.path[:200], e)
        return web.json_response(
            {"error": "temporarily unavailable, retry later"},
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    except Exception:
        log.exception("%s %s failed", request.method, request.path[:200])
        return web.json_response({"error": "internal error"}, status=500)


def _client_left(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


#: the largest id a row can have (PostgreSQL's BIGINT; SQLite's INTEGER is as wide)
MAX_ROW_ID = 2**63 - 1


@web.middleware
async def bad_input(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refused here, before a handler passes them to a driver that cannot bind them (a 500):
    a NUL in the path or the query string (PostgreSQL's text cannot hold one): 400; a path id
    past any row's, either side of zero (``/api/customers/99999999999999999999``): 404."""
    if "\x00" in request.path or any("\x00" in k + v for k, v in request.query.items()):
        return web.json_response({"error": "NUL characters are not accepted"}, status=400)
    for name, value in request.match_info.items():
        digits = value.removeprefix("-")
        is_id = name == "id" or name.endswith("_id")
        if is_id and digits.isascii() and digits.isdigit() and int(digits) > MAX_ROW_ID:
            return web.json_response({"error": f"no such {name}"}, status=404)
    return await handler(request)


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
    checks = await ready_checks(request.app)
    ok = all(v == "ok" for v in checks.values())
    return web.json_response(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503
    )


async def metrics(request: web.Request) -> web.Response:
    app, m = request.app, request.app[METRICS]
    outbox = app.get(OUTBOX)  # a process with a worker: its outbox and proactive scheduler
    await m.refresh(
        app[BACKENDS].queue,
        scheduler=app.get(SCHEDULER),
        in_flight=outbox.in_flight if outbox is not None else None,
    )
    return web.Response(body=m.render(), content_type="text/plain", charset="utf-8")


async def ready_checks(app: web.Application) -> dict[str, str]:
    """What `/readyz` reports: each dependency really asked, not assumed."""
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(app[DATABASE].ping(), timeout=3)
        checks["database"] = "ok"
    except Exception as e:
        checks["database"] = f"error: {type(e).__name__}: {e}"
    redis = app[BACKENDS].redis
    if redis is not None:
        try:
            await asyncio.wait_for(redis.ping(), timeout=3)
            checks["redis"] = "ok"
        except Exception as e:
            checks["redis"] = f"error: {type(e).__name__}: {e}"
    if NLU in app:
        model = app[NLU]
        try:
            info = model.info()
            checks["nlu"] = "ok" if info else "error: no model loaded"
        except Exception as e:
            checks["nlu"] = f"error: {type(e).__name__}: {e}"
    return checks
