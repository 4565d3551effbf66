"""Each web-chat visitor's event log: what the widget shows, in order, with resumable ids.

The worker's outbox (`WebchatChannel.send`), in whatever process it runs, appends a reply to the
visitor's log; the gateway process that holds the visitor's event stream (server-sent events)
reads from it. A reconnecting widget names the last id it showed (``Last-Event-ID``) and gets
exactly what came after, so nothing is missed or shown twice, whichever gateway it reaches.

In one process (no Redis) the log is memory; with Redis it is a stream per visitor (capped,
expiring after a day of silence), and a pub/sub notice wakes the gateways' readers at once.
Readers do not depend on the notice: a wait that hears nothing reads the stream again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Protocol

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from storage.errors import BackendUnavailable
from storage.redis import close_subscription, subscribe

__all__ = ["LogEvent", "MemoryVisitorLog", "RedisVisitorLog", "VisitorLog", "erase_visitor_logs"]

log = logging.getLogger(__name__)

MAX_EVENTS = 200  # per visitor: the history a fresh page shows, and how far a resume reaches
MAX_VISITORS = 10_000  # in memory, the least recently written are forgotten past this
TTL_SECONDS = 24 * 3600  # a Redis log expires after this much silence
LogEvent = tuple[str, dict[str, Any]]  # (event id, the event)
_MEMORY_ID = re.compile(r"\d{1,18}")
_STREAM_ID = re.compile(r"\d{1,18}-\d{1,18}")
_MEMORY_LOGS: weakref.WeakSet[MemoryVisitorLog] = weakref.WeakSet()  # this process's


def log_key(prefix: str, visitor: str) -> str:
    """The Redis stream of one visitor's events."""
    return f"{prefix}:webchat:{{v:{visitor}}}"


async def erase_visitor_logs(
    redis: aioredis.Redis | None, prefix: str | None, visitors: list[str]
) -> int:
    """An erasure (`bots.privacy.erasure_kv`): the visitors' logs go at once, not a day later
    (Redis, else every log of this process); how many logs went."""
    if redis is not None and prefix is not None:
        keys = [log_key(prefix, v) for v in visitors]
        return int(await redis.delete(*keys)) if keys else 0
    return sum([await log.forget(v) for log in list(_MEMORY_LOGS) for v in visitors])


class VisitorLog(Protocol):
    async def append(self, visitor: str, event: dict[str, Any]) -> str:
        """Add ``event`` to the visitor's log; its id."""
        ...

    async def read(self, visitor: str, after: str | None, wait: float) -> list[LogEvent]:
        """Events after id ``after`` (all kept, when None or not an id of this log); when there
        are none, wait up to ``wait`` seconds for the next ones (maybe still none)."""
        ...

    async def close(self) -> None: ...


class _Watchers:
    """Readers of this process waiting for a visitor's next event."""

    def __init__(self) -> None:
        self._by_visitor: dict[str, set[asyncio.Event]] = {}

    @contextlib.contextmanager
    def watch(self, visitor: str) -> Iterator[asyncio.Event]:
        event = asyncio.Event()
        self._by_visitor.setdefault(visitor, set()).add(event)
        try:
            yield event
        finally:
            waiting = self._by_visitor.get(visitor)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._by_visitor[visitor]

    def wake(self, visitor: str) -> None:
        for event in self._by_visitor.get(visitor, ()):
            event.set()


Fetch = Callable[[], Awaitable[list[LogEvent]]]


async def _read(watchers: _Watchers, visitor: str, wait: float, fetch: Fetch) -> list[LogEvent]:
    """``fetch()``, and once more after a wake-up or ``wait`` seconds when it found nothing
    (the watch is registered first, so an append between the two is not slept through)."""
    with watchers.watch(visitor) as woken:
        found = await fetch()
        if found or wait <= 0:
            return found
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(woken.wait(), wait)
    return await fetch()


