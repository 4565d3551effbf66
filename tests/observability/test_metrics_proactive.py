"""The proactive scheduler on `/metrics`: jobs due and not yet decided (the backlog, and how
late its oldest is on the bot's clock), then the decisions once a round has run. On SQLite +
memory and on PostgreSQL + Redis."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from bots.keys import SCHEDULER
from tests.observability.scrape import scrape
from tests.proactive.e2e import Shop, fakes, mode, pg_e2e_url, shop

__all__ = ["fakes", "mode", "pg_e2e_url", "shop"]  # fixtures of the tests below


@pytest.fixture
def shop_settings() -> dict[str, Any]:
    """A scheduler that runs one round at the start and then waits an hour: the test decides
    when the next round runs (`Scheduler.tick`)."""
    return {"scheduler_interval": 3600.0, "scheduler_lease": 4 * 3600.0}


async def test_the_backlog_and_the_decisions(shop: Shop) -> None:
    who = shop.person("telegram")
    await shop.say(who, "hi")
    status, doc = await shop.post_event(
        {
            "id": "metrics-cart-1",
            "type": "cart_abandoned",
            "customer": {"channel": "telegram", "user_id": who.external_id},
        }
    )
    assert status == 202 and len(doc["jobs"]) == 2, doc
    before = await scrape(shop.client)
    assert before.value("omnirelay_proactive_backlog") == 0  # both are due later

    shop.advance(dt.timedelta(hours=2, minutes=10))  # the first is due, ten minutes ago
    due = await scrape(shop.client)
    assert due.value("omnirelay_proactive_backlog") == 1
    assert due.value("omnirelay_proactive_backlog_oldest_seconds") >= 600

    seen = shop.count(who)
    assert await shop.app[SCHEDULER].tick() == 1
    await shop.next_message(who, "You left items in your cart", seen)
    decided = await scrape(shop.client)
    assert decided.value("omnirelay_proactive_backlog") == 0
    assert decided.value("omnirelay_proactive_backlog_oldest_seconds") == 0
    assert decided.value("omnirelay_proactive_decisions_total", decision="sent") == 1
    assert decided.labels("omnirelay_proactive_decisions_total", "decision") == {"sent"}
    assert decided.value("omnirelay_replies_sent_total", channel="telegram") >= 2
