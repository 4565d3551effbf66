"""Trial findings 1, 2 and 11: an agent's presence is real, a lapsed promise is followed up,
a message left is acknowledged.

An agent who logged out of the console, or whose console has been closed longer than
OMNIRELAY_HANDOFF_PRESENCE_TIMEOUT, is not promised to customers ("about 1 min") nor offered
tickets; an open console event stream or any console request keeps them present. When an offer
lapses and nobody else can take the ticket, the customer is told once, on their channel, with
the call-back / leave-a-message offer. Through the real app on both backends."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import update

from handoff.api import HANDOFF
from handoff.models import Agent
from storage.models import utcnow
from tests.handoff.conftest import Api, next_event, sse_events

ASK = "I want to talk to a person"


def _texts(replies: list[Any]) -> str:
    return "\n".join(r["text"] for r in replies)


def _payloads(replies: list[Any]) -> list[str]:
    return [b.get("payload") for r in replies for b in r.get("buttons") or []]


async def _last_seen(api: Api, agent_id: int, at: dt.datetime) -> None:
    """The agent's console was last heard of at ``at`` (it was closed then)."""
    async with api.client.app[HANDOFF].db.transaction() as s:
        await s.execute(update(Agent).where(Agent.id == agent_id).values(last_seen_at=at))


async def test_logging_out_sets_the_agent_away_and_nobody_is_promised(api: Api) -> None:
    await api.add_agent("olena", ["general"], password="secret", online=False)
    resp = await api.client.post("/console/login", data={"name": "olena", "password": "secret"})
    csrf = {"X-CSRF-Token": (await resp.json())["csrf_token"]}
    online = await api.client.post("/api/me/status", json={"status": "online"}, headers=csrf)
    assert online.status == 200
    out = await api.client.post("/console/logout", headers=csrf)
    assert out.status == 200
    [agent] = (await api.ok("GET", "/api/agents"))["agents"]
    assert agent["status"] == "away"
    replies = await api.rest("after-logout", ASK, language="en")
    assert "min" not in _texts(replies) and "No colleague is online" in _texts(replies)
    assert _payloads(replies) == ["/handoff_callback", "/handoff_message"]
    [ticket] = await api.tickets()
    assert ticket["status"] == "queued"  # not offered to the agent who left


async def test_a_closed_console_stops_counting_and_an_open_one_counts(api: Api) -> None:
    agent_id, token = await api.add_agent("mykola", ["general"])
    await _last_seen(api, agent_id, utcnow() - dt.timedelta(minutes=10))
    replies = await api.rest("console-closed", ASK, language="en")
    assert "No colleague is online" in _texts(replies) and "about 1 min" not in _texts(replies)
    [ticket] = await api.tickets()
    assert ticket["status"] == "queued"
    async with sse_events(api.client, token) as events:
        # the open console's event stream makes the agent present: the waiting ticket and
        # the next customer's are offered to them
        await api.client.app[HANDOFF].tick()
        await next_event(events, "ticket.offered")
        replies = await api.rest("console-open", ASK, language="en")
        assert "about 1 min" in _texts(replies) and _payloads(replies) == []
