"""A loopback fake of the Telegram Bot API that records what it receives.

It speaks the real protocol (`GET|POST /bot<token>/<method>`, query, JSON, urlencoded or
multipart bodies, case-insensitive method names, `{"ok":...}` envelopes, HTTP status = error
code), so the real aiogram client can be aimed at it with
`AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))`.

In tests::

    async with FakeTelegram() as fake:
        fake.fail_next("sendMessage", status=429, retry_after=3)
        ...
        await fake.wait_for(1, method="sendMessage")

What the fake knows and its Bot API methods are in `tests.fakes.telegram_state`; this module
serves them over HTTP, with scripted failures and holds in front.

Standalone, for benchmarks (`python -m tests.fakes.telegram --port 8081`), a small control API
under `/_fake/` lets another process push updates, script failures and read the calls.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.telegram_control import add_control_routes
from tests.fakes.telegram_protocol import ERROR_DESCRIPTIONS, TelegramApiError, read_params
from tests.fakes.telegram_state import CANONICAL, BotState
from tests.fakes.telegram_updates import (  # noqa: F401 (re-exported for tests)
    BOT_USERNAME,
    callback_update,
    contact_update,
    edited_update,
    message_update,
    my_chat_member_update,
    poll_update,
    start_update,
    text_update,
)

DEFAULT_TOKEN = "123456789:TEST-fake-token_omnirelay"


@dataclass(frozen=True, slots=True)
class Call:
    """One request the fake received."""

    method: str  # canonical spelling when known ("sendMessage"), else as sent
    params: dict[str, Any]
    at: float  # time.monotonic()
    status: int = 200  # what the fake answered
    content_type: str = ""  # how the parameters came: application/json, multipart/form-data...


@dataclass(slots=True)
class _Failure:
    status: int
    description: str
    parameters: dict[str, Any] | None


class FakeTelegram:
    """The fake Bot API server. One instance serves one or more bot tokens."""

    def __init__(
        self,
        token: str | Iterable[str] = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        record: bool = True,
    ) -> None:
        self.tokens = {token} if isinstance(token, str) else set(token)
        self.host = host
        self.port = port
        self.record = record
        self.calls: list[Call] = []
        self.state = BotState(self.tokens)
        self._failures: dict[str, deque[_Failure]] = defaultdict(deque)
        self._runner: web.AppRunner | None = None
        self._listeners: list[Callable[[str, dict[str, Any], int], None]] = []
        self._holds: dict[str, deque[asyncio.Event]] = defaultdict(deque)
        self.held: dict[str, int] = defaultdict(int)  # calls waiting in a hold, per method
        self.app = web.Application()
        self.app.router.add_route("*", "/bot{token}/{method}", self._handle)
        add_control_routes(self)

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])  # the real one when port=0

    async def stop(self) -> None:
        self.state.closing.set()  # wake long-polling getUpdates so shutdown does not wait
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """What to pass to `TelegramAPIServer.from_base`."""
        return f"http://{self.host}:{self.port}"

    # ---- test helpers ----------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int = 500,
        description: str | None = None,
        retry_after: int | None = None,
        count: int = 1,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next `count` calls of `method` with a Telegram error.

        `retry_after` adds `"parameters": {"retry_after": S}`; a 429 without it imitates the
        2016-era answers that had no parameters.
        """
        if description is None:
            description = ERROR_DESCRIPTIONS.get(status, "Error")
            if status == 429 and retry_after is not None:
                description = f"Too Many Requests: retry after {retry_after}"
        params = dict(parameters or {})
        if retry_after is not None:
            params["retry_after"] = retry_after
        for _ in range(count):
            self._failures[method.lower()].append(_Failure(status, description, params or None))

    def add_listener(self, listener: Callable[[str, dict[str, Any], int], None]) -> None:
        """Call `listener(method, params, status)` for every answered call (benchmarks)."""
        self._listeners.append(listener)

    def hold_next(self, method: str) -> asyncio.Event:
        """Keep the next call of `method` unanswered (and unrecorded) until the returned event
        is set: a platform that hangs, so a test can kill the caller mid-request."""
        release = asyncio.Event()
        self._holds[method.lower()].append(release)
        return release

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for `getUpdates`."""
        self.state.updates.append(update)
        self._notify()

    def calls_to(self, method: str) -> list[Call]:
        m = method.lower()
        return [c for c in self.calls if c.method.lower() == m]

    def sent_messages(self, chat_id: int | str | None = None) -> list[dict[str, Any]]:
        """Params of successful `sendMessage` calls, optionally to one chat."""
        return [
            c.params
            for c in self.calls_to("sendMessage")
            if c.status == 200 and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))
        ]

    async def wait_for(
        self,
        condition: int | Callable[[], bool],
        *,
        method: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 (the deadline of the wait)
    ) -> None:
        """Wait until `condition()` holds, or until `condition` calls (of `method`) were made.

        Woken by every recorded call, with a deadline; raises TimeoutError listing the calls.
        """
        if isinstance(condition, int):
            n = condition

            def check() -> bool:
                return len(self.calls_to(method) if method else self.calls) >= n

        else:
            check = condition
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not check():
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = [(c.method, c.status) for c in self.calls]
                raise TimeoutError(f"fake Telegram: condition not met in {timeout} s; calls={seen}")
            self.state.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.state.changed.wait(), remaining)

    def _notify(self) -> None:
        self.state.changed.set()

    # ---- the Bot API -----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        raw_method = request.match_info["method"]
        method = CANONICAL.get(raw_method.lower(), raw_method)
        ctype = request.content_type if request.can_read_body else ""
        try:
            params = await read_params(request)
        except TelegramApiError as e:
            return self._finish(method, {}, e, ctype)
        try:
            if token not in self.tokens:
                raise TelegramApiError(401, "Unauthorized")
            holds = self._holds.get(method.lower())
            if holds:
                release = holds.popleft()
                self.held[method] += 1
                self._notify()
                try:
                    await release.wait()
                finally:
                    self.held[method] -= 1
                raise TelegramApiError(500, "Internal Server Error: released from a hold")
            failures = self._failures.get(method.lower())
            if failures:
                f = failures.popleft()
                raise TelegramApiError(f.status, f.description, f.parameters)
            handler = self.state.method(method)
            if handler is None:
                raise TelegramApiError(404, "Not Found")
            result = await handler(params)
        except TelegramApiError as e:
            return self._finish(method, params, e, ctype)
        self._record(method, params, 200, ctype)
        return web.json_response({"ok": True, "result": result})

    def _finish(
        self, method: str, params: dict[str, Any], e: TelegramApiError, ctype: str
    ) -> web.Response:
        self._record(method, params, e.status, ctype)
        body: dict[str, Any] = {"ok": False, "error_code": e.status, "description": e.description}
        if e.parameters:
            body["parameters"] = e.parameters
        return web.json_response(body, status=e.status)

    def _record(self, method: str, params: dict[str, Any], status: int, ctype: str) -> None:
        if self.record:
            call = Call(method, params, at=time.monotonic(), status=status, content_type=ctype)
            self.calls.append(call)
        for listener in self._listeners:
            listener(method, params, status)
        self._notify()


async def _serve(host: str, port: int, tokens: list[str], record: bool) -> None:
    fake = FakeTelegram(tokens, host=host, port=port, record=record)
    await fake.start()
    print(f"fake Telegram Bot API on {fake.base_url} (tokens: {', '.join(tokens)})", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Loopback fake of the Telegram Bot API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", action="append", help="accepted bot token (repeatable)")
    parser.add_argument("--no-record", action="store_true", help="do not keep the call log")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.token or [DEFAULT_TOKEN], not args.no_record))


if __name__ == "__main__":
    main()
