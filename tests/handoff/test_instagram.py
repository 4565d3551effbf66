"""An agent's reply on Instagram after the 24-hour window goes out with the HUMAN_AGENT tag,
whether the process that took the reply sends it or (gateway-only processes have no outbox)
a worker's outbox sweeper does."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update

from bots.app import create_app
from bots.config import Settings
from bots.keys import OUTBOX
from storage.db import Database
from storage.models import ChannelIdentity, Message
from tests.bots.conftest import (  # noqa: F401 (fixture)
    IG_ACCESS_TOKEN,
    IG_APP_SECRET,
    IG_VERIFY_TOKEN,
    fake_instagram,
)
from tests.fakes import instagram as ig
from tests.fakes import wait_until
from tests.fakes.instagram import FakeInstagram
from tests.handoff.conftest import Api, next_event, sse_events


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


async def _age_conversation(db: Database, customer_id: int, hours: float) -> None:
    """Make the customer's messages (and their identity's last inbound time) `hours` old."""
    then = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)
    async with db.transaction() as s:
        await s.execute(
            update(Message).where(Message.customer_id == customer_id).values(created_at=then)
        )
        await s.execute(
            update(ChannelIdentity)
            .where(ChannelIdentity.customer_id == customer_id)
            .values(last_inbound_at=then)
        )


async def _final_status(db: Database, text: str) -> str | None:
    """The status of the reply with this text once the outbox is done with it."""
    async with db.session() as s:
        status = await s.scalar(select(Message.status).where(Message.text == text))
    return None if status in (None, "pending") else str(status)


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.parametrize("mode", ["scaleout"])
async def test_reply_taken_by_a_gateway_is_tagged_when_a_worker_sweeper_sends_it(
    mode: str,
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
    gateway_app = create_app(settings, "gateway")
    db = Database(settings.database_url)
    try:
        async with (
            TestClient(TestServer(gateway_app)) as gateway,
            TestClient(TestServer(create_app(settings, "worker"))),
        ):
            assert OUTBOX not in gateway_app  # replies taken here are sent by a worker
            api = Api(gateway, settings)
            _, token = await api.add_agent("insta", ["general"])
            signed = ig.sign(
                IG_APP_SECRET,
                ig.body(ig.entry(ig.message("I want to talk to a person", sender=customer))),
            )
            resp = await gateway.post(
                "/webhooks/instagram", data=signed.body, headers=signed.headers
            )
            assert resp.status == 200
            await fake_instagram.wait_for(1, within=20)  # the worker told the wait
            [ticket] = await api.tickets(token)
            await api.ok("POST", f"/api/tickets/{ticket['id']}/claim", token)
            await _age_conversation(db, ticket["customer_id"], hours=36)
            fake_instagram.closed_windows.add(customer)

            text = "Sorry for the wait, I am on it"
            sent = await api.ok(
                "POST", f"/api/tickets/{ticket['id']}/messages", token, {"text": text}
            )
            assert sent["channel"] == "instagram"
            [call] = await fake_instagram.wait_for(
                where=lambda c: c.body.get("message", {}).get("text") == text, within=20
            )
            assert call.status == 200
            assert (
                call.body["messaging_type"] == "MESSAGE_TAG" and call.body["tag"] == "HUMAN_AGENT"
            )
            assert await wait_until(lambda: _final_status(db, text), timeout=10) == "sent"

            # past the human agent's 7 days nothing is sent: the reply is kept as undeliverable
            await _age_conversation(db, ticket["customer_id"], hours=24 * 8)
            late = "Are you still there?"
            # ... and the agent hears of it live, from the worker that gave up, through Redis
            async with sse_events(gateway, token) as events:
                await api.ok("POST", f"/api/tickets/{ticket['id']}/messages", token, {"text": late})
                event = (await next_event(events, "message.delivery", within=20))["data"]
            assert event["ticket_id"] == ticket["id"]
            assert event["data"]["delivery"] == "undeliverable" and event["data"]["text"] == late
            assert await wait_until(lambda: _final_status(db, late), timeout=20) == "undeliverable"
            assert not [
                c for c in fake_instagram.calls if c.body.get("message", {}).get("text") == late
            ]
    finally:
        await db.dispose()
