"""The fake Telegram's control API under ``/_fake/``, for out-of-process use (benchmarks run
the fake with ``python -m tests.fakes.telegram``): read the calls, push updates, script
failures."""

from __future__ import annotations

import contextlib
from dataclasses import asdict
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from tests.fakes.telegram import Call, FakeTelegram


def add_control_routes(fake: FakeTelegram) -> None:
    """Register ``GET /_fake/calls``, ``POST /_fake/updates`` and ``POST /_fake/fail``."""

    async def calls(request: web.Request) -> web.Response:
        """`GET /_fake/calls?method=sendMessage&after=N&timeout=S`: calls with index >= N."""
        after = int(request.query.get("after", "0"))
        method = request.query.get("method")

        def pick() -> list[Call]:
            found = fake.calls[after:]
            return [c for c in found if method is None or c.method.lower() == method.lower()]

        timeout = float(request.query.get("timeout", "0"))
        if timeout > 0:
            with contextlib.suppress(TimeoutError):
                await fake.wait_for(lambda: bool(pick()), timeout=timeout)
        return web.json_response({"next": len(fake.calls), "calls": [asdict(c) for c in pick()]})

    async def push(request: web.Request) -> web.Response:
        body = await request.json()
        for update in body if isinstance(body, list) else [body]:
            fake.push_update(update)
        return web.json_response({"ok": True})

    async def fail(request: web.Request) -> web.Response:
        body = await request.json()
        fake.fail_next(**body)
        return web.json_response({"ok": True})

    fake.app.router.add_get("/_fake/calls", calls)
    fake.app.router.add_post("/_fake/updates", push)
    fake.app.router.add_post("/_fake/fail", fail)