class MemoryVisitorLog:
    """The logs of one process: ids are one counter's values, increasing across visitors."""

    def __init__(self, max_events: int = MAX_EVENTS, max_visitors: int = MAX_VISITORS) -> None:
        self._logs: OrderedDict[str, deque[tuple[int, dict[str, Any]]]] = OrderedDict()
        self._next = time.time_ns() // 1000  # increasing across restarts too
        self._max_events = max_events
        self._max_visitors = max_visitors
        self._watchers = _Watchers()
        _MEMORY_LOGS.add(self)

    async def forget(self, visitor: str) -> int:
        return 1 if self._logs.pop(visitor, None) is not None else 0

    async def append(self, visitor: str, event: dict[str, Any]) -> str:
        self._next += 1
        entries = self._logs.get(visitor)
        if entries is None:
            entries = self._logs[visitor] = deque(maxlen=self._max_events)
            while len(self._logs) > self._max_visitors:
                self._logs.popitem(last=False)
        self._logs.move_to_end(visitor)
        entries.append((self._next, event))
        self._watchers.wake(visitor)
        return str(self._next)

    async def read(self, visitor: str, after: str | None, wait: float) -> list[LogEvent]:
        since = int(after) if after is not None and _MEMORY_ID.fullmatch(after) else 0

        async def fetch() -> list[LogEvent]:
            entries = self._logs.get(visitor, ())
            return [(str(i), e) for i, e in entries if i > since]

        return await _read(self._watchers, visitor, wait, fetch)

    async def close(self) -> None:
        return None


class RedisVisitorLog:
    """A Redis stream per visitor; appends publish the visitor's id on one notice channel,
    to which a gateway subscribes on its first read."""

    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str,
        *,
        max_events: int = MAX_EVENTS,
        ttl: int = TTL_SECONDS,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._max_events = max_events
        self._ttl = ttl
        self._watchers = _Watchers()
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None
        self._subscribing = asyncio.Lock()

    def _key(self, visitor: str) -> str:
        return log_key(self._prefix, visitor)

    @property
    def _notices(self) -> str:
        return f"{self._prefix}:webchat:notices"

    async def append(self, visitor: str, event: dict[str, Any]) -> str:
        key = self._key(visitor)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xadd(
                    key, {"e": orjson.dumps(event)}, maxlen=self._max_events, approximate=False
                )
                pipe.expire(key, self._ttl)
                pipe.publish(self._notices, visitor.encode())
                event_id, _, _ = await pipe.execute()
        except RedisError as e:
            raise BackendUnavailable(f"web chat log append failed: {e}") from e
        return event_id.decode() if isinstance(event_id, bytes) else str(event_id)

    async def read(self, visitor: str, after: str | None, wait: float) -> list[LogEvent]:
        if wait > 0:
            await self._subscribe()
        start = f"({after}" if after is not None and _STREAM_ID.fullmatch(after) else "-"

        async def fetch() -> list[LogEvent]:
            try:
                rows: Any = await self._redis.xrange(self._key(visitor), min=start, count=500)
            except RedisError as e:
                raise BackendUnavailable(f"web chat log read failed: {e}") from e
            return [(i.decode(), orjson.loads(fields[b"e"])) for i, fields in rows or ()]

        return await _read(self._watchers, visitor, wait, fetch)

    async def _subscribe(self) -> None:
        async with self._subscribing:
            if self._listener is not None:
                return
            self._pubsub = await subscribe(self._redis, self._notices)
            self._listener = asyncio.create_task(self._listen(self._pubsub), name="webchat-log")

    async def _listen(self, pubsub: PubSub) -> None:
        async for visitor in _notices(pubsub):
            self._watchers.wake(visitor)

    async def close(self) -> None:
        await close_subscription(self._listener, self._pubsub)
        self._listener, self._pubsub = None, None


async def _notices(pubsub: PubSub) -> AsyncIterator[str]:
    while True:
        try:
            msg: Any = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
        except (RedisError, OSError) as e:
            log.warning("web chat notices: subscription error: %s", e)
            await asyncio.sleep(1.0)  # readers still read again after their wait
            continue
        if msg is not None and msg.get("type") in ("message", b"message"):
            yield msg["data"].decode()
