"""Booking reminders end to end: a visit booked on Telegram gets its 24 h and 2 h reminders
there as the bot's clock moves on; "Reschedule" on a reminder goes straight into moving that
visit; the moved visit's reminders replace the old ones; "yes" to a reminder keeps the visit.
On SQLite + memory and on PostgreSQL + Redis."""

from __future__ import annotations

import datetime as dt

from tests.conversations.cross_channel.channels import Identity
from tests.proactive.e2e import Shop, fakes, mode, pg_e2e_url, shop, shop_settings

__all__ = ["fakes", "mode", "pg_e2e_url", "shop", "shop_settings"]  # fixtures of the tests below

HOUR = dt.timedelta(hours=1)


async def book_cleaning(rig: Shop, phone: str) -> Identity:
    """A teeth cleaning tomorrow at 15:00, booked on Telegram with the shared phone."""
    who = rig.person("telegram")
    await rig.book_cleaning(who, phone)
    return who


async def test_reminders_24h_and_2h_then_reschedule_from_the_reminder(shop: Shop) -> None:
    who = await book_cleaning(shop, "+380671234101")
    customer = await shop.customer_id(who)
    jobs = await shop.jobs(customer, "booking_reminder")
    assert [j["status"] for j in jobs] == ["scheduled", "scheduled"]
    assert jobs[0]["due_at"] == "2026-03-10T13:00:00+00:00"  # 24 h before
    assert jobs[1]["due_at"] == "2026-03-11T11:00:00+00:00"  # 2 h before

    seen = shop.count(who)
    shop.advance(6 * HOUR + dt.timedelta(minutes=1))  # Tuesday 15:01
    first = await shop.next_message(who, "A reminder: tomorrow, 11.03, at 15:00", seen)
    assert [b["title"] for b in first.buttons] == ["Reschedule", "Cancel"]
    assert shop.count(who) == seen + 1  # the 2 h one waits for its time

    seen = shop.count(who)
    shop.advance(22 * HOUR)  # Wednesday 13:01
    second = await shop.next_message(who, "In two hours, at 15:00", seen)
    sent = await shop.decided(customer, "booking_reminder", "sent", 2)
    assert {j["channel"] for j in sent} == {"telegram"}

    moving = await shop.tap(who, "Reschedule", [second])
    assert "Let's move your visit" in " ".join(m.text for m in moving)
    asked = await shop.say(who, "Friday at 11")
    assert "to Friday, 13.03 at 11:00?" in " ".join(m.text for m in asked)
    moved = await shop.tap(who, "Yes", asked)
    assert "is now on Friday, 13.03 at 11:00" in " ".join(m.text for m in moved)

    jobs = await shop.jobs(customer, "booking_reminder")
    pending = [j for j in jobs if j["status"] == "scheduled"]
    assert [j["due_at"] for j in pending] == [
        "2026-03-12T09:00:00+00:00",  # Thursday 11:00 in Kyiv: 24 h before
        "2026-03-13T07:00:00+00:00",  # Friday 09:00: 2 h before
    ]
    assert all(j["occurrence"].endswith("2026-03-13T09:00Z") for j in pending)


async def test_cancelling_the_visit_cancels_its_reminders(shop: Shop) -> None:
    who = await book_cleaning(shop, "+380671234102")
    customer = await shop.customer_id(who)
    asked = await shop.say(who, "I want to cancel my visit")
    done = await shop.tap(who, "Yes", asked)
    assert "is cancelled" in " ".join(m.text for m in done)
    jobs = await shop.jobs(customer, "booking_reminder")
    assert [(j["status"], j["decision"]) for j in jobs] == [("cancelled", "cancelled")] * 2
    assert all("cancelled" in j["reason"] for j in jobs)
    seen = shop.count(who)
    shop.advance(30 * HOUR)
    await shop.say(who, "hello")  # the bot is alive; nothing proactive came meanwhile
    assert not any("reminder" in m.text.lower() for m in shop.drivers.messages(who)[seen:])


async def test_yes_to_a_reminder_keeps_the_visit(shop: Shop) -> None:
    who = await book_cleaning(shop, "+380671234103")
    seen = shop.count(who)
    shop.advance(6 * HOUR + dt.timedelta(minutes=1))
    await shop.next_message(who, "Still on?", seen)
    kept = await shop.say(who, "yes")
    assert [m.text for m in kept] == ["Great, see you on 11.03 at 15:00!"]
    customer = await shop.customer_id(who)
    jobs = await shop.jobs(customer, "booking_reminder")
    assert [j["status"] for j in jobs] == ["done", "scheduled"]  # the 2 h reminder still comes
