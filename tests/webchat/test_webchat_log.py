"""The visitors' event logs on both backends: order, resume after an id, a reader woken by an
append, ids no log handed out, the cap, one visitor's events never in another's log."""

from __future__ import annotations

import asyncio

from bots.channels.webchat import _open_log
from bots.channels.webchat_log import MemoryVisitorLog, VisitorLog
from storage.backends import Backends


def _log(backends: Backends) -> VisitorLog:
    return _open_log(backends)


async def test_events_come_back_in_order_and_resume_after_an_id(backends: Backends) -> None:
    log = _log(backends)
    try:
        ids = [await log.append("v:a", {"kind": "message", "text": str(i)}) for i in range(3)]
        await log.append("v:b", {"kind": "message", "text": "someone else"})
        everything = await log.read("v:a", None, 0)
        assert [e for _, e in everything] == [{"kind": "message", "text": str(i)} for i in range(3)]
        assert [i for i, _ in everything] == ids
        after_first = await log.read("v:a", ids[0], 0)
        assert [e["text"] for _, e in after_first] == ["1", "2"]
        assert await log.read("v:a", ids[-1], 0) == []
        # what no log hands out reads from the start, never an error (or a Redis command)
        for bogus in ("", "garbage", "1-2-3", "+inf", "-", "(0"):
            assert [e["text"] for _, e in await log.read("v:a", bogus, 0)] == ["0", "1", "2"]
    finally:
        await log.close()


async def test_a_waiting_reader_is_woken_by_an_append(backends: Backends) -> None:
    log = _log(backends)
    try:
        last = await log.append("v:w", {"kind": "message", "text": "first"})
        reader = asyncio.create_task(log.read("v:w", last, 30))
        await asyncio.sleep(0)  # the reader is waiting (a wake-up, not its 30 s, ends it)
        await log.append("v:w", {"kind": "message", "text": "second"})
        async with asyncio.timeout(10):
            got = await reader
        assert [e["text"] for _, e in got] == ["second"]
        assert await log.read("v:nobody", None, 0.01) == []  # a quiet wait ends empty
    finally:
        await log.close()


async def test_a_log_keeps_its_last_events_only() -> None:
    log = MemoryVisitorLog(max_events=3, max_visitors=2)
    for i in range(5):
        await log.append("v:a", {"text": str(i)})
    assert [e["text"] for _, e in await log.read("v:a", None, 0)] == ["2", "3", "4"]
    await log.append("v:b", {"text": "b"})
    await log.append("v:c", {"text": "c"})  # past two visitors: the least recent goes
    assert await log.read("v:a", None, 0) == []
