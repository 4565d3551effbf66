"""How an agent's reply ended reaches the agent: `message.delivery` (sent, failed,
undeliverable) on the live events, a `delivery_failed` entry on the ticket, and the status
and error on the transcript line; through the real webhook, API and fake Bot API, on both
backends."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bots.app import create_app
from bots.config import Settings
from storage.db import Database
from storage.models import Message
from tests.bots.conftest import (  # noqa: F401 (fixture)
    VIBER_TOKEN,
    fake_viber,
    new_chat_id,
    new_update_id,
)
from tests.fakes import viber as vb
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_updates import text_update
from tests.fakes.viber import FakeViber
from tests.handoff.conftest import Api, next_event, sse_events


async def _reply(api: Api, token: str, ticket_id: int, text: str) -> dict[str, Any]:
    sent = await api.ok("POST", f"/api/tickets/{ticket_id}/messages", token, {"text": text})
    assert sent["status"] == "pending" and sent["from"] == "agent"  # what follows is the event
    return dict(sent)


async def test_agent_reply_outcomes_are_reported(api: Api, fake_telegram: FakeTelegram) -> None:
    agent_id, token = await api.add_agent("vira", ["general"])
    chat = new_chat_id()
    await api.telegram(text_update(chat, "talk to a human please", update_id=new_update_id()))
    await fake_telegram.wait_for(lambda: len(fake_telegram.sent_messages(chat)) >= 2)
    [ticket] = await api.tickets(token)
    await api.ok("POST", f"/api/tickets/{ticket['id']}/claim", token)

    async with sse_events(api.client, token) as events:
        sent = await _reply(api, token, ticket["id"], "Hello, Vira here")
        event = (await next_event(events, "message.delivery"))["data"]
        assert event["ticket_id"] == ticket["id"] and event["agent_id"] == agent_id
        assert event["data"] == {
            **event["data"],
            "message_id": sent["id"],
            "delivery": "sent",
            "error": None,
            "channel": "telegram",
        }

        # a permanent platform error: given up at once, and said so
        fake_telegram.fail_next("sendMessage", status=400, description="Bad Request: bad text")
        failed = await _reply(api, token, ticket["id"], "This one is refused")
        event = (await next_event(events, "message.delivery"))["data"]
        assert event["data"]["message_id"] == failed["id"]
        assert event["data"]["delivery"] == "failed" and "bad text" in event["data"]["error"]

        # the customer blocked the bot meanwhile: undeliverable
        fake_telegram.fail_next("sendMessage", status=403)
        blocked = await _reply(api, token, ticket["id"], "Are you still there?")
        event = (await next_event(events, "message.delivery"))["data"]
        assert event["data"]["message_id"] == blocked["id"]
        assert event["data"]["delivery"] == "undeliverable"
        assert "blocked" in event["data"]["error"]

    # a console that reloads the ticket finds each outcome on its line and the failures on
    # the ticket's timeline
    detail = await api.ok("GET", f"/api/tickets/{ticket['id']}", token)
    lines = {m["id"]: m for m in detail["transcript"] if m["from"] == "agent"}
    assert [lines[sent["id"]]["status"], lines[sent["id"]]["error"]] == ["sent", None]
    assert lines[failed["id"]]["status"] == "failed" and "bad text" in lines[failed["id"]]["error"]
    assert lines[blocked["id"]]["status"] == "undeliverable"
    failures = [e["data"] for e in detail["events"] if e["kind"] == "delivery_failed"]
    assert [(f["message_id"], f["delivery"]) for f in failures] == [
        (failed["id"], "failed"),
        (blocked["id"], "undeliverable"),
    ]


async def test_bot_replies_are_not_reported_as_agent_deliveries(
    api: Api, fake_telegram: FakeTelegram
) -> None:
    _, token = await api.add_agent("yana", ["general"])
    chat = new_chat_id()
    async with sse_events(api.client, token) as events:
        await api.telegram(text_update(chat, "talk to a human please", update_id=new_update_id()))
        await fake_telegram.wait_for(lambda: len(fake_telegram.sent_messages(chat)) >= 2)
        [ticket] = await api.tickets(token)
        await api.ok("POST", f"/api/tickets/{ticket['id']}/claim", token)
        await _reply(api, token, ticket["id"], "Yana here")
        # the first delivery event is the agent's reply, not the bot's earlier notices
        event = (await next_event(events, "message.delivery"))["data"]
        assert event["data"]["text"] == "Yana here"


async def test_a_failed_receipt_after_sending_is_reported(
    handoff_settings: Callable[..., Settings],
    fake_viber: FakeViber,  # noqa: F811
) -> None:
    """Viber accepted the agent's reply, then reports it failed: the agent hears of it too."""
    settings = handoff_settings(viber_token=VIBER_TOKEN, viber_api_base=fake_viber.base_url)
    uid = uuid.uuid4().hex[:16] + "+/A=="
    async with TestClient(TestServer(create_app(settings))) as client:
        api = Api(client, settings)
        _, token = await api.add_agent("zoya", ["general"])

        async def viber(doc: dict[str, Any]) -> None:
            signed = vb.sign_callback(VIBER_TOKEN, doc)
            resp = await client.post(
                "/webhooks/viber" + signed.query, data=signed.body, headers=signed.headers
            )
            assert resp.status == 200

        await viber(vb.text_message("I want to talk to a person", sender=vb.user(uid)))
        await fake_viber.wait_for("send_message", within=10)
        [ticket] = await api.tickets(token)
        await api.ok("POST", f"/api/tickets/{ticket['id']}/claim", token)
        async with sse_events(client, token) as events:
            reply = await _reply(api, token, ticket["id"], "Zoya here")
            sent = (await next_event(events, "message.delivery"))["data"]["data"]
            assert (sent["message_id"], sent["delivery"]) == (reply["id"], "sent")
            db = Database(settings.database_url)
            try:
                async with db.session() as s:
                    row = await s.get(Message, reply["id"])
                    assert row is not None and row.platform_message_id
                    message_token = int(row.platform_message_id)
            finally:
                await db.dispose()
            await viber(vb.receipt("failed", message_token, uid, desc="device offline too long"))
            failed = (await next_event(events, "message.delivery"))["data"]["data"]
            assert (failed["message_id"], failed["delivery"]) == (reply["id"], "failed")
            assert failed["error"] == "device offline too long"
        detail = await api.ok("GET", f"/api/tickets/{ticket['id']}", token)
        [line] = [m for m in detail["transcript"] if m["id"] == reply["id"]]
        assert line["status"] == "failed" and line["error"] == "device offline too long"
