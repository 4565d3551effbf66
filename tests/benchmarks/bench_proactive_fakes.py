"""The proactive benchmark's platforms: the loopback fake Telegram and Viber, each refusing sends
beyond its pace the way the platform does, and a ledger of what they delivered.

A fake allows `rate` sends in any sliding second (+ `tolerance`): one more is answered as the
platform answers a flood (Telegram: HTTP 429 with ``retry_after``; Viber: status 12
``tooManyRequests`` in an HTTP 200) and is not delivered. Every delivered message is counted by
the job token in its text, so doubles and gaps can be told per job.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import math
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from tests.fakes.viber import FakeViber

__all__ = ["TOKEN", "VIBER_TOKEN", "Ledger", "Pace", "Platforms", "busiest_second"]

VIBER_TOKEN = "4453b6ac12345678-e02c5f12174805f9-benchproactive01"
TOKEN = re.compile(r"PJ\d+")  # the job's mark in the text (see bench_proactive_seed.job_token)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def tolerance_for(rate: float) -> int:
    """Sends a fake lets through beyond its rate in one second: jitter between the sender's
    pacing and the arrival (10%, at least 2)."""
    return max(2, math.ceil(rate * 0.1))


def busiest_second(times: list[float]) -> int:
    """The most sends in any window of one second (``times`` sorted)."""
    best = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


@dataclass
class Pace:
    """A sliding one-second window of accepted sends for one bot."""

    rate: float
    tolerance: int
    accepted: list[float] = field(default_factory=list)  # monotonic, ascending
    refused: int = 0

    @property
    def allowed(self) -> int:
        return int(self.rate) + self.tolerance

    def admit(self, now: float) -> bool:
        first = bisect.bisect_right(self.accepted, now - 1.0)
        if len(self.accepted) - first >= self.allowed:
            self.refused += 1
            return False
        self.accepted.append(now)
        return True


@dataclass
class Ledger:
    """Delivered messages per job token and platform."""

    counts: Counter[str] = field(default_factory=Counter)
    platform: dict[str, str] = field(default_factory=dict)  # token -> where it arrived (last)
    unmarked: int = 0  # delivered messages without a job token
    first: float | None = None
    last: float | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)  # set by the first message

    def delivered(self, where: str, text: str) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = now
            self.started.set()
        self.last = now
        found = TOKEN.search(text)
        if found is None:
            self.unmarked += 1
            return
        self.counts[found.group(0)] += 1
        self.platform[found.group(0)] = where

    @property
    def unique(self) -> int:
        return len(self.counts)

    @property
    def total(self) -> int:
        return sum(self.counts.values()) + self.unmarked

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.counts.values() if n > 1)


class Platforms:
    """Fake Telegram and Viber on loopback ports, paced at ``rates`` (platform -> per second)."""

    def __init__(self, rates: dict[str, float]) -> None:
        self.ledger = Ledger()
        self.paces = {name: Pace(rate, tolerance_for(rate)) for name, rate in rates.items()}
        self.telegram = FakeTelegram(DEFAULT_TOKEN, record=False)
        self.telegram.app.middlewares.append(self._pacer("telegram", "/sendmessage"))
        self.telegram.add_listener(self._telegram_call)
        self.viber = FakeViber(VIBER_TOKEN, middlewares=[self._viber_recorder()])

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Platforms]:
        async with self.telegram, self.viber:
            yield self

    def settings(self) -> dict[str, str]:
        """`OMNIRELAY_*` variables aiming the service's channels at these fakes."""
        return {
            "OMNIRELAY_TELEGRAM_TOKEN": DEFAULT_TOKEN,
            "OMNIRELAY_TELEGRAM_WEBHOOK_SECRET": "bench-proactive-secret",
            "OMNIRELAY_TELEGRAM_API_BASE": self.telegram.base_url,
            "OMNIRELAY_VIBER_TOKEN": VIBER_TOKEN,
            "OMNIRELAY_VIBER_API_BASE": self.viber.base_url,
        }

    def report(self) -> dict[str, Any]:
        """Per platform: the pace, the most sends in any one second, refusals (429s)."""
        return {
            name: {
                "rate_per_s": pace.rate,
                "refused_above": pace.allowed,
                "delivered": len(pace.accepted),
                "max_in_any_1s": busiest_second(pace.accepted),
                "refused_429": pace.refused,
            }
            for name, pace in self.paces.items()
        }

    # ---- pacing and recording ----------------------------------------------------------------

    def _admit(self, platform: str) -> bool:
        pace = self.paces.get(platform)
        return pace is None or pace.admit(time.monotonic())

    def _pacer(self, platform: str, path: str) -> Any:
        @web.middleware
        async def pace(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.path.lower().endswith(path) and not self._admit(platform):
                body = {
                    "ok": False,
                    "error_code": 429,
                    "description": "Too Many Requests: retry after 1",
                    "parameters": {"retry_after": 1},
                }
                return web.json_response(body, status=429)
            return await handler(request)

        return pace

    def _telegram_call(self, method: str, params: dict[str, Any], status: int) -> None:
        if method == "sendMessage" and status == 200:
            self.ledger.delivered("telegram", str(params.get("text", "")))

    def _viber_recorder(self) -> Any:
        @web.middleware
        async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
            if not request.path.endswith("/send_message"):
                return await handler(request)
            if not self._admit("viber"):
                return web.json_response({"status": 12, "status_message": "tooManyRequests"})
            response = await handler(request)
            self.viber.calls.clear()  # the ledger keeps what matters; the call log would grow
            answer = json.loads(getattr(response, "body", b"") or b"{}")
            if answer.get("status") == 0:
                body = json.loads(await request.read())
                self.ledger.delivered("viber", str(body.get("text", "")))
            return response

        return record
