"""The customer's own privacy requests in Telegram, in English and Ukrainian, on both backends:
"what data do you have about me" answers with a summary and, on a chat that verified the phone,
a signed link to the export after a yes; "Забудьте мене" asks first, "no" keeps everything, "yes"
erases the customer after the last message is delivered."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import select

from bots.config import Settings
from bots.privacy.wiring import PRIVACY
from storage.db import Database
from storage.models import ChannelIdentity, Message
from storage.repositories.customers import CustomerRepository
from storage.repositories.privacy import ErasureJob
from tests.bots.conftest import new_chat_id, new_update_id
from tests.fakes import wait_until
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_updates import callback_update, contact_update, text_update
from tests.handoff import conftest as handoff_suite
from tests.handoff.conftest import Api
from tests.privacy.erasure_harness import WAIT, running

handoff_settings, make_settings = handoff_suite.handoff_settings, handoff_suite.make_settings
fake_telegram, mode, pg_e2e_url = (
    handoff_suite.fake_telegram,
    handoff_suite.mode,
    handoff_suite.pg_e2e_url,
)
database_url_for = handoff_suite.database_url_for

PUBLIC = "https://shop.example"
LINK = re.compile(re.escape(PUBLIC) + r"(/privacy/export/\S+)")


@pytest.fixture
async def shop(handoff_settings: Callable[..., Settings]) -> AsyncIterator[Api]:
    async with running(handoff_settings(public_url=PUBLIC)) as api:
        yield api


class Chat:
    """One Telegram chat with the bot: what it says, and the bot's new messages."""

    def __init__(self, api: Api, fake: FakeTelegram, language: str) -> None:
        self.api, self.fake, self.id = api, fake, new_chat_id()
        self.language = language
        self.seen = 0

    async def _replies(self, send: dict[str, Any], count: int) -> list[dict[str, Any]]:
        """Send, then wait for the bot's next ``count`` messages."""
        await self.api.telegram(send)
        await self.fake.wait_for(
            lambda: len(self.fake.sent_messages(self.id)) >= self.seen + count, timeout=WAIT
        )
        new = self.fake.sent_messages(self.id)[self.seen :]
        self.seen += len(new)
        return new

    async def say(self, text: str, count: int = 1) -> list[dict[str, Any]]:
        update = text_update(self.id, text, update_id=new_update_id())
        update["message"]["from"]["language_code"] = self.language
        return await self._replies(update, count)

    async def tap(self, payload: str) -> list[dict[str, Any]]:
        return await self._replies(callback_update(self.id, payload, update_id=new_update_id()), 1)

    async def share_own_contact(self) -> None:
        await self._replies(contact_update(self.id, "+380501112233", user_id=self.id), 1)


def _buttons(messages: list[dict[str, Any]]) -> list[str]:
    keyboard = messages[-1].get("reply_markup", {}).get("inline_keyboard", [])
    return [b["callback_data"] for row in keyboard for b in row if "callback_data" in b]


def _text(messages: list[dict[str, Any]]) -> str:
    return "\n".join(str(m.get("text", "")) for m in messages)


async def test_what_data_do_you_have_gives_a_summary_and_a_signed_export(
    shop: Api, fake_telegram: FakeTelegram
) -> None:
    chat = Chat(shop, fake_telegram, "en")
    await chat.say("hello")
    await chat.share_own_contact()
    answer = await chat.say("what data do you have about me", 2)
    assert "messages (channels: Telegram)" in _text(answer)
    assert _buttons(answer) == ["/affirm", "/deny"]
    [link] = LINK.findall(_text(await chat.tap("/affirm")))
    resp = await shop.client.get(link)
    assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
    doc = await resp.json()
    assert doc["format"] == "omnirelay.customer-export/1"
    assert "what data do you have about me" in [m["text"] for m in doc["transcript"]]
    assert doc["phones"][0]["phone"] == "+380501112233"
    forged = (await shop.client.get(link[:-2] + "xx")).status
    assert forged == 404  # a signature that does not hold
    nobody = shop.client.app[PRIVACY].export_link(10**12)
    assert nobody is not None
    assert (await shop.client.get(nobody.removeprefix(PUBLIC))).status == 404

    uk = Chat(shop, fake_telegram, "uk")
    answer = await uk.say("які дані ви про мене зберігаєте?", 2)
    assert "Ось що ми зберігаємо про вас" in _text(answer)
    assert "підтвердьте свій номер" in _text(answer)  # no phone vouched for here: no copy
    assert LINK.search(_text(answer)) is None


