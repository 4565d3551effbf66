"""What the agent API lists, on SQLite and PostgreSQL: one rule for who serves and who sees a
queue (the "*" skill included), the customer's name and last channel in the ticket list, and
every queue a ticket may be transferred to."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from handoff.auth import Principal, create_agent
from handoff.config import HandoffConfig
from handoff.errors import HandoffError
from handoff.models import Agent, HandoffQueue, Ticket
from handoff.routing import Router, can_see, serves
from handoff.views import list_tickets, queues_summary, ticket_detail, transfer_targets
from storage.db import Database
from storage.repositories.customers import CustomerRepository
from storage.repositories.messages import MessageRepository

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)


async def _no_emit(*_: Any) -> None:
    return None


async def _agent(
    db: Database, name: str, skills: list[str], languages: list[str], *, online: bool = True
) -> Agent:
    agent, _ = await create_agent(db, name, skills=skills, languages=languages)
    async with db.transaction() as s:
        stored = await s.get(Agent, agent.id)
        assert stored is not None
        stored.status = "online" if online else "away"
        stored.last_seen_at = NOW  # present (handoff.routing.present) when routed at NOW
    agent.status = stored.status
    return agent


async def _customer(
    db: Database, channel: str, user: str, name: str | None, *, at: dt.datetime = NOW
) -> int:
    """A customer who wrote once on `channel` (profile name `name`, identity name set)."""
    async with db.transaction() as s:
        customer, _ = await CustomerRepository(s).resolve_identity(
            channel, user, display_name=name or f"{user}-nick", now=at
        )
        customer.display_name = name
        await MessageRepository(s).add_inbound(
            customer_id=customer.id,
            conversation_id=None,
            channel=channel,
            external_user_id=user,
            platform_message_id=f"{user}-1",
            text="hello",
            now=at,
        )
        return customer.id


async def _ticket(db: Database, router: Router, customer_id: int, topic: str, lang: str) -> int:
    queue = await router.queue_for(topic, lang)
    async with db.transaction() as s:
        ticket = Ticket(
            customer_id=customer_id,
            queue_id=queue.id,
            status="queued",
            reason="test",
            language=lang,
            created_at=NOW,
        )
        s.add(ticket)
        await s.flush()
        return ticket.id


async def test_a_wildcard_skill_serves_and_sees_the_same_queues(db: Database) -> None:
    router = Router(db, HandoffConfig(), _no_emit)
    star = await _agent(db, "star", ["*"], ["en"])
    assert star.skills == ["*"]  # "*" is accepted as a skill (and only as a whole skill)
    with pytest.raises(HandoffError):
        await create_agent(db, "bad", skills=["or*ders"])
    orders = await _agent(db, "orders", ["orders"], ["en", "uk"], online=False)
    wanted = [("orders", "en"), ("bookings", "en"), ("complaints", "en"), ("orders", "uk")]
    ids = {}
    for i, (topic, lang) in enumerate(wanted):
        customer = await _customer(db, "telegram", f"u{i}", f"c{i}")
        ids[(topic, lang)] = await _ticket(db, router, customer, topic, lang)

    for agent, expected in (
        (star, {k for k in wanted if k[1] == "en"}),
        (orders, {("orders", "en"), ("orders", "uk")}),
    ):
        me = Principal.of(agent)
        listed = {
            (t["queue"]["topic"], t["queue"]["language"]) for t in await list_tickets(db, me, None)
        }
        assert listed == expected, agent.name
        queues = {(q["topic"], q["language"]) for q in await queues_summary(db, me)}
        assert queues == expected, agent.name
        for key, ticket_id in ids.items():
            ticket, queue = await router.load(ticket_id)
            assert can_see(me, ticket, queue) == serves(agent, queue) == (key in expected)

    # and routing offers the wildcard agent exactly what it lists
    offered = {key for key, ticket_id in ids.items() if await router.route(ticket_id, NOW)}
    assert offered == {k for k in wanted if k[1] == "en"}


async def test_ticket_list_names_the_customer_and_their_last_channel(db: Database) -> None:
    router = Router(db, HandoffConfig(), _no_emit)
    admin = Principal.admin()
    named = await _customer(db, "telegram", "tg-1", "Olena")
    nameless = await _customer(db, "viber", "vb-1", None)  # only the identity has a name
    async with db.transaction() as s:
        # Olena wrote on Telegram, then on Instagram: replies go to Instagram now
        await MessageRepository(s).add_inbound(
            customer_id=named,
            conversation_id=None,
            channel="instagram",
            external_user_id="ig-1",
            platform_message_id="ig-1-1",
            text="it's me again",
            now=NOW + dt.timedelta(minutes=5),
        )
    first = await _ticket(db, router, named, "orders", "uk")
    await _ticket(db, router, nameless, "general", "en")
    rows = {t["customer_id"]: t for t in await list_tickets(db, admin, "queued")}
    assert rows[named]["customer_name"] == "Olena"
    assert rows[named]["last_channel"] == "instagram"
    assert rows[nameless]["customer_name"] == "vb-1-nick"
    assert rows[nameless]["last_channel"] == "viber"
    ticket, queue = await router.load(first)
    detail = await ticket_detail(db, ticket, queue)
    assert detail["last_channel"] == "instagram"


async def test_transfer_targets_cover_every_team(db: Database) -> None:
    router = Router(db, HandoffConfig(), _no_emit)
    await _agent(db, "olena", ["orders"], ["uk"])
    await _agent(db, "taras", ["vip"], ["en"], online=False)
    await _agent(db, "star", ["*"], ["en"])
    customer = await _customer(db, "telegram", "tg-2", "Ivan")
    await _ticket(db, router, customer, "orders", "uk")
    targets = await transfer_targets(db, ["orders", "general"], ["uk", "en"])
    by_key = {(q["topic"], q["language"]): q for q in targets}
    # configured topics in every language, plus what some agent serves
    assert set(by_key) == {
        ("general", "en"),
        ("general", "uk"),
        ("orders", "en"),
        ("orders", "uk"),
        ("vip", "en"),
    }
    async with db.session() as s:
        existing = await s.scalar(select(HandoffQueue).where(HandoffQueue.topic == "orders"))
    assert existing is not None
    assert by_key[("orders", "uk")] == {
        "id": existing.id,
        "topic": "orders",
        "language": "uk",
        "waiting": 1,
        "online": 1,
    }
    assert by_key[("vip", "en")]["id"] is None  # created by the first transfer to it
    assert by_key[("vip", "en")]["online"] == 1  # star serves every topic in English
    assert by_key[("general", "uk")]["online"] == 0  # nobody would pick it up now
