"""Taking a conversation over on one's own: the conversations list an agent or supervisor picks
from, and the take-over itself (one transaction, assigned to the caller, within their limit),
through the agent API over HTTP on both backends."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from handoff.api import HANDOFF
from handoff.models import Agent, Ticket
from storage.db import Database
from storage.models import Customer
from storage.repositories.customers import CustomerRepository
from tests.handoff.conftest import ADMIN, Api, next_event, sse_events


async def _customer_ids(api: Api, channel: str, users: list[str]) -> list[int]:
    db = Database(api.settings.database_url)
    try:
        async with db.session() as s:
            repo = CustomerRepository(s)
            found = [await repo.find_by_identity(channel, user) for user in users]
    finally:
        await db.dispose()
    assert all(c is not None for c in found)
    return [c.id for c in found if c is not None]


async def _ticket_counts(api: Api) -> tuple[int, int]:
    """(tickets in the database, sum of every agent's load)."""
    db = Database(api.settings.database_url)
    try:
        async with db.session() as s:
            tickets = await s.scalar(select(func.count(Ticket.id)))
            load = await s.scalar(select(func.coalesce(func.sum(Agent.load), 0)))
    finally:
        await db.dispose()
    return int(tickets or 0), int(load or 0)


async def test_take_over_is_never_offered_to_anybody_else_meanwhile(api: Api) -> None:
    """Routing ticks run all the time while the take-overs happen: none of the new tickets is
    ever offered to the idle agent (the caller would then get 409)."""
    await api.add_agent("idle", ["general"])  # online with room: routing would pick him
    me, token = await api.add_agent("taker", ["general"], max_tickets=20)
    users = [f"race-{i}" for i in range(8)]
    for user in users:
        await api.rest(user, "hello")
    customers = await _customer_ids(api, "rest", users)
    service = api.client.app[HANDOFF]
    stop = asyncio.Event()

    async def ticking() -> None:
        while not stop.is_set():
            await service.tick()
            await asyncio.sleep(0)

    async def tick_on_every_new_ticket() -> None:
        # another process's routing tick, right when a ticket appears
        async with service.bus.subscribe() as sub:
            while not stop.is_set():
                event = await sub.get(timeout=0.05)
                if event is not None and event.kind == "ticket.created":
                    await service.tick()

    ticker = asyncio.gather(ticking(), tick_on_every_new_ticket())
    try:
        answers = await asyncio.gather(
            *(api.call("POST", "/api/tickets", token, {"customer_id": c}) for c in customers)
        )
    finally:
        stop.set()
        await ticker
    assert [status for status, _ in answers] == [201] * len(customers), answers
    for _, ticket in answers:
        assert ticket["status"] == "assigned" and ticket["agent_id"] == me
        detail = await api.ok("GET", f"/api/tickets/{ticket['id']}", token)
        assert [e["kind"] for e in detail["events"]] == ["created", "assigned"]
    assert await _ticket_counts(api) == (len(customers), len(customers))


async def test_take_over_keeps_the_agents_limit_and_leaves_nothing_behind(api: Api) -> None:
    me, token = await api.add_agent("busy", ["general"], max_tickets=2)
    users = [f"limit-{i}" for i in range(5)]
    for user in users:
        await api.rest(user, "hello")
    customers = await _customer_ids(api, "rest", users)
    answers: list[tuple[int, Any]] = await asyncio.gather(
        *(api.call("POST", "/api/tickets", token, {"customer_id": c}) for c in customers)
    )
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201, 201, 409, 409, 409], answers
    assert all("limit" in doc["error"] for status, doc in answers if status == 409)
    # the refused ones opened nothing: no ticket waits in a queue for somebody else
    assert await _ticket_counts(api) == (2, 2)
    mine = await api.tickets(token, status="assigned")
    assert {t["agent_id"] for t in mine} == {me} and len(mine) == 2


async def _set_phone(api: Api, customer_id: int, phone: str) -> None:
    db = Database(api.settings.database_url)
    try:
        async with db.transaction() as s:
            customer = await s.get(Customer, customer_id)
            assert customer is not None
            customer.phone = phone
    finally:
        await db.dispose()


