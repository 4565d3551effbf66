"""An agent's reply on Instagram after the 24-hour window goes out with the HUMAN_AGENT tag."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from bots.app import create_app
from bots.config import Settings
from storage.db import Database
from storage.models import Message
from tests.bots.conftest import (  # noqa: F401 (fixture)
    IG_ACCESS_TOKEN,
    IG_APP_SECRET,
    IG_VERIFY_TOKEN,
    fake_instagram,
)
from tests.fakes import instagram as ig
from tests.fakes.instagram import FakeInstagram
from tests.handoff.conftest import Api


async def test_agent_reply_after_the_window_uses_the_human_agent_tag(
    handoff_settings: Callable[..., Settings],
    fake_instagram: FakeInstagram,  # noqa: F811
) -> None:
    settings = handoff_settings(
        instagram_app_secret=IG_APP_SECRET,
        instagram_verify_token=IG_VERIFY_TOKEN,
        instagram_access_token=IG_ACCESS_TOKEN,
        instagram_account_id=ig.ACCOUNT_ID,
        instagram_api_base=fake_instagram.base_url,
    )
    customer = str(10**15 + uuid.uuid4().int % 10**14)
    async with TestClient(TestServer(create_app(settings))) as client:
        api = Api(client, settings)
        _, token = await api.add_agent("insta", ["general"])
        signed = ig.sign(
            IG_APP_SECRET,
            ig.body(ig.entry(ig.message("I want to talk to a person", sender=customer))),
        )
        resp = await client.post("/webhooks/instagram", data=signed.body, headers=signed.headers)
        assert resp.status == 200
        await fake_instagram.wait_for(1)
        [ticket] = await api.tickets(token)
        await api.ok("POST", f"/api/tickets/{ticket['id']}/claim", token)
        # a day and a half later: the standard window is closed, the human-agent one is not
        db = Database(settings.database_url)
        try:
            async with db.transaction() as s:
                await s.execute(
                    update(Message)
                    .where(Message.customer_id == ticket["customer_id"])
                    .values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=36))
                )
        finally:
            await db.dispose()
        fake_instagram.closed_windows.add(customer)
        await api.ok(
            "POST", f"/api/tickets/{ticket['id']}/messages", token, {"text": "Sorry for the wait"}
        )
        [call] = await fake_instagram.wait_for(
            where=lambda c: c.body.get("message", {}).get("text") == "Sorry for the wait"
        )
        assert call.status == 200
        assert call.body["messaging_type"] == "MESSAGE_TAG" and call.body["tag"] == "HUMAN_AGENT"
