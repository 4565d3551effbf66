"""Running cross-channel scripts: the app with all three platform channels aimed at their
fakes, the "continue in ..." addresses and an admin token; shared by the tests and by
`tests/benchmarks/bench_continuity.py`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from bots.config import Settings
from tests.bots.conftest import (
    IG_ACCESS_TOKEN,
    IG_APP_SECRET,
    IG_VERIFY_TOKEN,
    TG_SECRET,
    VIBER_TOKEN,
)
from tests.conversations.cross_channel.channels import Fakes
from tests.conversations.cross_channel.conversation import CrossConversation
from tests.conversations.runner import Script, ScriptFailure, load_scripts, running_app
from tests.fakes import instagram as ig
from tests.fakes.instagram import FakeInstagram
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from tests.fakes.viber import FakeViber

SCRIPTS = Path(__file__).parent / "scripts"
ADMIN_TOKEN = "cross-channel-admin-token"
BOT_USERNAME = "omnirelay_test_bot"
VIBER_URI = "omnirelay"
INSTAGRAM_USER = "omnirelay"


def cross_scripts() -> list[Script]:
    return load_scripts(SCRIPTS)


@asynccontextmanager
async def open_fakes() -> AsyncIterator[Fakes]:
    """The three platform APIs on loopback ports."""
    async with AsyncExitStack() as stack:
        telegram = await stack.enter_async_context(FakeTelegram(DEFAULT_TOKEN))
        viber = await stack.enter_async_context(FakeViber(VIBER_TOKEN))
        instagram = await stack.enter_async_context(FakeInstagram(IG_ACCESS_TOKEN, ig.ACCOUNT_ID))
        yield Fakes(telegram, viber, instagram)


def channel_settings(fakes: Fakes) -> dict[str, Any]:
    """Settings that switch every channel on, aimed at `fakes`."""
    return {
        "telegram_token": DEFAULT_TOKEN,
        "telegram_webhook_secret": TG_SECRET,
        "telegram_api_base": fakes.telegram.base_url,
        "telegram_bot_username": BOT_USERNAME,
        "viber_token": VIBER_TOKEN,
        "viber_api_base": fakes.viber.base_url,
        "viber_chat_uri": VIBER_URI,
        "instagram_app_secret": IG_APP_SECRET,
        "instagram_verify_token": IG_VERIFY_TOKEN,
        "instagram_access_token": IG_ACCESS_TOKEN,
        "instagram_account_id": ig.ACCOUNT_ID,
        "instagram_api_base": fakes.instagram.base_url,
        "instagram_username": INSTAGRAM_USER,
        "admin_token": ADMIN_TOKEN,
    }


async def play(
    settings: Settings, fakes: Fakes, script: Script
) -> tuple[CrossConversation, ScriptFailure | None]:
    """Run `script` on a fresh app; the conversation (with its turn records) and the first
    failed expectation, if any."""
    async with running_app(settings) as client:
        conversation = CrossConversation(client, fakes, script)
        try:
            await conversation.setup()
            await conversation.run()
        except ScriptFailure as e:
            return conversation, e
    return conversation, None
