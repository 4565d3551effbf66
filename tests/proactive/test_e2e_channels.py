"""Which channel carries a proactive message, end to end: the one used last that can still
receive it. A customer linked on Viber who blocked the Telegram bot gets the next reminder on
Viber; Instagram is never used outside its 24-hour window (the message is not sent, and why is
stored). On SQLite + memory and on PostgreSQL + Redis."""

from __future__ import annotations

import datetime as dt

from bots.keys import DATABASE
from storage.repositories.customers import CustomerRepository
from tests.bots.conftest import TG_SECRET
from tests.conversations.cross_channel.channels import Identity
from tests.fakes import wait_until
from tests.fakes.telegram_updates import my_chat_member_update
from tests.proactive.e2e import Shop, fakes, mode, pg_e2e_url, shop, shop_settings

__all__ = ["fakes", "mode", "pg_e2e_url", "shop", "shop_settings"]  # fixtures of the tests below

HOUR = dt.timedelta(hours=1)


async def block_telegram(shop: Shop, telegram: Identity) -> None:
    """The customer blocks the bot on Telegram (a `my_chat_member` update: kicked)."""
    update = my_chat_member_update(int(telegram.external_id), blocked=True)
    headers = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    resp = await shop.client.post("/webhooks/telegram", json=update, headers=headers)
    assert resp.status == 200

    async def blocked() -> bool:
        async with shop.app[DATABASE].session() as s:
            identity = await CustomerRepository(s).identity("telegram", telegram.external_id)
        return identity is not None and not identity.reachable

    await wait_until(blocked, timeout=30, what="the Telegram identity marked unreachable")


async def reminder_on_viber(shop: Shop, telegram: Identity, viber: Identity) -> None:
    customer = await shop.customer_id(telegram)
    assert await shop.customer_id(viber) == customer
    on_telegram, on_viber = shop.count(telegram), shop.count(viber)
    shop.advance(6 * HOUR + dt.timedelta(minutes=1))
    reminder = await shop.next_message(viber, "A reminder: tomorrow, 11.03, at 15:00", on_viber)
    assert [b["title"] for b in reminder.buttons] == ["Reschedule", "Cancel"]
    (sent,) = await shop.decided(customer, "booking_reminder", "sent")
    assert sent["channel"] == "viber"
    assert shop.count(telegram) == on_telegram


async def test_linked_on_viber_after_blocking_telegram_the_reminder_goes_to_viber(
    shop: Shop,
) -> None:
    telegram = shop.person("telegram")
    await shop.book_cleaning(telegram, "+380671234201")
    await block_telegram(shop, telegram)
    viber = shop.person("viber")
    linked = await shop.contact(viber, "+380671234201")  # the phone Telegram vouched for
    assert any("linked" in m.text for m in linked)
    await reminder_on_viber(shop, telegram, viber)


async def test_telegram_used_last_but_blocked_the_reminder_goes_to_viber(shop: Shop) -> None:
    telegram = shop.person("telegram")
    await shop.book_cleaning(telegram, "+380671234202")
    viber = shop.person("viber")
    assert any("linked" in m.text for m in await shop.contact(viber, "+380671234202"))
    await shop.say(telegram, "thanks")  # Telegram is the channel used last...
    await block_telegram(shop, telegram)  # ...and then blocked
    await reminder_on_viber(shop, telegram, viber)


async def test_instagram_is_not_used_outside_its_24_hour_window(shop: Shop) -> None:
    who = shop.person("instagram")
    await shop.say(who, "hi")
    customer = await shop.customer_id(who)
    status, doc = await shop.post_event(
        {
            "id": "cart-ig-1",
            "type": "cart_abandoned",
            "customer": {"channel": "instagram", "user_id": who.external_id},
        }
    )
    assert status == 202, doc
    assert [j["step"] for j in doc["jobs"]] == [0, 1]

    seen = shop.count(who)
    shop.advance(2 * HOUR + dt.timedelta(minutes=1))  # 2 h after: inside the window
    await shop.next_message(who, "You left items in your cart", seen)
    seen = shop.count(who)
    shop.advance(24 * HOUR)  # 26 h after the customer's last message
    (dropped,) = await shop.decided(customer, "cart_abandoned", "unreachable")
    assert dropped["channel"] is None and "24" in dropped["reason"], dropped
    assert shop.count(who) == seen  # nothing was even tried on Instagram
    assert all(c.status == 200 for c in shop.fakes.instagram.calls)
