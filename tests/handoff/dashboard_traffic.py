"""Scripted traffic with known answers for the dashboard's tests, through the real entry points:
customers on the REST channel and on Telegram (the fake Bot API), an agent through the agent API.

Ten conversations: seven customers look an order up and the bot answers them alone (six on REST,
one on Telegram); three Telegram customers ask for a person. The agent answers two of them (the
replies reach the fake Bot API), closes one, and that customer gives it a 4. So: 10
conversations, containment 7 of 10 tasks, handoff 3 of 10, two first responses, one resolution,
CSAT 4 from 1 of 1 asked; on Telegram alone 4 conversations, 1 contained, 3 handed over.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.bots.conftest import new_chat_id, new_update_id
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_updates import text_update
from tests.handoff.conftest import Api

ORDER = "where is my order A1001?"
PERSON = "I want to talk to a person"


@dataclass(frozen=True)
class Known:
    """What the traffic must show, as the dashboard's English texts put it."""

    conversations: int = 10
    containment: str = "70%"
    contained: str = "7 of 10 tasks"
    handoff: str = "30%"
    handed: str = "3 handed to a person"
    first_responses: int = 2
    resolved: int = 1
    csat: str = "4.0"
    csat_rate: str = "100%"
    telegram_conversations: int = 4
    telegram_containment: str = "25%"
    telegram_handoff: str = "75%"


def _texts(fake: FakeTelegram, chat: int) -> list[str]:
    return [str(m.get("text", "")) for m in fake.sent_messages(chat)]


async def telegram_says(fake: FakeTelegram, api: Api, chat: int, text: str, answer: str) -> None:
    """The customer writes on Telegram; returns once the bot's answer (`answer` in it) left,
    which is after the turn and its analytics events committed."""
    before = len(fake.sent_messages(chat))
    await api.telegram(text_update(chat, text, update_id=new_update_id()))
    await fake.wait_for(lambda: any(answer in t for t in _texts(fake, chat)[before:]), timeout=20)


async def ask_for_a_person(api: Api, fake: FakeTelegram) -> int:
    chat = new_chat_id()
    await telegram_says(fake, api, chat, PERSON, "colleague")
    return chat


async def scripted_day(api: Api, fake: FakeTelegram, agent_token: str) -> Known:
    """Run the traffic; return its known answers."""
    for i in range(6):
        assert await api.rest(f"dash-order-{i}", ORDER), "the bot answers an order lookup"
    await telegram_says(fake, api, new_chat_id(), ORDER, "A1001")
    chats = [await ask_for_a_person(api, fake) for _ in range(3)]

    tickets = sorted(await api.tickets(agent_token), key=lambda t: int(t["id"]))
    assert len(tickets) == 3, tickets
    for chat, ticket in zip(chats[:2], tickets[:2], strict=True):
        path = f"/api/tickets/{ticket['id']}"
        await api.ok("POST", f"{path}/claim", agent_token)
        await api.ok("POST", f"{path}/messages", agent_token, {"text": "Hello, Anna here."})

        def answered(c: int = chat) -> bool:
            return "Hello, Anna here." in _texts(fake, c)

        await fake.wait_for(answered, timeout=20)
    closed = tickets[0]
    await api.ok("POST", f"/api/tickets/{closed['id']}/close", agent_token, {"resolution": "done"})
    await fake.wait_for(lambda: any("rate" in t for t in _texts(fake, chats[0])), timeout=20)
    await telegram_says(fake, api, chats[0], "4", "Thank")
    detail = await api.ok("GET", f"/api/tickets/{closed['id']}", agent_token)
    assert detail["csat"] == 4, detail
    return Known()
