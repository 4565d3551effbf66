"""The handoff's reads (issue 19): a read of one statement runs without a transaction around it
(`Database.run` with ``write=False``). On PostgreSQL a message to an open ticket then costs the
worker's handoff gate and its relay one round trip each (the ticket joined to its queue), where
each was BEGIN, two statements and ROLLBACK. Round trips are counted as in
tests/storage/test_read_units.py: the socket writes of the connections to PostgreSQL. The same
reads answer alike on SQLite (the last test, on both backends)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest

from handoff.config import HandoffConfig
from handoff.errors import NotFound
from handoff.events import MemoryEventBus
from handoff.hook import HandoffHook
from handoff.models import Ticket
from handoff.routing import Router
from handoff.service import HandoffService
from storage.backends import open_backends
from storage.db import Database
from storage.models import Customer
from storage.sessions import Session
from tests.storage.test_read_units import Wire, pg_url  # noqa: F401 (a fixture)

NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)


class _Texts:
    """Reply templates: these reads send no reply."""

    def __call__(self, key: str, language: str | None, **values: Any) -> str:
        return key

    def raw(self, key: str, language: str | None) -> Any:
        return key


@dataclasses.dataclass
class _Message:
    text: str | None
    channel: str = "rest"
    user_id: str = "reader"
    message_id: str = "m1"
    payload: str | None = None
    contact_phone: str | None = None


@dataclasses.dataclass
class _Turn:
    """The part of a worker's turn the handoff hook reads (`handoff.hook.TurnView`)."""

    message: _Message
    customer_id: int | None
    session: Session | None
    now: dt.datetime = NOW
    customer_phone: str | None = None
    parse: Any = None
    escalation: str | None = None
    replies: list[Any] = dataclasses.field(default_factory=list)


async def _open_ticket(db: Database, router: Router) -> Ticket:
    """A customer with a ticket waiting in the orders queue."""
    queue = await router.queue_for("orders", "en")
    async with db.transaction() as s:
        customer = Customer(display_name="reader")
        s.add(customer)
        await s.flush()
        ticket = Ticket(
            customer_id=customer.id,
            queue_id=queue.id,
            status="queued",
            reason="test",
            language="en",
            priority=1,
            created_at=NOW,
        )
        s.add(ticket)
    return ticket


@pytest.fixture
async def service(pg_url: str) -> AsyncIterator[tuple[HandoffService, Wire]]:  # noqa: F811
    db = Database(pg_url, pool_size=1, max_overflow=0)  # every unit on the same connection
    wire = Wire(db)
    backends = await open_backends(None)
    bus = MemoryEventBus()
    texts, config = _Texts(), HandoffConfig()
    try:
        yield HandoffService(db=db, backends=backends, config=config, texts=texts, bus=bus), wire
    finally:
        await backends.close()
        await db.dispose()


async def _writes(wire: Wire, unit: Any) -> tuple[Any, int]:
    """What ``unit()`` returned and the socket writes it took, its statements prepared."""
    await unit()
    before = wire.writes
    result = await unit()
    return result, wire.writes - before


@pytest.mark.postgres
async def test_the_ticket_reads_are_one_round_trip_each(
    service: tuple[HandoffService, Wire],
) -> None:
    handoff, wire = service
    ticket = await _open_ticket(handoff.db, handoff.router)
    (loaded, queue), writes = await _writes(wire, lambda: handoff.router.load(ticket.id))
    assert (loaded.id, loaded.status, queue.topic) == (ticket.id, "queued", "orders")
    assert writes == 1
    found, writes = await _writes(wire, lambda: handoff.router.queue_for("orders", "en"))
    assert found.id == queue.id and writes == 1
    mine, writes = await _writes(wire, lambda: handoff.open_ticket_of(ticket.customer_id))
    assert mine is not None and mine.id == ticket.id and writes == 1


@pytest.mark.postgres
async def test_a_message_to_an_open_ticket_costs_the_handoff_two_round_trips(
    service: tuple[HandoffService, Wire],
) -> None:
    """The gate (`HandoffHook.intercept`) keeps the message from the bot and the relay
    passes it on to the consoles: one read of the ticket each."""
    handoff, wire = service
    ticket = await _open_ticket(handoff.db, handoff.router)
    hook = HandoffHook(handoff)
    session = Session(ticket.customer_id, version=3, handoff="pending", ticket_id=ticket.id)
    turn = _Turn(_Message("is anybody there?"), ticket.customer_id, session)
    kept, writes = await _writes(wire, lambda: hook.intercept(turn))
    assert kept == [] and writes == 1  # kept from the bot, nothing said
    async with handoff.bus.subscribe() as console:
        _, writes = await _writes(wire, lambda: hook.relay(turn))
        relayed = [await console.get(5.0), await console.get(5.0)]
    assert writes == 1
    assert [(e.kind, e.ticket_id) for e in relayed if e] == [("message.customer", ticket.id)] * 2


async def test_the_ticket_reads_answer_alike_on_both_backends(db: Database) -> None:
    async def no_emit(*_: Any) -> None:
        return None

    router = Router(db, HandoffConfig(), no_emit)
    ticket = await _open_ticket(db, router)
    loaded, queue = await router.load(ticket.id)
    assert (loaded.customer_id, loaded.status, loaded.created_at) == (
        ticket.customer_id,
        "queued",
        NOW,
    )
    assert (queue.id, queue.topic, queue.language) == (ticket.queue_id, "orders", "en")
    with pytest.raises(NotFound):
        await router.load(ticket.id + 1)
    assert await router.route(ticket.id + 1, NOW) is None
    assert await router.route(ticket.id, NOW) is None  # nobody to offer it to: it waits
    assert (await router.load(ticket.id))[0].status == "queued"
