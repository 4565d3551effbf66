"""Proactive messages in the metrics, end to end on both backends: a ticket's follow-up is sent a
day after its CSAT question went unanswered, the customer answers it; the summary counts one
sent and one reply (in the send's cohort), and the rollups reconcile."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bots.keys import DATABASE
from storage.analytics.rollups import reconcile, roll_up
from tests.bots.conftest import pg_e2e_url
from tests.fakes import wait_until
from tests.proactive.e2e import ADMIN, Shop, fakes, mode, shop, shop_settings

__all__ = ["fakes", "mode", "pg_e2e_url", "shop", "shop_settings"]  # fixtures of the test below

FOLLOW_UP = "Yesterday we closed your request"


async def summary(shop: Shop) -> dict[str, Any]:
    doc: dict[str, Any] = await shop.admin(
        "GET", "/api/metrics/summary?from=2026-03-09&to=2026-03-12"
    )
    return doc


async def test_a_follow_up_sent_and_answered(shop: Shop) -> None:
    who = shop.person("telegram")
    await shop.say(who, "I want to talk to a person")
    customer = await shop.customer_id(who)

    async def ticket() -> int | None:
        found = await shop.admin("GET", "/api/tickets")
        ids = [t["id"] for t in found["tickets"] if t["customer_id"] == customer]
        return ids[0] if ids else None

    ticket_id = await wait_until(ticket, timeout=30, what="the ticket")
    seen = shop.count(who)
    resp = await shop.client.post(
        f"/api/tickets/{ticket_id}/close",
        json={"resolution": "answered on the phone"},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert resp.status == 200, await resp.text()
    shop.advance(dt.timedelta(hours=24, minutes=1))
    await shop.next_message(who, FOLLOW_UP, seen)
    await shop.decided(customer, "ticket_followup", "sent")
    await shop.say(who, "all good, thanks")

    doc = await summary(shop)
    assert doc["proactive"]["sent"] == 1 and doc["proactive"]["replies"] == 1
    assert doc["csat"]["asked"] == 1 and doc["csat"]["answered"] == 0
    assert doc["csat"]["response_rate"] == 0.0
    await roll_up(shop.app[DATABASE])
    assert (await reconcile(shop.app[DATABASE])).ok
    assert await summary(shop) == doc
