"""The three fake platforms of the campaign, each with an outage switch and a reply recorder.

Every reply the bot delivers (a send the fake answered with success) is written to the
`Ledger` with the time it arrived, so lost, doubled and reordered replies can be counted.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from tests.fakes import instagram as ig
from tests.fakes.instagram import FakeInstagram
from tests.fakes.outage import Outage, Platform
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from tests.fakes.viber import FakeViber
from tests.faults.ledger import Ledger

CHANNELS: tuple[Platform, ...] = ("telegram", "viber", "instagram")
TG_SECRET = "faults-secret_token-1"
VIBER_TOKEN = "4453b6ac12345678-e02c5f12174805f9-faultsfaults0001"
IG_APP_SECRET = "faults-app-secret-0123456789abcdef"
IG_VERIFY_TOKEN = "faults-verify-token"
IG_ACCESS_TOKEN = "IGQVJfaults-access-token"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Platforms:
    """Fake Telegram, Viber and Instagram on loopback ports, recording into `ledger`."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.outages = {name: Outage(name) for name in CHANNELS}
        self.telegram = FakeTelegram(DEFAULT_TOKEN, record=False)
        self.viber = FakeViber(
            VIBER_TOKEN, middlewares=[self._recorder("viber"), self.outages["viber"].middleware]
        )
        self.instagram = FakeInstagram(
            IG_ACCESS_TOKEN,
            ig.ACCOUNT_ID,
            middlewares=[self._recorder("instagram"), self.outages["instagram"].middleware],
        )
        # the fake Telegram parses every body encoding aiogram uses; its listener hears the
        # parsed parameters, so it records Telegram; the outage sits in front of it
        self.telegram.app.middlewares.append(self.outages["telegram"].middleware)
        self.telegram.add_listener(self._telegram_call)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Platforms]:
        async with self.telegram, self.viber, self.instagram:
            try:
                yield self
            finally:
                for outage in self.outages.values():
                    outage.stop()  # release held requests so the servers can close

    def settings(self) -> dict[str, str]:
        """`OMNIRELAY_*` variables that aim all three channels at these fakes."""
        return {
            "OMNIRELAY_TELEGRAM_TOKEN": DEFAULT_TOKEN,
            "OMNIRELAY_TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
            "OMNIRELAY_TELEGRAM_API_BASE": self.telegram.base_url,
            "OMNIRELAY_VIBER_TOKEN": VIBER_TOKEN,
            "OMNIRELAY_VIBER_API_BASE": self.viber.base_url,
            "OMNIRELAY_INSTAGRAM_APP_SECRET": IG_APP_SECRET,
            "OMNIRELAY_INSTAGRAM_VERIFY_TOKEN": IG_VERIFY_TOKEN,
            "OMNIRELAY_INSTAGRAM_ACCESS_TOKEN": IG_ACCESS_TOKEN,
            "OMNIRELAY_INSTAGRAM_ACCOUNT_ID": ig.ACCOUNT_ID,
            "OMNIRELAY_INSTAGRAM_API_BASE": self.instagram.base_url,
        }

    def start_outage(self, mode: Any, **options: Any) -> None:
        for outage in self.outages.values():
            outage.start(mode, **options)

    def stop_outage(self) -> None:
        for outage in self.outages.values():
            outage.stop()

    def outage_answers(self) -> dict[str, dict[str, int]]:
        return {name: dict(o.answered) for name, o in self.outages.items()}

    # ---- recording -------------------------------------------------------------------------

    def _telegram_call(self, method: str, params: dict[str, Any], status: int) -> None:
        if method == "sendMessage" and status == 200:
            self.ledger.reply("telegram", str(params.get("chat_id")), str(params.get("text")))

    def _recorder(self, platform: str) -> Any:
        @web.middleware
        async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
            response = await handler(request)
            if request.method == "POST" and _delivered(platform, response):
                try:
                    body = json.loads(await request.read())
                except ValueError:
                    return response
                found = _recipient_and_text(platform, body)
                if found is not None:
                    self.ledger.reply(platform, *found)
            return response

        return record


def _delivered(platform: str, response: web.StreamResponse) -> bool:
    if response.status != 200 or not isinstance(response, web.Response):
        return False
    if platform == "instagram":
        return True
    try:
        answer = json.loads(response.body or b"{}")  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return isinstance(answer, dict) and answer.get("status") == 0 and "message_token" in answer


def _recipient_and_text(platform: str, body: Any) -> tuple[str, str] | None:
    if not isinstance(body, dict):
        return None
    if platform == "viber":
        return str(body.get("receiver")), str(body.get("text"))
    message = body.get("message") or {}
    text = message.get("text") or json.dumps(message.get("attachment"))
    return str((body.get("recipient") or {}).get("id")), str(text)
