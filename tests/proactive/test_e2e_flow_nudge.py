"""An unfinished flow's nudge (`bots.proactive.hooks_flows`), end to end: a turn that leaves the
order-status flow waiting for a number arms one nudge 3 h ahead; going on in the flow within
`REARM` writes nothing, after it moves the nudge (the pending one cancelled, a new one from this
message); finishing the flow cancels it. Each is written in the turn's own commit, with the
decision's analytics event. On SQLite + memory and on PostgreSQL + Redis."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from bots.keys import DATABASE
from bots.proactive.hooks_flows import REARM
from storage.analytics.models import AnalyticsEvent
from tests.proactive.e2e import Shop, fakes, mode, pg_e2e_url, shop, shop_settings

__all__ = ["fakes", "mode", "pg_e2e_url", "shop", "shop_settings"]  # fixtures of the tests below

MINUTE = dt.timedelta(minutes=1)
AFTER = dt.timedelta(hours=3)  # the bundled flow_nudge scenario's step


def _due_in(shop: Shop, job: dict[str, Any]) -> dt.timedelta:
    return dt.datetime.fromisoformat(job["due_at"]) - shop.clock()


async def _cancelled_events(shop: Shop, customer: int) -> list[str]:
    async with shop.app[DATABASE].session() as s:
        rows = await s.scalars(
            select(AnalyticsEvent.key).where(
                AnalyticsEvent.kind == "proactive.cancelled",
                AnalyticsEvent.customer_id == customer,
            )
        )
        return sorted(rows)


async def test_an_unfinished_flow_arms_a_nudge_that_moves_and_ends(shop: Shop) -> None:
    who = shop.person("telegram")
    await shop.say(who, "where is my order")
    customer = await shop.customer_id(who)
    (armed,) = await shop.jobs(customer, "flow_nudge")
    assert armed["status"] == "scheduled", armed
    assert AFTER - MINUTE < _due_in(shop, armed) <= AFTER

    await shop.say(who, "A9999")  # an unknown number: still in the flow, a moment later
    assert [j["id"] for j in await shop.jobs(customer, "flow_nudge")] == [armed["id"]]

    shop.advance(REARM + MINUTE)
    await shop.say(who, "A9998")  # still in the flow, past REARM: the nudge moves
    jobs = {j["id"]: j for j in await shop.jobs(customer, "flow_nudge")}
    assert jobs[armed["id"]]["status"] == "cancelled"
    assert jobs[armed["id"]]["reason"] == "the customer went on"
    (moved,) = [j for j in jobs.values() if j["status"] == "scheduled"]
    assert AFTER - MINUTE < _due_in(shop, moved) <= AFTER

    await shop.say(who, "A1003")  # a known order: the flow ends, and the nudge with it
    jobs = {j["id"]: j for j in await shop.jobs(customer, "flow_nudge")}
    assert len(jobs) == 2 and jobs[moved["id"]]["status"] == "cancelled"
    assert jobs[moved["id"]]["reason"] == "the flow ended"
    assert [d["decision"] for d in jobs[moved["id"]]["decisions"]] == ["cancelled"]
    assert await _cancelled_events(shop, customer) == sorted([str(armed["id"]), str(moved["id"])])
