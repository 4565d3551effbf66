"""Scripted traffic with known answers, end to end through the signed webhooks and the REST
channel, the agent API and the metrics API, on SQLite + memory and on PostgreSQL + Redis.

Ten conversations on Tuesday 10 March 2026 (Telegram 5, Viber 3, REST 2): seven customers get
the opening hours from the bot, three ask for a person at 18:30, after the team's hours (mon-fri
09:00-18:00, Wednesday 11 March a holiday). An agent answers the first on Thursday at 18:30
(540 business minutes: Thursday's shift) and the second on Friday at 18:20 (1080: Thursday's and
Friday's), closes the first, and its customer rates it 4. The numbers must come out exactly,
through the summary and the CSV, before and after the rollups, after a redelivered webhook and
a re-run turn, and after a customer's erasure; the rollups must reconcile with the events.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
from typing import Any

import pytest
from sqlalchemy import delete, select

from bots.keys import DATABASE, WORKER
from storage.analytics import cli as analytics_cli
from storage.analytics.events import anonymise
from storage.analytics.rollups import reconcile, roll_up
from storage.inbox import InboxEntry
from storage.queue import Delivery
from tests.bots.conftest import TG_SECRET, pg_e2e_url
from tests.conftest import run_in_thread
from tests.conversations.cross_channel.channels import Identity
from tests.fakes import wait_until
from tests.fakes.telegram_updates import text_update
from tests.proactive.e2e import ADMIN, Shop, fakes, mode, shop

__all__ = ["fakes", "mode", "pg_e2e_url", "shop"]  # fixtures of the tests below

RANGE = "from=2026-03-10&to=2026-03-13"
MINUTES = 60.0
HOURS = "Our opening hours"


@pytest.fixture
def shop_settings() -> dict[str, Any]:
    return {
        "handoff_business_hours": "mon-fri 09:00-18:00",
        "handoff_holidays": ["2026-03-11"],
        "analytics_conversation_gap_hours": 24.0 * 7,  # the CSAT answer on Friday: same one
        "analytics_rollup_interval": 3600.0,  # the test folds the rollups itself
    }


class Desk:
    """The supervisor in the console: tickets, replies, the metrics."""

    def __init__(self, shop: Shop, token: str) -> None:
        self.shop, self.token = shop, token

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        resp = await self.shop.client.request(method, path, json=body, headers=headers)
        text = await resp.text()
        assert 200 <= resp.status < 300, (method, path, resp.status, text)
        return json.loads(text) if resp.content_type == "application/json" else text

    async def ticket_of(self, customer_id: int) -> int:
        async def found() -> int | None:
            doc = await self.call("GET", "/api/tickets")
            ids = [t["id"] for t in doc["tickets"] if t["customer_id"] == customer_id]
            return ids[0] if ids else None

        ticket: int = await wait_until(found, timeout=30, what="the customer's ticket")
        return ticket

    async def answer(self, ticket: int, text: str) -> None:
        await self.call("POST", f"/api/tickets/{ticket}/claim")
        await self.call("POST", f"/api/tickets/{ticket}/messages", {"text": text})

    async def summary(self) -> dict[str, Any]:
        doc: dict[str, Any] = await self.call("GET", f"/api/metrics/summary?{RANGE}")
        return doc

    async def rows(self, kind: str) -> list[dict[str, str]]:
        text = await self.call("GET", f"/api/metrics/export.csv?kind={kind}&{RANGE}")
        return list(csv.DictReader(io.StringIO(text)))


async def supervisor(shop: Shop) -> Desk:
    body = {"name": "Sofia", "role": "supervisor", "skills": ["*"], "languages": ["en", "uk"]}
    resp = await shop.client.post(
        "/api/agents", json=body, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert resp.status == 201, await resp.text()
    return Desk(shop, (await resp.json())["token"])


async def say(shop: Shop, who: Identity, text: str) -> None:
    if who.channel == "rest":  # answered in the HTTP response: the turn is stored by then
        await shop.drivers.say(who, text)
    else:
        await shop.say(who, text)


def check_numbers(doc: dict[str, Any]) -> None:
    """The known answers of the script."""
    assert doc["conversations"]["started"] == 10
    assert doc["conversations"]["by_channel"] == {"rest": 2, "telegram": 5, "viber": 3}
    assert doc["containment"] == {
        "rate": 0.7,
        "contained": 7,
        "tasks_started": 10,
        "abandoned": 0,
        "open": 0,
    }
    assert doc["handoff"] == {"rate": 0.3, "count": 3, "by_reason": {"request": 3}}
    assert doc["tickets"]["created"] == 3 and doc["tickets"]["claimed"] == 2
    first = doc["first_response"]
    assert first["count"] == 2
    assert first["business"] == {"avg": 810 * MINUTES, "p50": 540 * MINUTES, "p90": 1080 * MINUTES}
    # wall clock: from the handoff at Tuesday 18:30, not from the greeting at 09:00 (bot time)
    assert first["wall"]["p50"] == pytest.approx(48 * 3600, abs=120)
    assert first["wall"]["p90"] == pytest.approx(72 * 3600 - 10 * MINUTES, abs=120)
    resolution = doc["resolution"]
    assert resolution["count"] == 1 and resolution["business"]["avg"] == 1080 * MINUTES
    assert doc["csat"] == {
        "average": 4.0,
        "distribution": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0},
        "asked": 1,
        "answered": 1,
        "response_rate": 1.0,
    }
    assert doc["fcr"] == {"rate": 1.0, "resolved": 1, "came_back": 0, "days": 7}
    assert doc["fallback"] == {"rate": 0.0, "count": 0, "messages": 11}
    assert doc["messages"]["in"] == 12  # + the CSAT score, taken before the bot
    assert doc["series"]["days"] == ["2026-03-10", "2026-03-11", "2026-03-12", "2026-03-13"]
    assert doc["series"]["containment_rate"] == [0.7, None, None, None]
    assert doc["series"]["volume"] == [10, 0, 0, 0]
    assert doc["series"]["csat_average"] == [None, None, None, 4.0]
    assert doc["top_intents"][0] == ["ask_opening_hours", 7]


def check_rows(conversations: list[dict[str, str]], tickets: list[dict[str, str]]) -> None:
    assert len(conversations) == 10
    assert sum(int(r["tasks_contained"]) for r in conversations) == 7
    assert sum(int(r["tasks_handed_off"]) for r in conversations) == 3
    assert sorted(r["handoff_reasons"] for r in conversations).count("request") == 3
    assert sorted(r["channel"] for r in conversations).count("telegram") == 5
    assert len(tickets) == 3
    answered = sorted(
        (r["first_response_business_seconds"], r["resolution_business_seconds"], r["csat"])
        for r in tickets
    )
    assert answered == [("", "", ""), ("32400", "64800", "4"), ("64800", "", "")]


async def test_known_traffic_gives_known_numbers(shop: Shop) -> None:
    desk = await supervisor(shop)
    people = [shop.person(ch) for ch in ["telegram"] * 4 + ["viber"] * 2 + ["rest"]]
    handed = [shop.person(ch) for ch in ("telegram", "viber", "rest")]
    update = text_update(int(people[0].external_id), "what are your opening hours?")
    update["message"]["date"] = int(shop.clock().timestamp())
    await post_update(shop, update)  # kept, to be delivered again below
    for who in people[1:]:
        await say(shop, who, "what are your opening hours?")
    await say(shop, handed[1], "hello")  # 09:00: bot time, not part of the agent's wait
    shop.advance(dt.timedelta(hours=9, minutes=30))  # Tuesday 18:30, after hours
    for who in handed:
        await say(shop, who, "I want to talk to a person")
    first, second, _ = [await desk.ticket_of(await shop.customer_id(w)) for w in handed]

    shop.advance(dt.timedelta(hours=48))  # Thursday 18:30 (Wednesday is a holiday)
    await desk.answer(first, "Hello, how can I help?")
    shop.advance(dt.timedelta(hours=23, minutes=50))  # Friday 18:20
    await desk.answer(second, "Hello, sorry for the wait")
    seen = shop.count(handed[0])
    await desk.call("POST", f"/api/tickets/{first}/close", {"resolution": "answered"})
    await shop.next_message(handed[0], "How would you rate", seen)
    await say(shop, handed[0], "4")

    before = await desk.summary()
    check_numbers(before)
    check_rows(await desk.rows("conversations"), await desk.rows("tickets"))

    db = shop.app[DATABASE]
    assert await roll_up(db) > 0
    assert (await reconcile(db)).ok
    assert await desk.summary() == before  # the rollups answer what the events did

    async with db.transaction() as s:  # the update's dedup record expires (48 h by default)
        await s.execute(delete(InboxEntry).where(InboxEntry.platform_id == platform_id(update)))
    await post_update(shop, update)  # Telegram delivers it again: the turn is stored already
    await rerun_turn(shop, handed[1])
    assert await desk.summary() == before
    assert await roll_up(db) == 0  # nothing new was written

    async with db.transaction() as s:  # erasure: the events lose their customer
        assert await anonymise(s, await shop.customer_id(handed[0])) > 0
    assert await desk.summary() == before
    check_rows(await desk.rows("conversations"), await desk.rows("tickets"))
    assert run_in_thread(cli, shop.app[DATABASE].url) == 0


def cli(url: str) -> int:
    """`omnirelay analytics reconcile --roll-up` (it runs its own event loop)."""
    return analytics_cli.main(url, argparse.Namespace(action="reconcile", roll_up=True))


def platform_id(update: dict[str, Any]) -> str:
    return str(update["update_id"])


async def post_update(shop: Shop, update: dict[str, Any]) -> None:
    """POST a Telegram update through the signed webhook and wait until the worker is done
    with it (its inbox row marked processed)."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    resp = await shop.client.post("/webhooks/telegram", json=update, headers=headers)
    assert resp.status == 200, await resp.text()
    db = shop.app[DATABASE]

    async def done() -> bool:
        async with db.session() as s:
            row = await s.scalar(
                select(InboxEntry).where(
                    InboxEntry.channel == "telegram", InboxEntry.platform_id == platform_id(update)
                )
            )
        return row is not None and row.done_at is not None

    await wait_until(done, timeout=30, what="the update processed")


async def rerun_turn(shop: Shop, who: Identity) -> None:
    """The queue delivers a processed message again (a worker died before its ack)."""
    db = shop.app[DATABASE]
    async with db.session() as s:
        rows = list(await s.scalars(select(InboxEntry).where(InboxEntry.channel == who.channel)))
    entry = max((r for r in rows if who.external_id in r.ordering_key), key=lambda r: r.id)
    delivery = Delivery(id="again", key=entry.ordering_key, body=entry.body, attempt=2)
    await shop.app[WORKER].handle(delivery)
