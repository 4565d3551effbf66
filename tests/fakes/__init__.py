"""Loopback imitations of the platforms' HTTP APIs, and small helpers shared by tests."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any


async def wait_until(
    predicate: Callable[[], Any | Awaitable[Any]],
    *,
    timeout: float = 5.0,  # noqa: ASYNC109 (a deadline for the poll, as the name says)
    interval: float = 0.005,
    what: str = "condition",
) -> Any:
    """Poll `predicate` (sync or async) until it returns something truthy, and return that;
    fail with TimeoutError after `timeout` seconds.

    Polling with a deadline, not a fixed sleep: the test moves on as soon as the work is done.
    The interval grows up to 20x its start so slow conditions do not spin the loop.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = interval
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() >= deadline:
            raise TimeoutError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(delay)
        delay = min(delay * 2, interval * 20)
