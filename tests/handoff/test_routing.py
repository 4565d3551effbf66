"""Routing rules and their concurrency guards, on SQLite and PostgreSQL.

The race tests run several routers, each on its own engine (as separate processes would),
against one database: no ticket may be offered or assigned twice and no agent may go over
their limit, whatever the interleaving.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections import Counter
from typing import Any

from sqlalchemy import select

from handoff.auth import Principal, create_agent
from handoff.config import HandoffConfig
from handoff.errors import Conflict
from handoff.models import Agent, Ticket, TicketEvent
from handoff.routing import Router
from handoff.waiting import estimate
from storage.db import Database
from storage.models import Customer, utcnow

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)


async def _no_emit(*_: Any) -> None:
    return None


async def _agent(
    db: Database,
    name: str,
    skills: list[str],
    languages: list[str],
    *,
    limit: int = 3,
    role: str = "agent",
    online: bool = True,
) -> Agent:
    agent, _ = await create_agent(
        db, name, role=role, skills=skills, languages=languages, max_tickets=limit
    )
    if online:
        async with db.transaction() as s:
            stored = await s.get(Agent, agent.id)
            assert stored is not None
            stored.status, stored.last_seen_at = "online", NOW  # present when routed at NOW
    return agent


async def _tickets(db: Database, router: Router, topic: str, language: str, n: int) -> list[int]:
    queue = await router.queue_for(topic, language)
    ids = []
    async with db.transaction() as s:
        for i in range(n):
            customer = Customer(display_name=f"c{i}")
            s.add(customer)
            await s.flush()
            ticket = Ticket(
                customer_id=customer.id,
                queue_id=queue.id,
                status="queued",
                reason="test",
                language=language,
                priority=1,
                created_at=NOW + dt.timedelta(seconds=i),
            )
            s.add(ticket)
            await s.flush()
            ids.append(ticket.id)
    return ids


async def _state(db: Database) -> tuple[list[Ticket], list[Agent], list[TicketEvent]]:
    async with db.session() as s:
        tickets = list(await s.scalars(select(Ticket)))
        agents = list(await s.scalars(select(Agent)))
        events = list(await s.scalars(select(TicketEvent)))
    return tickets, agents, events


async def test_offer_goes_to_matching_agent_with_fewest_tickets(db: Database) -> None:
    router = Router(db, HandoffConfig(), _no_emit)
    busy = await _agent(db, "busy", ["orders"], ["uk"])
    await _agent(db, "free", ["orders"], ["uk"])
    await _agent(db, "english", ["orders"], ["en"])  # wrong language
    await _agent(db, "bookings", ["bookings"], ["uk"])  # wrong skill
    await _agent(db, "away", ["orders"], ["uk"], online=False)
    async with db.transaction() as s:
        (await s.get(Agent, busy.id)).load = 2  # type: ignore[union-attr]
    [ticket_id] = await _tickets(db, router, "orders", "uk", 1)
    agent = await router.route(ticket_id, NOW)
    assert agent is not None and agent.name == "free"


async def test_waits_when_nobody_is_free_then_offered_when_one_is(db: Database) -> None:
    router = Router(db, HandoffConfig(), _no_emit)
    solo = await _agent(db, "solo", ["orders"], ["uk"], limit=1)
    first, second = await _tickets(db, router, "orders", "uk", 2)
    assert await router.route_waiting(NOW) == 1
    ticket, _ = await router.load(second)
    assert ticket.status == "queued"  # solo is at the limit: it waits
    me = Principal.of(solo)
    claimed = await router.claim(first, me, NOW)
    wait = await estimate(db, router.config, router.hours, ticket, NOW)
    assert wait.minutes is not None and wait.minutes >= 1 and wait.free == 0
    await router.hand_over(
        claimed, {"status": "closed", "resolved_at": NOW}, kind="closed", actor=solo.id
    )
    assert await router.route_waiting(NOW) == 1
    ticket, _ = await router.load(second)
    assert ticket.status == "offered" and ticket.agent_id == solo.id


async def test_claiming_another_at_the_limit_gives_an_offer_back(db: Database) -> None:
    """Trial 4, G7: offers fill an agent's limit; claiming a queued ticket gives back the
    oldest offered one (to the queue, then to another agent) instead of "at your limit"."""
    router = Router(db, HandoffConfig(), _no_emit)
    solo = await _agent(db, "solo", ["orders"], ["uk"], limit=1)
    first, second = await _tickets(db, router, "orders", "uk", 2)
    assert await router.route_waiting(NOW) == 1  # first offered to solo, second waits
    helper = await _agent(db, "helper", ["orders"], ["uk"], limit=1)
    claimed = await router.claim(second, Principal.of(solo), NOW)
    assert claimed.status == "assigned" and claimed.agent_id == solo.id
    tickets, agents, events = await _state(db)
    by_id = {t.id: t for t in tickets}
    assert by_id[first].status == "offered" and by_id[first].agent_id == helper.id
    assert {a.name: a.load for a in agents} == {"solo": 1, "helper": 1}
    given = [e for e in events if e.ticket_id == first and e.kind == "offer_expired"]
    assert [(e.agent_id, e.data) for e in given] == [(solo.id, {"given_back": True})]
    # with nothing offered to give back, the limit holds
    [third] = await _tickets(db, router, "orders", "uk", 1)
    try:
        await router.claim(third, Principal.of(solo), NOW)
    except Conflict as e:
        assert "limit" in str(e)
    else:
        raise AssertionError("a claim over the limit went through")


async def test_unclaimed_offer_moves_on_then_goes_to_supervisors(db: Database) -> None:
    # everybody still counts as present at NOW + 200 s (they were seen at NOW)
    router = Router(db, HandoffConfig(offer_timeout=60, presence_timeout=600), _no_emit)
    a = await _agent(db, "a", ["orders"], ["uk"])
    b = await _agent(db, "b", ["orders"], ["uk"])
    boss = await _agent(db, "boss", [], ["uk"], role="supervisor")
    [ticket_id] = await _tickets(db, router, "orders", "uk", 1)
    first = await router.route(ticket_id, NOW)
    assert first is not None and first.id in (a.id, b.id)
    assert await router.expire_offers(NOW + dt.timedelta(seconds=30)) == 0  # not yet
    assert await router.expire_offers(NOW + dt.timedelta(seconds=61)) == 1
    ticket, _ = await router.load(ticket_id)
    other = b.id if first.id == a.id else a.id
    assert ticket.status == "offered" and ticket.agent_id == other and ticket.offer_count == 1
    assert await router.expire_offers(NOW + dt.timedelta(seconds=200)) == 1
    ticket, _ = await router.load(ticket_id)
    assert ticket.escalated and ticket.priority == 2
    assert ticket.status == "offered" and ticket.agent_id == boss.id
    _, agents, events = await _state(db)
    assert {x.name: x.load for x in agents} == {"a": 0, "b": 0, "boss": 1}
    assert [e.kind for e in events if e.ticket_id == ticket_id] == [
        "offered",
        "offer_expired",
        "offered",
        "escalated",
        "offered",
    ]


async def test_race_many_routers_never_double_assign_or_overload(database_url: str) -> None:
    dbs = [Database(database_url) for _ in range(4)]
    try:
        routers = [Router(db, HandoffConfig(), _no_emit) for db in dbs]
        for i in range(4):
            await _agent(dbs[0], f"agent{i}", ["orders"], ["uk"], limit=2)
        ids = await _tickets(dbs[0], routers[0], "orders", "uk", 20)

        async def worker(router: Router) -> None:
            order = ids[:]
            random.shuffle(order)
            await asyncio.gather(*(router.route(t, NOW) for t in order))
            await router.route_waiting(NOW)

        await asyncio.gather(*(worker(r) for r in routers))
        tickets, agents, events = await _state(dbs[0])
        offered = [t for t in tickets if t.status == "offered"]
        assert len(offered) == 8  # all capacity used, not a ticket more
        per_agent = Counter(t.agent_id for t in offered)
        assert all(n <= 2 for n in per_agent.values())
        assert {a.id: a.load for a in agents} == {a.id: per_agent[a.id] for a in agents}
        offers = Counter(e.ticket_id for e in events if e.kind == "offered")
        assert all(n == 1 for n in offers.values()) and len(offers) == 8
    finally:
        for db in dbs:
            await db.dispose()


async def test_race_claims_of_one_ticket_have_one_winner(database_url: str) -> None:
    dbs = [Database(database_url) for _ in range(4)]
    try:
        routers = [Router(db, HandoffConfig(), _no_emit) for db in dbs]
        agents = [await _agent(dbs[0], f"c{i}", ["orders"], ["uk"], limit=1) for i in range(6)]
        [ticket_id] = await _tickets(dbs[0], routers[0], "orders", "uk", 1)

        async def claim(i: int) -> int | None:
            try:
                await routers[i % 4].claim(ticket_id, Principal.of(agents[i]), utcnow())
            except Conflict:
                return None
            return agents[i].id

        winners = [w for w in await asyncio.gather(*(claim(i) for i in range(6))) if w]
        assert len(winners) == 1
        tickets, stored, events = await _state(dbs[0])
        assert tickets[0].status == "assigned" and tickets[0].agent_id == winners[0]
        assert sum(a.load for a in stored) == 1
        assert [e.kind for e in events] == ["assigned"]
    finally:
        for db in dbs:
            await db.dispose()