async def test_conversations_list_search_visibility_and_a_supervisors_take_over(
    api: Api,
) -> None:
    sup_id, sup = await api.add_agent("sup", ["general"], role="supervisor")
    _, uk_agent = await api.add_agent("oksana", ["general"], ["uk"])
    _, en_orders = await api.add_agent("oliver", ["orders"], ["en"])
    await api.rest("conv-olena", "привіт", name="Олена Коваль", language="uk")
    await api.rest("conv-john", "hello", name="John Smith")
    olena, john = await _customer_ids(api, "rest", ["conv-olena", "conv-john"])
    await _set_phone(api, olena, "+380501234567")

    async def names(token: str, query: str = "") -> list[str]:
        doc = await api.ok("GET", "/api/conversations" + query, token)
        return [c["name"] for c in doc["conversations"]]

    # a supervisor sees every customer, the latest conversation first
    listed = (await api.ok("GET", "/api/conversations", sup))["conversations"]
    assert [c["customer_id"] for c in listed] == [john, olena]
    first = listed[0]
    assert first["name"] == "John Smith" and first["last_channel"] == "rest"
    assert first["last_message"]["from"] == "bot" and first["last_message"]["text"]
    assert first["open_ticket"] is None and first["queue"] == {"topic": "general", "language": "en"}
    assert listed[1]["phone"] == "+380501234567" and listed[1]["language"] == "uk"
    # search by name (any case, Cyrillic too), part of a phone number, or the customer id
    assert await names(sup, "?q=олена") == ["Олена Коваль"]
    assert await names(sup, "?q=КОВАЛЬ") == ["Олена Коваль"]
    assert await names(sup, "?q=smith") == ["John Smith"]
    assert await names(sup, "?q=050%20123") == ["Олена Коваль"]
    assert await names(sup, f"?q={john}") == ["John Smith"]
    assert await names(sup, "?q=nobody%25") == []
    assert await names(ADMIN) == ["John Smith", "Олена Коваль"]
    # an agent sees whom a take-over would bring into their queues
    assert await names(uk_agent) == ["Олена Коваль"]
    assert await names(en_orders) == []
    for bad in ("?limit=0", "?limit=abc", f"?q={'x' * 101}"):
        status, doc = await api.call("GET", "/api/conversations" + bad, sup)
        assert status == 400 and doc["error"]
    assert (await api.call("GET", "/api/conversations", None))[0] == 401

    # the admin token is nobody to take over as
    assert (await api.call("POST", "/api/tickets", ADMIN, {"customer_id": olena}))[0] == 403
    async with sse_events(api.client, sup) as events:
        taken = await api.ok("POST", "/api/tickets", sup, {"customer_id": olena})
        assert taken["status"] == "assigned" and taken["agent_id"] == sup_id
        assert taken["reason"] == "agent_initiated" and taken["language"] == "uk"
        # while the supervisor has the customer the bot is silent, as with an escalation
        assert await api.rest("conv-olena", "ви тут?") == []
        relayed = await next_event(events, "message.customer")
        assert relayed["data"]["data"]["text"] == "ви тут?"
        assert relayed["data"]["ticket_id"] == taken["id"]
    [row] = (await api.ok("GET", "/api/conversations?q=Олена", uk_agent))["conversations"]
    assert row["open_ticket"] == {
        **row["open_ticket"],
        "id": taken["id"],
        "status": "assigned",
        "agent": "sup",
    }
    assert row["last_message"] == {**row["last_message"], "from": "customer", "text": "ви тут?"}
    # somebody else's conversation now: taking it over again is refused
    status, doc = await api.call("POST", "/api/tickets", uk_agent, {"customer_id": olena})
    assert status == 409
    # taking over the same customer twice is the same ticket
    again = await api.ok("POST", "/api/tickets", sup, {"customer_id": olena})
    assert again["id"] == taken["id"]
    assert await _ticket_counts(api) == (1, 1)


async def test_two_supervisors_taking_over_one_customer_at_once(api: Api) -> None:
    tokens = [(await api.add_agent(f"sup-{i}", ["general"], role="supervisor"))[1] for i in (1, 2)]
    await api.rest("contested", "hello")
    [customer] = await _customer_ids(api, "rest", ["contested"])
    answers = await asyncio.gather(
        *(api.call("POST", "/api/tickets", t, {"customer_id": customer}) for t in tokens)
    )
    assert sorted(status for status, _ in answers) == [201, 409], answers
    # one ticket, counted once against its owner's limit; the loser's load was rolled back
    assert await _ticket_counts(api) == (1, 1)
