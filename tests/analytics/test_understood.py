"""The metrics count what the bot understood, not what the NLU model said (trial findings T6
and T7; `bots.flows.understood`): a message the dialogue answered as not understood is one
``fallback`` event, one line of the NLU review list and one count of Prometheus'
``omnirelay_nlu_fallbacks_total``, whatever intent the model named; a message a rule or the
flow asking for a value understood is none of them, and counts as what the bot acted on among
the top intents (the model's reading is kept beside it). Through the real pipeline (REST
channel, the metrics API, the review file, `/metrics`), on SQLite + memory and PostgreSQL +
Redis; a redelivered message changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bots.keys import DATABASE, NLU, SETTINGS
from nlu.types import FALLBACK_INTENT
from storage.analytics.models import EVENTS
from tests.analytics.test_traffic import rerun_turn, supervisor
from tests.bots.conftest import pg_e2e_url
from tests.conversations.cross_channel.channels import Identity
from tests.observability.scrape import scrape
from tests.proactive.e2e import Shop, fakes, mode, shop

__all__ = ["fakes", "mode", "pg_e2e_url", "shop"]  # fixtures of the tests below

NOT_UNDERSTOOD = "Sorry, I didn't understand that."
NOT_READ = "Sorry, I didn't get that."  # a booking question's answer the flow could not read
# (text, the model's intent): the premise of each case, checked against the app's model first
UNSURE_ERASE = ("forget what i said", "forget_me")  # unsure (< 0.8): never acted on
UNSURE_SHORT = ("meh", "affirm")  # a short reply, unsure, where the day is asked
UNSURE_IDLE_YES = ("hmm my tooth kinda hurts whats the deal w/ that", "affirm")  # long, unsure
MY_VISITS = ("When is my appointment?", "check_order_status")  # the rule: the visits (F23)
A_NAME = ("Зеновій", FALLBACK_INTENT)  # the answer to the name question


@pytest.fixture
def shop_settings(tmp_path: Path) -> dict[str, Any]:
    return {"nlu_review_log": str(tmp_path / "review.jsonl")}


async def check_premises(shop: Shop) -> None:
    """What the model reads the script's messages as (a retrained model may read them
    otherwise: then other texts are needed, not another assertion below)."""
    for text, intent in (UNSURE_ERASE, UNSURE_SHORT, UNSURE_IDLE_YES, MY_VISITS, A_NAME):
        parse = await shop.app[NLU].parse(text)
        assert parse.intent == intent, (text, parse.intent, parse.confidence)
        if intent in ("forget_me", "deny", "affirm"):
            assert parse.confidence < 0.8, (text, parse.confidence)  # unsure


async def said(shop: Shop, who: Identity, text: str) -> str:
    """Say ``text`` over REST (answered in the response: its turn is stored by then)."""
    before = len(shop.drivers.messages(who))
    await shop.drivers.say(who, text)
    return " ".join(m.text for m in shop.drivers.messages(who)[before:])


def review_lines(shop: Shop) -> list[dict[str, Any]]:
    """The NLU review list's entries, oldest first."""
    path = shop.app[SETTINGS].nlu_review_log
    assert path is not None
    if not Path(path).exists():
        return []
    return [json.loads(row) for row in Path(path).read_text("utf-8").splitlines() if row]


async def overruled(shop: Shop) -> list[dict[str, Any]]:
    """``message.in``'s note of the model's reading where the bot acted on another."""
    async with shop.app[DATABASE].session() as s:
        rows = await s.scalars(select(EVENTS.c.data).where(EVENTS.c.kind == "message.in"))
        return [dict(d) for d in rows if d]


async def test_the_metrics_count_what_the_bot_understood(shop: Shop) -> None:
    await check_premises(shop)
    desk = await supervisor(shop)
    unsure = shop.person("rest")
    assert NOT_UNDERSTOOD in await said(shop, unsure, UNSURE_ERASE[0])
    dated = shop.person("rest")
    assert "When would you like" in await said(shop, dated, "book a teeth cleaning")
    assert NOT_READ in await said(shop, dated, UNSURE_SHORT[0])
    idle = shop.person("rest")
    assert NOT_UNDERSTOOD in await said(shop, idle, UNSURE_IDLE_YES[0])
    asking = shop.person("rest")
    assert "upcoming visits" in await said(shop, asking, MY_VISITS[0])
    named = shop.person("rest", "uk")
    assert "ім'я" in await said(shop, named, "хочу записатися на чистку зубів завтра о 15:00")
    assert "номером" in await said(shop, named, A_NAME[0])  # the name read: the phone asked

    missed = [UNSURE_ERASE[0], UNSURE_SHORT[0], UNSURE_IDLE_YES[0]]
    doc = await desk.summary()
    assert doc["fallback"]["count"] == 3
    assert sorted(p for p, _ in doc["top_fallbacks"]) == sorted(missed)
    top = {intent: n for intent, n in doc["top_intents"]}
    assert top[FALLBACK_INTENT] == 3
    assert top["check_bookings"] == 1  # the rule's reading, not the model's order status
    assert "check_order_status" not in top and "forget_me" not in top
    assert [line["text"] for line in review_lines(shop)] == missed
    samples = await scrape(shop.client)
    assert samples.value("omnirelay_nlu_fallbacks_total", channel="rest") == 3
    notes = await overruled(shop)
    assert {"by": "rule", "nlu": "forget_me"} in notes  # not acted on: not understood
    assert {"by": "rule", "nlu": "check_order_status"} in notes
    assert {"by": "value", "nlu": FALLBACK_INTENT} in notes  # the name

    await rerun_turn(shop, unsure)  # the queue delivers the unsure erase request again
    assert await desk.summary() == doc
    assert len(review_lines(shop)) == 3
    again = await scrape(shop.client)
    assert again.value("omnirelay_nlu_fallbacks_total", channel="rest") == 3


async def test_a_miss_at_the_name_question_is_counted_without_its_text(shop: Shop) -> None:
    """Typed where the name is asked, a message the flow cannot read is likely a name all the
    same: a fallback, counted, but its text reaches neither the top phrases nor the review."""
    desk = await supervisor(shop)
    who = shop.person("rest", "uk")
    assert "ім'я" in await said(shop, who, "хочу записатися на чистку зубів завтра о 15:00")
    too_long = "Olena Petrenko Kovalenko Ivanivna Bondar"  # not read as a name: too many words
    assert "лише ім'я" in await said(shop, who, too_long)

    doc = await desk.summary()
    assert doc["fallback"]["count"] == 1
    assert doc["top_fallbacks"] == []
    assert review_lines(shop) == []
    samples = await scrape(shop.client)
    assert samples.value("omnirelay_nlu_fallbacks_total", channel="rest") == 1
