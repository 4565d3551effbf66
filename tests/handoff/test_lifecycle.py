"""A ticket's life through the real entry points: channel webhooks in, the agent API over HTTP,
replies out at the fake Bot API; on both backends."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bots.keys import WORKER
from bots.messages import InboundMessage, encode_event
from storage.db import Database
from storage.queue import Delivery
from storage.repositories.customers import CustomerRepository
from storage.repositories.messages import MessageRepository
from tests.bots.conftest import new_chat_id, new_update_id
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_updates import callback_update, text_update
from tests.handoff.conftest import Api, next_event, sse_events


async def _rows(api: Api, channel: str, user: str) -> list[Any]:
    db = Database(api.settings.database_url)
    try:
        async with db.session() as s:
            customer = await CustomerRepository(s).find_by_identity(channel, user)
            if customer is None:
                return []
            return list(await MessageRepository(s).transcript(customer.id))
    finally:
        await db.dispose()


async def test_request_for_a_person_opens_one_ticket_with_the_transcript(api: Api) -> None:
    agent_id, token = await api.add_agent("olena", ["general", "orders"])
    assert (await api.rest("cust-1", "hello"))[0]["text"]
    replies = await api.rest("cust-1", "I want to talk to a person")
    texts = " ".join(r["text"] for r in replies)
    assert "colleague" in texts and "min" in texts  # told a person comes, and the wait

    tickets = await api.tickets(token)
    assert len(tickets) == 1
    ticket = tickets[0]
    assert ticket["status"] == "offered" and ticket["agent_id"] == agent_id
    assert ticket["reason"] == "customer_asked_for_a_person"
    assert ticket["language"] == "en"

    # while the ticket waits the bot is silent, and no second ticket opens
    assert await api.rest("cust-1", "hello? where is everyone") == []
    assert await api.rest("cust-1", payload="/check_order_status") == []  # an old button
    assert len(await api.tickets()) == 1

    detail = await api.ok("GET", f"/api/tickets/{ticket['id']}", token)
    said = [(m["from"], m["text"]) for m in detail["transcript"]]
    assert said[0] == ("customer", "hello")
    assert ("customer", "I want to talk to a person") in said
    assert ("customer", "hello? where is everyone") in said
    assert any(who == "bot" for who, _ in said)
    assert detail["customer"]["identities"][0] == {
        **detail["customer"]["identities"][0],
        "channel": "rest",
        "external_id": "cust-1",
    }
    assert [e["kind"] for e in detail["events"]][:2] == ["created", "offered"]


async def test_agent_relay_close_and_csat_over_telegram(
    api: Api, fake_telegram: FakeTelegram
) -> None:
    agent_id, token = await api.add_agent("taras", ["general", "orders"], ["uk", "en"])
    chat = new_chat_id()
    await api.telegram(text_update(chat, "де моє замовлення?", update_id=new_update_id()))
    await fake_telegram.wait_for(1, method="sendMessage")
    await api.telegram(text_update(chat, "покличте людину", update_id=new_update_id()))
    await fake_telegram.wait_for(lambda: len(fake_telegram.sent_messages(chat)) >= 3)
    notice = fake_telegram.sent_messages(chat)[-1]["text"]
    assert "хв" in notice  # the wait, in Ukrainian

    [ticket] = await api.tickets(token, status="offered")
    assert ticket["queue"] == {**ticket["queue"], "topic": "orders", "language": "uk"}
    assert ticket["task"]["resume"] == "check_order_status"
    claimed = await api.ok("POST", f"/api/tickets/{ticket['id']}/claim", token)
    assert claimed["status"] == "assigned" and claimed["agent_id"] == agent_id
    assert claimed["agent"] == "taras"  # the answer names its agent, as the ticket's page does

    async with sse_events(api.client, token) as events:
        sent_before = len(fake_telegram.sent_messages(chat))
        await api.telegram(text_update(chat, "A1003 досі не прийшло", update_id=new_update_id()))
        relayed = await next_event(events, "message.customer")
        assert relayed["data"]["data"]["text"] == "A1003 досі не прийшло"
        assert relayed["data"]["ticket_id"] == ticket["id"]
        # relayed only once committed: a console reloading the ticket on the event has it
        detail = await api.ok("GET", f"/api/tickets/{ticket['id']}", token)
        assert detail["transcript"][-1]["text"] == "A1003 досі не прийшло"
        rows = await _rows(api, "telegram", str(chat))
        assert rows[-1].text == "A1003 досі не прийшло"
        assert rows[-1].direction == "in"  # stored, and the bot did not answer it

        # redelivered (as if its worker died between the commit and the relay): relayed
        # again with the same event id, stored once
        stored = rows[-1]
        again = InboundMessage(
            channel="telegram",
            user_id=stored.external_user_id,
            message_id=stored.platform_message_id,
            timestamp=dt.datetime.now(dt.UTC),
            text=stored.text,
        )
        worker = api.client.app[WORKER]
        await worker.handle(Delivery("again", again.ordering_key, encode_event(again), 2))
        repeat = await next_event(events, "message.customer")
        assert (
            repeat["data"]["id"]
            == relayed["data"]["id"]
            == f"telegram:{stored.platform_message_id}"
        )
        texts = [r.text for r in await _rows(api, "telegram", str(chat))]
        assert texts.count("A1003 досі не прийшло") == 1
        assert len(fake_telegram.sent_messages(chat)) == sent_before

        # the agent answers: out at the fake Bot API, in the transcript as from the agent
        reply = await api.ok(
            "POST", f"/api/tickets/{ticket['id']}/messages", token, {"text": "Перевіряю!"}
        )
        assert reply["channel"] == "telegram"
        await fake_telegram.wait_for(
            lambda: any(m["text"] == "Перевіряю!" for m in fake_telegram.sent_messages(chat))
        )
        await next_event(events, "message.agent")
    rows = await _rows(api, "telegram", str(chat))
    agent_rows = [r for r in rows if r.sender_kind == "agent"]
    assert [r.text for r in agent_rows] == ["Перевіряю!"]
    detail = await api.ok("GET", f"/api/tickets/{ticket['id']}", token)
    assert detail["first_response_at"] is not None
    assert ("agent", "Перевіряю!") in [(m["from"], m["text"]) for m in detail["transcript"]]

    # close: the bot is back and asks for a score; the unfinished task is offered after it
    before = len(fake_telegram.sent_messages(chat))
    closed = await api.ok(
        "POST", f"/api/tickets/{ticket['id']}/close", token, {"resolution": "courier found"}
    )
    assert closed["status"] == "closed" and closed["resolution"] == "courier found"
    await fake_telegram.wait_for(lambda: len(fake_telegram.sent_messages(chat)) >= before + 2)
    closing = fake_telegram.sent_messages(chat)[before:]
    csat = closing[1]
    payloads = [b["callback_data"] for row in csat["reply_markup"]["inline_keyboard"] for b in row]
    assert len(payloads) == 5
    await api.telegram(callback_update(chat, payloads[4], update_id=new_update_id()))
    await fake_telegram.wait_for(lambda: len(fake_telegram.sent_messages(chat)) >= before + 4)
    thanks, resume = fake_telegram.sent_messages(chat)[before + 2 :]
    assert "Дякуємо" in thanks["text"]
    assert resume["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "/check_order_status"
    done = await api.ok("GET", f"/api/tickets/{ticket['id']}", token)
    assert done["csat"] == 5 and done["resolved_at"] is not None
    agents = (await api.ok("GET", "/api/agents"))["agents"]
    assert [a["open_tickets"] for a in agents if a["id"] == agent_id] == [0]

    # the bot answers again
    await api.telegram(text_update(chat, "A1001", update_id=new_update_id()))
    await fake_telegram.wait_for(
        lambda: "A1001" in fake_telegram.sent_messages(chat)[-1]["text"], timeout=10
    )
