"""What the bot does on its own around conversations, end to end: a follow-up a day after a
ticket closed whose CSAT question went unanswered (none when it was answered); a nudge for a
booking left half-way (none once it is finished); an alert to agents when the same thing is
asked three times, which lands in the console as a queued ticket and tells the customer
nothing. On SQLite + memory and on PostgreSQL + Redis."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.conversations.cross_channel.channels import Identity
from tests.fakes import wait_until
from tests.proactive.e2e import ADMIN, Shop, fakes, mode, pg_e2e_url, shop, shop_settings

__all__ = ["fakes", "mode", "pg_e2e_url", "shop", "shop_settings"]  # fixtures of the tests below

MINUTE = dt.timedelta(minutes=1)
CSAT = "How would you rate the help you got"
FOLLOW_UP = "Yesterday we closed your request"
NUDGE = "You did not finish our conversation"


async def tickets(shop: Shop, customer_id: int) -> list[dict[str, Any]]:
    doc = await shop.admin("GET", "/api/tickets")
    return [t for t in doc["tickets"] if t["customer_id"] == customer_id]


async def closed_ticket(shop: Shop) -> tuple[Identity, int]:
    """A customer who asked for a person and whose ticket an admin closed: CSAT asked."""
    who = shop.person("telegram")
    await shop.say(who, "I want to talk to a person")
    customer = await shop.customer_id(who)
    (ticket,) = await wait_until(lambda: tickets(shop, customer), timeout=30, what="the ticket")
    seen = shop.count(who)
    resp = await shop.client.post(
        f"/api/tickets/{ticket['id']}/close",
        json={"resolution": "answered on the phone"},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert resp.status == 200, await resp.text()
    await shop.next_message(who, CSAT, seen)
    (job,) = await shop.jobs(customer, "ticket_followup")
    assert job["occurrence"] == f"ticket:{ticket['id']}" and job["status"] == "scheduled"
    return who, customer


async def test_a_follow_up_when_the_csat_question_went_unanswered(shop: Shop) -> None:
    who, customer = await closed_ticket(shop)
    seen = shop.count(who)
    shop.advance(dt.timedelta(hours=24) + MINUTE)
    await shop.next_message(who, FOLLOW_UP, seen)
    (sent,) = await shop.decided(customer, "ticket_followup", "sent")
    assert sent["channel"] == "telegram"
    # the console's ticket view: the follow-up in the transcript, and what was decided
    (ticket,) = await tickets(shop, customer)
    detail = await shop.admin("GET", f"/api/tickets/{ticket['id']}")
    (line,) = [m for m in detail["transcript"] if (m["text"] or "").startswith(FOLLOW_UP)]
    assert line["from"] == "bot" and line["proactive"]["scenario"] == "ticket_followup"
    decisions = [(d["scenario"], d["decision"]) for d in detail["proactive"]]
    assert ("ticket_followup", "sent") in decisions


async def test_no_follow_up_once_the_customer_rated_the_help(shop: Shop) -> None:
    who, customer = await closed_ticket(shop)
    csat = shop.drivers.messages(who)[-1]
    thanks = await shop.tap(who, "5", [csat])
    assert any("Thank you for your rating" in m.text for m in thanks)
    await shop.decided(customer, "ticket_followup", "cancelled")
    seen = shop.count(who)
    shop.advance(dt.timedelta(hours=25))
    await shop.say(who, "hello")
    assert not any(FOLLOW_UP in m.text for m in shop.drivers.messages(who)[seen:])


async def test_a_booking_left_half_way_is_nudged_once_and_resumed_on_yes(shop: Shop) -> None:
    who = shop.person("telegram")
    asked = await shop.say(who, "I'd like to book a teeth cleaning")
    assert "When would you like to come?" in " ".join(m.text for m in asked)
    customer = await shop.customer_id(who)
    seen = shop.count(who)
    shop.advance(dt.timedelta(hours=3) + MINUTE)
    await shop.next_message(who, NUDGE, seen)
    await shop.decided(customer, "flow_nudge", "sent")
    resumed = await shop.say(who, "yes")
    assert "When would you like to come?" in " ".join(m.text for m in resumed)


async def test_a_finished_booking_is_not_nudged(shop: Shop) -> None:
    who = shop.person("telegram")
    await shop.book_cleaning(who, "+380671234501")
    customer = await shop.customer_id(who)
    nudges = await shop.jobs(customer, "flow_nudge")
    assert nudges and all(j["status"] == "cancelled" for j in nudges), nudges  # none waits


async def test_the_same_question_three_times_alerts_the_agents(shop: Shop) -> None:
    who = shop.person("telegram")
    customer = await shop.customer_id_after(who, "what are your opening hours?")
    for _ in range(2):
        answer = await shop.say(who, "what are your opening hours?")
        assert answer and not any("colleague" in m.text for m in answer)
    (alert,) = await wait_until(lambda: tickets(shop, customer), timeout=30, what="the alert")
    assert alert["reason"] == "alert:repeated_intent" and alert["status"] == "queued"
    assert alert["queue"]["topic"] == "general"
    assert alert["slots"]["intent"] == "ask_opening_hours"
    assert "three times" in alert["slots"]["alert"]
    assert alert["slots"]["messages"].count("opening hours") == 3
    again = await shop.say(who, "what are your opening hours?")  # the bot still answers
    assert again and not any("colleague" in m.text for m in again)
    assert len(await tickets(shop, customer)) == 1


async def test_a_question_asked_on_after_its_alert_opens_no_second_ticket(shop: Shop) -> None:
    """One question alerts once in the rule's week: asked three more times after an agent
    closed its ticket, it opens no other (a customer asking on about an order that does not
    move would otherwise reach the count every third message)."""
    who = shop.person("telegram")
    customer = await shop.customer_id_after(who, "what are your opening hours?")
    for _ in range(2):
        await shop.say(who, "what are your opening hours?")
    (alert,) = await wait_until(lambda: tickets(shop, customer), timeout=30, what="the alert")
    resp = await shop.client.post(
        f"/api/tickets/{alert['id']}/close",
        json={"resolution": "called the customer"},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert resp.status == 200, await resp.text()
    for _ in range(3):
        answer = await shop.say(who, "what are your opening hours?")
        assert answer and not any("colleague" in m.text for m in answer)
    assert [(t["id"], t["status"]) for t in await tickets(shop, customer)] == [
        (alert["id"], "closed")
    ]


async def test_three_different_orders_are_three_questions_not_one_asked_thrice(
    shop: Shop,
) -> None:
    who = shop.person("telegram")
    customer = await shop.customer_id_after(who, "where is my order A1001?")
    for number in ("A1002", "A1003"):
        await shop.say(who, f"where is my order {number}?")
    assert await tickets(shop, customer) == []
    for _ in range(2):
        await shop.say(who, "where is my order A1001?")
    (alert,) = await wait_until(lambda: tickets(shop, customer), timeout=30, what="the alert")
    assert alert["reason"] == "alert:repeated_intent"
    assert alert["slots"]["messages"].count("A1001") == 3
