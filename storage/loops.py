"""Background loops that do something every N seconds until a stop event is set (`every`): the
outbox sweeper, the inbox sweeper, the queue consumer's heartbeat, the handoff's routing tick,
the analytics rollups, the retention run and SQLite's planner statistics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

__all__ = ["every", "wait_event"]

log = logging.getLogger(__name__)


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait up to ``seconds`` for ``event``; True when it is set."""
    if event.is_set():
        return True
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
    return event.is_set()


async def every(
    interval: float,
    fn: Callable[[], Awaitable[object]],
    stop: asyncio.Event,
    *,
    name: str,
    at_once: bool = True,
) -> None:
    """Await ``fn()`` every ``interval`` seconds until ``stop`` is set: at once, then after
    each pause (``at_once``), or first after one pause. A round that fails is logged with the
    loop's ``name`` and the next one tries again (a background task that died would stop its
    work without a word). ``stop`` ends a pause at once; a round under way is finished first."""
    if not at_once and await wait_event(stop, interval):
        return
    while not stop.is_set():
        try:
            await fn()
        except Exception:
            log.exception("%s failed; will try again", name)
        if await wait_event(stop, interval):
            return