async def test_forget_me_asks_then_erases_after_the_last_message(
    shop: Api, fake_telegram: FakeTelegram
) -> None:
    chat = Chat(shop, fake_telegram, "uk")
    await chat.say("привіт, я Мирослава Забутько")
    asked = await chat.say("Забудьте мене")
    assert "Видалити все" in _text(asked) and _buttons(asked) == ["/affirm", "/deny"]
    assert "нічого не видалено" in _text(await chat.tap("/deny"))
    await chat.say("прив'язати акаунт")  # a task under way, interrupted by the request
    # the request typed while the share-phone keyboard is up: Telegram's reply is two messages,
    # the first takes the keyboard away, the second carries the inline buttons (60b1168)
    asked = await chat.say("Забудьте мене", 2)
    assert _buttons(asked[-1:]) == ["/affirm", "/deny"]
    assert fake_telegram.sent_messages(chat.id)[-2].get("reply_markup") == {"remove_keyboard": True}
    last = await chat.tap("/affirm")
    assert "Готово" in _text(last)

    db = Database(shop.settings.database_url)
    try:
        job = await wait_until(lambda: _finished(db), timeout=WAIT, what="erasure done")
        async with db.session() as s:
            identities = list(await s.scalars(select(ChannelIdentity.external_id)))
            rows = list(
                await s.scalars(select(Message).where(Message.customer_id == job.customer_id))
            )
            found = await CustomerRepository(s).find_by_identity("telegram", str(chat.id))
    finally:
        await db.dispose()
    assert job.requested_by == f"customer:{job.customer_id}"
    assert str(chat.id) not in identities and found is None
    assert rows and all(r.text is None for r in rows)
    assert [r.status for r in rows if r.direction == "out"][-1] == "sent"  # the goodbye went out
    # the goodbye is the last word: the interrupted task is not taken up again after it
    assert "Готово" in str(fake_telegram.sent_messages(chat.id)[-1].get("text"))

    # within the worker's identity cache's minute: a stranger now, on a new profile
    again = await chat.say("hello?")
    assert again
    db = Database(shop.settings.database_url)
    try:
        async with db.session() as s:
            now = await CustomerRepository(s).find_by_identity("telegram", str(chat.id))
            kept = list(
                await s.scalars(select(Message).where(Message.customer_id == job.customer_id))
            )
    finally:
        await db.dispose()
    assert now is not None and now.id != job.customer_id
    assert len(kept) == len(rows) and all(r.text is None for r in kept)


async def _finished(db: Database) -> ErasureJob | None:
    async with db.session() as s:
        job = (await s.scalars(select(ErasureJob))).first()
    assert job is None or job.state != "failed", job.error if job else None
    return job if job is not None and job.state == "done" else None


async def test_no_copy_is_offered_where_none_can_be_sent(
    handoff_settings: Callable[..., Settings], fake_telegram: FakeTelegram
) -> None:
    """Without a public address to link to, a customer with a vouched phone gets the summary
    and where to ask for a copy, not an offer the bot would then refuse."""
    async with running(handoff_settings()) as api:
        chat = Chat(api, fake_telegram, "en")
        await chat.say("hello")
        await chat.share_own_contact()
        answer = await chat.say("what data do you have about me", 2)
    assert "messages (channels: Telegram)" in _text(answer)
    assert "ask our team" in _text(answer) and _buttons(answer) == []
