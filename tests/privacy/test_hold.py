"""Legal holds through the real admin API (embedded on SQLite, scale-out on PostgreSQL + Redis):
only admins set and clear them, each change is audited once, and a held customer's or ticket's
data survives a retention run that clears everyone else's, until the hold is lifted."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bots.privacy.retention import RetentionPolicy, retention_run
from handoff.models import HandoffQueue, Ticket
from storage.audit import AuditEntry
from storage.db import Database
from storage.models import Customer, Message
from tests.handoff import conftest as handoff_suite
from tests.handoff.conftest import Api

# the handoff suite's app (embedded on SQLite, scale-out on PostgreSQL + Redis) and its fixtures
api = handoff_suite.api
handoff_settings, make_settings = handoff_suite.handoff_settings, handoff_suite.make_settings
fake_telegram, mode, pg_e2e_url = (
    handoff_suite.fake_telegram,
    handoff_suite.mode,
    handoff_suite.pg_e2e_url,
)
database_url_for = handoff_suite.database_url_for

OLD = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
NOW = OLD + dt.timedelta(days=100)


@pytest.fixture
async def db(api: Api) -> AsyncIterator[Database]:
    database = Database(api.settings.database_url)
    try:
        yield database
    finally:
        await database.dispose()


async def customer_with_ticket(db: Database, name: str) -> tuple[int, int]:
    """A customer with an old message and an old closed ticket: (customer id, ticket id)."""
    async with db.transaction() as s:
        queue = await s.scalar(select(HandoffQueue).limit(1))
        if queue is None:
            queue = HandoffQueue(topic="general", language="en")
            s.add(queue)
        person = Customer(display_name=name)
        s.add(person)
        await s.flush()
        s.add(Message(customer_id=person.id, channel="rest", external_user_id=name,
                      direction="in", sender_kind="customer", text=f"hi from {name}",
                      status="received", created_at=OLD))  # fmt: skip
        ticket = Ticket(customer_id=person.id, queue_id=queue.id, status="closed", reason="asked",
                        language="en", resolution=f"done for {name}", created_at=OLD,
                        resolved_at=OLD)  # fmt: skip
        s.add(ticket)
        await s.flush()
        return person.id, ticket.id


async def audit_of(db: Database) -> list[tuple[str, str | None, str | None, str]]:
    async with db.session() as s:
        rows = await s.scalars(
            select(AuditEntry).where(AuditEntry.action.like("legal_hold.%")).order_by(AuditEntry.id)
        )
        return [(r.action, r.target_type, r.target_id, r.actor) for r in rows]


async def test_an_admin_sets_and_clears_a_hold_audited_once(api: Api, db: Database) -> None:
    person, ticket = await customer_with_ticket(db, "olena")
    path = f"/api/customers/{person}/legal-hold"
    assert await api.ok("PUT", path) == {"id": person, "legal_hold": True, "changed": True}
    assert (await api.ok("PUT", path))["changed"] is False  # already held: nothing recorded
    tpath = f"/api/tickets/{ticket}/legal-hold"
    assert (await api.ok("PUT", tpath))["legal_hold"] is True
    async with db.session() as s:
        held = await s.get(Customer, person)
        held_ticket = await s.get(Ticket, ticket)
        assert held is not None and held.legal_hold
        assert held_ticket is not None and held_ticket.legal_hold
    assert (await api.ok("DELETE", path))["legal_hold"] is False
    assert await audit_of(db) == [
        ("legal_hold.set", "customer", str(person), "admin-token"),
        ("legal_hold.set", "ticket", str(ticket), "admin-token"),
        ("legal_hold.cleared", "customer", str(person), "admin-token"),
    ]


async def test_only_admins_may_hold(api: Api, db: Database) -> None:
    person, ticket = await customer_with_ticket(db, "taras")
    _, agent = await api.add_agent("plain agent", ["orders"])
    _, supervisor = await api.add_agent("lead", [], role="supervisor")
    for path in (f"/api/customers/{person}/legal-hold", f"/api/tickets/{ticket}/legal-hold"):
        assert (await api.call("PUT", path, token=None))[0] == 401
        assert (await api.call("PUT", path, token="wrong"))[0] == 401
        assert (await api.call("PUT", path, token=agent))[0] == 403
        assert (await api.call("DELETE", path, token=supervisor))[0] == 403
    _, admin = await api.add_agent("boss", [], role="admin")
    _, doc = await api.call("PUT", f"/api/tickets/{ticket}/legal-hold", token=admin)
    assert doc["changed"] is True
    assert [row[3].startswith("agent:") for row in await audit_of(db)] == [True]
    assert (await api.call("PUT", "/api/customers/999999/legal-hold"))[0] == 404
    assert (await api.call("PUT", "/api/tickets/abc/legal-hold"))[0] == 400
    async with db.session() as s:
        untouched = await s.get(Customer, person)
        assert untouched is not None and not untouched.legal_hold


async def texts(db: Database) -> set[str | None]:
    async with db.session() as s:
        return set(await s.scalars(select(Message.text).where(Message.channel == "rest")))


async def test_a_hold_set_over_the_api_stops_retention(api: Api, db: Database) -> None:
    held, _ = await customer_with_ticket(db, "held")
    _, ticket = await customer_with_ticket(db, "ticket")
    await customer_with_ticket(db, "free")
    await api.ok("PUT", f"/api/customers/{held}/legal-hold")
    await api.ok("PUT", f"/api/tickets/{ticket}/legal-hold")
    policy = RetentionPolicy(transcripts_days=30, tickets_days=30)
    report = await retention_run(db, policy, NOW)
    assert report.counts["messages"] == 1 and report.counts["tickets"] == 1
    assert {"hi from held", "hi from ticket"} <= await texts(db)
    assert "hi from free" not in await texts(db)
    await api.ok("DELETE", f"/api/customers/{held}/legal-hold")
    await api.ok("DELETE", f"/api/tickets/{ticket}/legal-hold")
    report = await retention_run(db, policy, NOW)
    assert report.counts["messages"] == 2 and report.counts["tickets"] == 2
    assert not {"hi from held", "hi from ticket"} & await texts(db)
