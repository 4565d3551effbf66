"""A multi-step sequence from the business's events, end to end: `cart_abandoned` → a reminder
2 h later → a second message the next day; a reply of the customer, or `order_placed`, cancels
what is still to come. On SQLite + memory and on PostgreSQL + Redis."""

from __future__ import annotations

import datetime as dt

from tests.conversations.cross_channel.channels import Identity
from tests.proactive.e2e import Shop, fakes, mode, pg_e2e_url, shop, shop_settings

__all__ = ["fakes", "mode", "pg_e2e_url", "shop", "shop_settings"]  # fixtures of the tests below

MINUTE = dt.timedelta(minutes=1)
FIRST, SECOND = "You left items in your cart", "still waiting for you"


async def abandoned_cart(shop: Shop, event_id: str) -> tuple[Identity, int]:
    """A Telegram customer who left a cart, and the first message already received."""
    who = shop.person("telegram")
    await shop.say(who, "hi")
    status, doc = await shop.post_event(
        {
            "id": event_id,
            "type": "cart_abandoned",
            "customer": {"channel": "telegram", "user_id": who.external_id},
            "variables": {"items": "2"},
        }
    )
    assert status == 202, doc
    due = [dt.datetime.fromisoformat(j["due_at"]) - shop.clock() for j in doc["jobs"]]
    assert dt.timedelta(hours=2) - MINUTE < due[0] <= dt.timedelta(hours=2)
    assert dt.timedelta(days=1) - MINUTE < due[1] <= dt.timedelta(days=1)
    seen = shop.count(who)
    shop.advance(dt.timedelta(hours=2) + MINUTE)
    await shop.next_message(who, FIRST, seen)
    return who, await shop.customer_id(who)


async def test_the_whole_sequence_when_nothing_happens(shop: Shop) -> None:
    who, customer = await abandoned_cart(shop, "cart-1")
    seen = shop.count(who)
    shop.advance(dt.timedelta(hours=22))
    await shop.next_message(who, SECOND, seen)
    sent = await shop.decided(customer, "cart_abandoned", "sent", 2)
    assert [j["step"] for j in sorted(sent, key=lambda j: j["step"])] == [0, 1]


async def test_a_reply_cancels_the_next_message(shop: Shop) -> None:
    who, customer = await abandoned_cart(shop, "cart-2")
    await shop.say(who, "I will think about it")
    (cancelled,) = await shop.decided(customer, "cart_abandoned", "cancelled")
    assert cancelled["step"] == 1 and cancelled["reason"] == "the customer wrote"
    seen = shop.count(who)
    shop.advance(dt.timedelta(days=1))
    await shop.say(who, "hello again")
    assert not any(SECOND in m.text for m in shop.drivers.messages(who)[seen:])


async def test_order_placed_cancels_the_next_message(shop: Shop) -> None:
    who, customer = await abandoned_cart(shop, "cart-3")
    status, doc = await shop.post_event(
        {
            "id": "order-3",
            "type": "order_placed",
            "customer": {"channel": "telegram", "user_id": who.external_id},
        }
    )
    assert status == 202 and doc["cancelled"] == 1 and doc["jobs"] == [], doc
    (cancelled,) = await shop.decided(customer, "cart_abandoned", "cancelled")
    assert cancelled["reason"] == "event order_placed (order-3)"
    seen = shop.count(who)
    shop.advance(dt.timedelta(days=1))
    await shop.say(who, "hello again")
    assert not any(SECOND in m.text for m in shop.drivers.messages(who)[seen:])
