"""Platform-wide outages for the fakes: a rate-limit wave, a 5xx storm, a hanging API.

Where `fail_next` scripts one answer, an `Outage` is a *mode* that lasts until it is switched
off: every send call (or a fraction of them) is answered the way the platform answers when it
is in that state, and nothing is delivered. It plugs into each fake as an aiohttp middleware::

    outage = Outage("viber")
    async with FakeViber(token, middlewares=[outage.middleware]) as viber: ...
    outage.start("5xx")      # ... traffic meets a storm ...
    outage.stop()

Modes:

- ``429``: Too Many Requests *with* the platform's retry hint (Telegram's
  ``parameters.retry_after``; an HTTP 429 with a ``Retry-After`` header from Viber's or Meta's
  front end).
- ``429-bare``: the rate limit *without* a hint (Telegram's old answers without parameters,
  Viber's ``status 12`` inside an HTTP 200, Meta's ``(#613)`` with HTTP 400).
- ``5xx``: a storm of 500/502/503 answers (JSON where the platform writes JSON, an HTML page
  where a load balancer answers).
- ``hang``: the request is held unanswered, past the client's timeout, until the outage ends
  or ``hang_seconds`` pass; then a 504. The message is *not* delivered (a platform that lost it,
  not one that delivered and lost the answer: that case cannot be told from a timeout by any
  client and would deliver twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections.abc import Awaitable, Callable
from typing import Literal

from aiohttp import web

Platform = Literal["telegram", "viber", "instagram"]
Mode = Literal["429", "429-bare", "5xx", "hang"]
MODES: tuple[Mode, ...] = ("429", "429-bare", "5xx", "hang")

# the calls an outage hits: sending, never the webhook set-up or getMe
_SEND_PATHS: dict[Platform, tuple[str, ...]] = {
    "telegram": ("/sendmessage",),
    "viber": ("/send_message",),
    "instagram": ("/messages",),
}
_HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Outage:
    """One platform's outage switch; `middleware` goes into the fake's aiohttp app."""

    def __init__(self, platform: Platform, *, seed: int = 0) -> None:
        self.platform = platform
        self.mode: Mode | None = None
        self.share = 1.0  # fraction of calls hit while active
        self.retry_after = 1
        self.hang_seconds = 60.0
        self.answered: dict[str, int] = {}  # what the outage answered, by kind (for reports)
        self._ended = asyncio.Event()
        self._random = random.Random(seed)
        self._statuses = itertools.cycle((500, 502, 503))

    @property
    def active(self) -> bool:
        return self.mode is not None

    def start(
        self,
        mode: Mode,
        *,
        share: float = 1.0,
        retry_after: int = 1,
        hang_seconds: float = 60.0,
    ) -> None:
        """Switch the outage on (replacing any other mode)."""
        if mode not in MODES:
            raise ValueError(f"unknown outage mode {mode!r}; one of {MODES}")
        self.mode, self.share = mode, share
        self.retry_after, self.hang_seconds = retry_after, hang_seconds
        self._ended.clear()

    def stop(self) -> None:
        """Back to normal; requests held by ``hang`` are released (with a 504)."""
        self.mode = None
        self._ended.set()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        mode = self.mode
        if mode is None or not self._hits(request) or self._random.random() >= self.share:
            return await handler(request)
        await request.read()  # a real server reads the body before it fails
        self.answered[mode] = self.answered.get(mode, 0) + 1
        if mode == "hang":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ended.wait(), self.hang_seconds)
            return web.Response(status=504, text="Gateway Time-out")
        if mode == "5xx":
            return self._server_error(next(self._statuses))
        return self._rate_limited(hint=mode == "429")

    def _hits(self, request: web.Request) -> bool:
        path = request.path.lower()
        return request.method == "POST" and path.endswith(_SEND_PATHS[self.platform])

    def _rate_limited(self, *, hint: bool) -> web.Response:
        wait = self.retry_after
        if self.platform == "telegram":
            body: dict[str, object] = {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {wait}"
                if hint
                else "Too Many Requests",
            }
            if hint:
                body["parameters"] = {"retry_after": wait}
            return web.json_response(body, status=429)
        if hint:  # the front end's answer, the only place Viber and Meta put a wait
            headers = {"Retry-After": str(wait)}
            if self.platform == "viber":
                return web.json_response(
                    {"status": 12, "status_message": "tooManyRequests"}, status=429, headers=headers
                )
            return web.json_response(_graph_error(4, "(#4) Application request limit reached"),
                                     status=429, headers=headers)  # fmt: skip
        if self.platform == "viber":
            return web.json_response({"status": 12, "status_message": "tooManyRequests"})
        return web.json_response(
            _graph_error(613, "(#613) Calls to this api have exceeded the rate limit."), status=400
        )

    def _server_error(self, status: int) -> web.Response:
        if status == 502:
            return web.Response(status=502, text=_HTML_502, content_type="text/html")
        if self.platform == "telegram":
            body: dict[str, object] = {
                "ok": False,
                "error_code": status,
                "description": "Internal Server Error" if status == 500 else "Service Unavailable",
            }
            return web.json_response(body, status=status)
        if self.platform == "viber":
            return web.Response(status=status, text="Service Unavailable")
        code = 1 if status == 500 else 2
        return web.json_response(
            _graph_error(code, "An unexpected error has occurred. Please retry later."),
            status=status,
        )


def _graph_error(code: int, message: str) -> dict[str, object]:
    kind = "OAuthException"
    return {"error": {"message": message, "type": kind, "code": code, "fbtrace_id": "AoutageXyz"}}
