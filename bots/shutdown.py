"""Graceful shutdown of `omnirelay run | gateway | worker`.

The first SIGTERM (or SIGINT) starts a drain with one deadline, ``OMNIRELAY_SHUTDOWN_GRACE``
seconds away; a second one exits at once. In order:

1. The listening socket closes and every open connection closes after its current request.
   A load balancer treats a refused connection as a failed upstream and retries another one,
   which the platform never sees; a 503 from an upstream is usually passed on instead. The
   platforms (Telegram, Viber, Meta) redeliver on a refused connection as on any non-2xx,
   so nothing is lost when no other gateway is behind the address either. A write request
   whose handler starts after the drain began (a race with step 1) is answered 503 with
   ``Retry-After``, before anything is stored.
2. Requests already in flight that carry work (any method but GET/HEAD: a webhook being
   stored, a REST turn waiting for its reply, an agent's action) finish, until the deadline.
   Long-lived GETs (the agent console's event stream, the simulator's long polls) end at
   once: they carry no work, and without this one open console held the shutdown for
   aiohttp's whole ``shutdown_timeout`` (10 s), then as long again for the cancelled stream.
3. The app's cleanup contexts: the worker (`stop_consuming`) finishes the turns it has begun
   and hands the rest back to the queue, then sends what its outbox holds (`Outbox.drain`);
   whatever the deadline cuts off stays pending in the database for a sweeper.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from types import FrameType

from aiohttp import web

from storage.queue import MessageQueue

__all__ = ["Drain", "serve", "stop_consuming"]

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGTERM, signal.SIGINT)
RETRY_AFTER = 5  # seconds a platform or a client is told to wait when refused while draining
#: after the grace, the slack the last cleanup steps get before the process exits regardless
BACKSTOP = 5.0
#: how long requests still running after the deadline get to notice their cancellation
STRAGGLER_TIMEOUT = 1.0
_READ_ONLY = frozenset({"GET", "HEAD", "OPTIONS"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Drain:
    """One process's shutdown: whether it began, and by when every step must be done."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self._deadline: float | None = None
        self._work: set[asyncio.Task[object]] = set()
        self._streams: set[asyncio.Task[object]] = set()

    @property
    def started(self) -> bool:
        return self._deadline is not None

    def begin(self) -> None:
        """Start the grace period (idempotent) and end the long-lived GETs."""
        if self._deadline is not None:
            return
        self._deadline = asyncio.get_running_loop().time() + self.grace
        for task in list(self._streams):
            task.cancel()

    def remaining(self) -> float:
        """Seconds left of the grace period (all of it before `begin`)."""
        if self._deadline is None:
            return self.grace
        return max(0.0, self._deadline - asyncio.get_running_loop().time())

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Refuse new work once draining; remember in-flight requests (see the module doc)."""
        read_only = request.method in _READ_ONLY
        if self.started and not read_only:
            raise web.HTTPServiceUnavailable(
                text="shutting down", headers={"Retry-After": str(RETRY_AFTER)}
            )
        task = asyncio.current_task()
        if task is None:  # pragma: no cover (aiohttp runs every handler in a task)
            return await handler(request)
        tracked = self._streams if read_only else self._work
        tracked.add(task)
        try:
            return await handler(request)
        finally:
            tracked.discard(task)

    async def on_shutdown(self, app: web.Application) -> None:
        """aiohttp's on_shutdown hook: let in-flight work requests finish within the grace."""
        self.begin()
        if self._work:
            _, late = await asyncio.wait(set(self._work), timeout=self.remaining())
            if late:
                log.warning("shutdown: %d request(s) still running at the deadline", len(late))


async def stop_consuming(
    queue: MessageQueue,
    stop: asyncio.Event,
    tasks: list[asyncio.Task[None]],
    drain: Drain,
    *,
    in_process: bool,
) -> None:
    """Stop a worker's queue consumer (and its helpers, ``tasks[1:]``) within the grace.

    An in-process queue is worked off first: no other process will ever answer what it holds.
    A shared queue stops at once: the handler calls running now finish, the rest goes back to
    the stream and the partitions are released, so another worker takes them over. What is
    still running at the deadline is cancelled, which the queue treats like a crash: nothing
    is acked, and the message is delivered again (to another process, or after a restart).
    """
    drain.begin()
    if in_process:
        await _worked_off(queue, drain)
    stop.set()
    _, late = await asyncio.wait(tasks, timeout=drain.remaining())
    if late:
        log.warning(
            "shutdown: grace of %.1f s over with turns in flight; they are left unacked and "
            "will be delivered again",
            drain.grace,
        )
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)


async def _worked_off(queue: MessageQueue, drain: Drain) -> None:
    # the queue protocol has no "empty" event; its depth is cheap to read
    while drain.remaining() > 0 and await queue.depth() > 0:  # noqa: ASYNC110
        await asyncio.sleep(min(0.05, drain.remaining()))


def serve(
    app: web.Application, host: str, port: int, drain: Drain, welcome: str | None = None
) -> int:
    """Serve ``app`` until SIGTERM/SIGINT, then shut it down within the drain's grace.
    ``welcome``: a line logged once it listens (where a newcomer goes next)."""
    return asyncio.run(_serve(app, host, port, drain, welcome))


async def _serve(
    app: web.Application, host: str, port: int, drain: Drain, welcome: str | None = None
) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def first_signal(signum: int) -> None:
        log.info(
            "%s: shutting down; no new webhooks, %.1f s for the work in flight (a second "
            "signal exits at once)",
            signal.Signals(signum).name,
            drain.grace,
        )
        for sig in SIGNALS:  # a Python-level handler: it runs even while the loop is busy
            signal.signal(sig, _exit_now)
        _start_backstop(drain.grace + BACKSTOP)
        drain.begin()
        stop.set()

    for sig in SIGNALS:
        loop.add_signal_handler(sig, first_signal, sig)
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=STRAGGLER_TIMEOUT
    )
    started = loop.time()
    try:
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as e:
            # the commonest first-run problem: say what to change, not a traceback
            log.error(
                "cannot listen on %s:%d (%s); another process uses it? Choose another port "
                "with --port or OMNIRELAY_PORT (OMNIRELAY_WORKER_PORT for a worker)",
                host,
                port,
                e.strerror or e,
            )
            return 2
        log.info("serving on %s", " ".join(_addresses(runner)) or f"{host}:{port}")
        if welcome:
            log.info("%s", welcome)
        await stop.wait()
        started = loop.time()
    finally:
        await runner.cleanup()
    log.info("shutdown complete in %.2f s", loop.time() - started)
    return 0


def _addresses(runner: web.AppRunner) -> list[str]:
    return [f"http://{a[0]}:{a[1]}" for a in runner.addresses if isinstance(a, tuple)]


def _exit_now(signum: int, frame: FrameType | None) -> None:
    log.warning("second %s: exiting now, without finishing", signal.Signals(signum).name)
    _hard_exit(128 + signum)


def _start_backstop(after: float) -> None:
    """Exit even if a cleanup step hangs (or the event loop is blocked) past the grace."""

    def overran() -> None:
        log.error("shutdown still running %.1f s after the signal; exiting now", after)
        _hard_exit(1)

    timer = threading.Timer(after, overran)
    timer.daemon = True
    timer.start()


def _hard_exit(code: int) -> None:
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    sys.stderr.flush()
    os._exit(code)
