"""A message that answers the dialogue's question for a value (the name step's "Іван") is no
bot fallback, even when the NLU ranks it as one: it writes no ``fallback`` event, so it is not
in the fallback rate nor among the dashboard's top phrases, nor in Prometheus'
``omnirelay_nlu_fallbacks_total`` (trial finding 6). A message the bot
did not understand outside such a question still is. Through the real pipeline (REST channel,
the metrics API), on SQLite + memory and PostgreSQL + Redis."""

from __future__ import annotations

from tests.analytics.test_traffic import supervisor
from tests.bots.conftest import pg_e2e_url
from tests.conversations.cross_channel.channels import BotMessage
from tests.observability.scrape import scrape
from tests.proactive.e2e import Shop, fakes, mode, shop, shop_settings

__all__ = ["fakes", "mode", "pg_e2e_url", "shop", "shop_settings"]  # fixtures of the test below


def _texts(replies: list[BotMessage]) -> str:
    return " ".join(r.text for r in replies)


async def test_a_name_given_to_the_name_question_is_no_fallback(shop: Shop) -> None:
    desk = await supervisor(shop)
    booking = shop.person("rest", "uk")
    await shop.drivers.say(booking, "хочу записатися на чистку зубів завтра о 15:00")
    assert "На яке ім'я" in _texts(shop.drivers.messages(booking))
    await shop.drivers.say(booking, "Іван")  # the NLU's fallback, the flow's name
    assert "За яким номером" in _texts(shop.drivers.messages(booking)[-1:])
    lost = shop.person("rest", "uk")
    await shop.drivers.say(lost, "xkcd zzz")  # outside any question: a fallback

    doc = await desk.summary()
    assert doc["fallback"]["count"] == 1
    assert doc["top_fallbacks"] == [["xkcd zzz", 1]]
    samples = await scrape(shop.client)  # the Prometheus counter: the same rule
    assert samples.value("omnirelay_nlu_fallbacks_total", channel="rest") == 1
