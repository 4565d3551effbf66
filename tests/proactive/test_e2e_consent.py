"""Consent end to end, in Ukrainian on Telegram: "хочу отримувати акції" records an opt-in
(time, source, the words said and shown); a marketing message carries "Не надсилати акції",
whose tap opts out; "відписатися" does too; marketing then is suppressed with its reason while
the visit's reminder still comes; a customer silent for 90 days gets the re-engagement offer
only with consent. On SQLite + memory and on PostgreSQL + Redis."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.conversations.cross_channel.channels import BotMessage, Identity
from tests.proactive.e2e import (
    Shop,
    fakes,
    mode,
    pg_e2e_url,
    scenarios_with,
    shop,
)

__all__ = ["fakes", "mode", "pg_e2e_url", "shop"]  # fixtures of the tests below

HOUR = dt.timedelta(hours=1)
PROMO = {
    "topic": "marketing",
    "trigger": "event",
    "event": "promo",
    "steps": [
        {
            "after": "0s",
            "expires": "1d",
            "text": {
                "uk": "Знижка 15 % на чистку зубів до неділі!",
                "en": "15% off teeth cleaning until Sunday!",
            },
        }
    ],
}
OFFER = "Знижка 15 %"


@pytest.fixture
def shop_settings(tmp_path: Path) -> dict[str, Any]:
    """The bundled scenarios plus a marketing event ("promo") of the test's own."""
    return {"scenarios": scenarios_with(tmp_path, promo=PROMO)}


def texts(messages: list[BotMessage]) -> str:
    return " ".join(m.text for m in messages)


async def promo(shop: Shop, n: int, phone: str) -> dict[str, Any]:
    status, doc = await shop.post_event(
        {"id": f"promo-{phone}-{n}", "type": "promo", "customer": {"phone": phone}}
    )
    assert status == 202, doc
    return doc  # type: ignore[no-any-return]


async def book(shop: Shop, who: Identity, phone: str) -> None:
    asked = await shop.say(who, "запишіть мене на чистку зубів завтра о 15:00")
    assert "За яким номером" in texts(asked)
    summary = await shop.contact(who, phone)
    assert "середа, 11.03 о 15:00" in texts(summary)
    assert "Готово!" in texts(await shop.tap(who, "Так, записати", summary))


async def test_opt_in_button_and_words_stop_marketing_but_not_reminders(shop: Shop) -> None:
    phone = "+380671234301"
    who = shop.person("telegram", language="uk", name="Олена")
    joined = await shop.say(who, "хочу отримувати акції")
    assert texts(joined).startswith("Дякуємо! Надсилатимемо вам: акції та пропозиції.")
    await book(shop, who, phone)
    customer = await shop.customer_id(who)
    consent = (await shop.proactive(customer))["consents"]["marketing"]
    assert consent["granted"] is True and consent["source"] == "telegram:text"
    assert "хочу отримувати акції" in consent["text"] and "Надсилатимемо" in consent["text"]

    seen = shop.count(who)
    await promo(shop, 1, phone)
    offer = await shop.next_message(who, OFFER, seen)
    assert [b["title"] for b in offer.buttons] == ["Не надсилати акції"]
    left = await shop.tap(who, "Не надсилати акції", [offer])
    assert texts(left).startswith("Гаразд, більше не надсилатимемо вам: акції та пропозиції.")
    consent = (await shop.proactive(customer))["consents"]["marketing"]
    assert consent["granted"] is False and consent["source"] == "telegram:button"
    assert OFFER in consent["text"]  # the message the customer answered

    await promo(shop, 2, phone)
    (suppressed,) = await shop.decided(customer, "promo", "suppressed")
    assert suppressed["reason"], suppressed

    assert "Надсилатимемо" in texts(await shop.say(who, "підписатися"))
    seen = shop.count(who)
    await promo(shop, 3, phone)
    await shop.next_message(who, OFFER, seen)

    assert "більше не надсилатимемо" in texts(await shop.say(who, "відписатися"))
    seen = shop.count(who)
    await promo(shop, 4, phone)
    await shop.decided(customer, "promo", "suppressed", 2)
    shop.advance(6 * HOUR + dt.timedelta(minutes=1))  # the visit's 24 h reminder is due
    reminder = await shop.next_message(who, "Нагадуємо: завтра, 11.03, о 15:00", seen)
    assert [b["title"] for b in reminder.buttons] == ["Перенести", "Скасувати"]
    assert OFFER not in texts(shop.drivers.messages(who)[seen:])
    sent = await shop.decided(customer, "promo", "sent", 2)
    assert len(sent) == 2  # promos 1 and 3
    kept = await shop.say(who, "так")  # a "yes" to "Усе в силі?" keeps the visit
    assert texts(kept) == "Чудово, чекаємо на вас 11.03 о 15:00!"


async def test_re_engagement_after_90_days_only_with_consent(shop: Shop) -> None:
    keen = shop.person("telegram", language="uk", name="Олена")
    quiet = shop.person("telegram", language="uk", name="Тарас")
    await shop.say(keen, "хочу отримувати акції")
    await shop.say(quiet, "привіт")
    keen_id, quiet_id = await shop.customer_id(keen), await shop.customer_id(quiet)
    seen_keen, seen_quiet = shop.count(keen), shop.count(quiet)
    shop.advance(dt.timedelta(days=91))
    await shop.next_message(keen, "Давно не бачилися!", seen_keen)
    (sent,) = await shop.decided(keen_id, "reengagement", "sent")
    assert sent["channel"] == "telegram"
    assert not await shop.jobs(quiet_id, "reengagement")  # no consent: not even scheduled
    assert shop.count(quiet) == seen_quiet
    again = await shop.say(keen, "дякую")  # a reply: the silence is over
    assert again
    assert len(await shop.jobs(keen_id, "reengagement")) == 1
