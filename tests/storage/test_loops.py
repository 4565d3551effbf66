"""`storage.loops.every`, the background loops' helper: a failing round is logged with the
loop's name and the next one runs; a set stop ends the pause at once, so a loop of an hour
stops as soon as it is told."""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

import pytest

from storage.loops import every

HOUR = 3600.0


class Stop(asyncio.Event):
    """A stop event that tells when a loop waits on it (its pause has begun)."""

    def __init__(self) -> None:
        super().__init__()
        self.waited = asyncio.Event()

    async def wait(self) -> Literal[True]:
        self.waited.set()
        return await super().wait()


async def _stopped(task: asyncio.Task[None]) -> None:
    """``task`` once it returned: its pause is an hour, so only a prompt stop gets here
    before the deadline."""
    async with asyncio.timeout(60):
        await task


async def test_a_loop_runs_at_once_and_stops_during_its_pause() -> None:
    stop, ran = Stop(), asyncio.Event()
    rounds = 0

    async def once() -> None:
        nonlocal rounds
        rounds += 1
        ran.set()

    task = asyncio.create_task(every(HOUR, once, stop, name="hourly"))
    await ran.wait()
    await stop.waited.wait()  # in the hour's pause after the round
    stop.set()
    await _stopped(task)
    assert rounds == 1


async def test_a_loop_that_waits_first_stops_before_its_first_round() -> None:
    stop = Stop()
    rounds = 0

    async def once() -> None:
        nonlocal rounds
        rounds += 1

    task = asyncio.create_task(every(HOUR, once, stop, name="hourly", at_once=False))
    await stop.waited.wait()  # the loop is in its first pause
    stop.set()
    await _stopped(task)
    assert rounds == 0
    await every(HOUR, once, stop, name="stopped already")  # returns at once, no round
    assert rounds == 0


async def test_a_failed_round_is_logged_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = asyncio.Event()
    rounds = 0

    async def flaky() -> None:
        nonlocal rounds
        rounds += 1
        if rounds == 1:
            raise RuntimeError("the database is away")
        stop.set()  # the second round ends the loop (it finishes first)

    with caplog.at_level(logging.ERROR, logger="storage.loops"):
        await every(0.0, flaky, stop, name="outbox sweep")
    assert rounds == 2
    [record] = [r for r in caplog.records if r.name == "storage.loops"]
    assert record.getMessage() == "outbox sweep failed; will try again"
    assert record.exc_info is not None and str(record.exc_info[1]) == "the database is away"


async def test_a_cancelled_loop_is_cancelled_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    stop, started = asyncio.Event(), asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(every(HOUR, forever, stop, name="hourly"))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not [r for r in caplog.records if r.name == "storage.loops"]
