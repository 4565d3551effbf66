"""`POST /api/events` end to end: the bearer token, a clear 400 for a malformed event and a 404
for an unknown customer (nothing stored either way), 422 for an event type no scenario knows,
202 with the jobs created, and the event's id making a repeat a no-op. The message itself goes
out through the scheduler to the customer's channel. On SQLite + memory and PostgreSQL + Redis."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from bots.keys import DATABASE
from storage.models import Customer
from storage.proactive_models import ProactiveEvent, ProactiveJob
from tests.proactive.e2e import (
    ADMIN,
    EVENTS,
    Shop,
    fakes,
    mode,
    pg_e2e_url,
    shop,
    shop_settings,
)

__all__ = ["fakes", "mode", "pg_e2e_url", "shop", "shop_settings"]  # fixtures of the tests below


async def stored(shop: Shop) -> tuple[int, int]:
    """(events, jobs) in the database."""
    async with shop.app[DATABASE].session() as s:
        events = await s.scalar(select(func.count()).select_from(ProactiveEvent))
        jobs = await s.scalar(select(func.count()).select_from(ProactiveJob))
    return int(events or 0), int(jobs or 0)


def shipped(event_id: str, customer: dict[str, Any], **variables: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "order_shipped",
        "customer": customer,
        "variables": {"order": "A1001", "tracking": "59001234", **variables},
    }


async def test_refused_without_the_token(shop: Shop) -> None:
    for token in (None, "wrong", ADMIN):  # the events token is set: it alone opens the door
        status, doc = await shop.post_event(shipped("e1", {"customer_id": 1}), token=token)
        assert status == 401 and "bearer" in doc["error"]
    assert await stored(shop) == (0, 0)


async def test_a_malformed_event_is_a_400_that_names_every_problem(shop: Shop) -> None:
    status, doc = await shop.post_event("{not json", token=EVENTS)
    assert status == 400 and doc["error"] == "the body must be a JSON object"
    status, doc = await shop.post_event(
        {"id": "", "type": "order shipped", "customer": {"phone": "12345"}, "at": "soon"}
    )
    assert status == 400 and doc["error"] == "the event is malformed"
    problems = " | ".join(doc["problems"])
    for field in ('"id"', '"type"', "customer.phone", '"at"'):
        assert field in problems, problems
    assert await stored(shop) == (0, 0)


async def test_an_unknown_customer_is_a_404_and_nothing_is_stored(shop: Shop) -> None:
    who = shop.person("telegram")
    await shop.say(who, "hi")  # somebody exists, just not the one the event names
    before = await shop.outbound_count()
    for customer in (
        {"phone": "+380501112233"},
        {"email": "nobody@example.com"},
        {"channel": "viber", "user_id": "no-such-user"},
        {"customer_id": 999_999},
    ):
        status, doc = await shop.post_event(shipped(f"e-{len(str(customer))}", customer))
        assert status == 404, doc
        assert doc["error"].startswith("no customer with ") and "nothing was stored" in doc["error"]
    assert await stored(shop) == (0, 0)
    assert await shop.outbound_count() == before


async def test_an_unknown_event_type_is_a_422(shop: Shop) -> None:
    who = shop.person("telegram")
    await shop.say(who, "hi")
    status, doc = await shop.post_event(
        {
            "id": "x1",
            "type": "order_teleported",
            "customer": {"channel": "telegram", "user_id": who.external_id},
        }
    )
    assert status == 422 and "order_teleported" in doc["error"] and "order_shipped" in doc["error"]
    assert await stored(shop) == (0, 0)


async def test_an_event_is_sent_once_however_often_it_is_posted(shop: Shop) -> None:
    who = shop.person("telegram")
    await shop.say(who, "hi")
    customer_id = await shop.customer_id(who)
    async with shop.app[DATABASE].transaction() as s:
        await s.execute(
            update(Customer).where(Customer.id == customer_id).values(email="iryna@example.com")
        )
    event = shipped("ship-1", {"email": "Iryna@Example.com"})
    seen = shop.count(who)
    status, first = await shop.post_event(event)
    assert status == 202, first
    assert first["customer_id"] == customer_id and first["duplicate"] is False
    assert [(j["scenario"], j["step"], j["topic"]) for j in first["jobs"]] == [
        ("order_shipped", 0, "orders")
    ]
    message = await shop.next_message(who, "Your order A1001 has been shipped", seen)
    assert "Tracking number: 59001234" in message.text

    status, again = await shop.post_event(event)
    assert status == 202 and again["duplicate"] is True and again["jobs"] == first["jobs"]
    status, clash = await shop.post_event({**event, "type": "order_delayed"})
    assert status == 409 and "ship-1" in clash["error"]
    await shop.decided(customer_id, "order_shipped", "sent")
    await shop.say(who, "thanks")  # a turn later, still one message about the order
    assert sum("has been shipped" in m.text for m in shop.drivers.messages(who)) == 1
    assert await stored(shop) == (1, 1)


async def test_a_text_variable_the_event_lacks_is_suppressed_with_its_reason(shop: Shop) -> None:
    who = shop.person("telegram")
    await shop.contact(who, "+380671234401")  # verified: the event may name the phone
    customer_id = await shop.customer_id(who)
    event = {"id": "ship-2", "type": "order_shipped", "customer": {"phone": "+380671234401"}}
    status, doc = await shop.post_event({**event, "variables": {"order": "A1002"}})
    assert status == 202, doc
    (suppressed,) = await shop.decided(customer_id, "order_shipped", "suppressed")
    assert "tracking" in suppressed["reason"], suppressed
