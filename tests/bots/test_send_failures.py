"""What happens when the platform answers 429, 500 or 403 to our sendMessage."""

from __future__ import annotations

import pytest

from storage.db import Database
from storage.repositories.customers import CustomerRepository
from tests.bots.conftest import Service, new_chat_id, new_update_id
from tests.bots.test_telegram_e2e import transcript_for_chat
from tests.fakes import wait_until
from tests.fakes.telegram import FakeTelegram, text_update


def replies_to(fake: FakeTelegram, chat: int) -> list[str]:
    return [m["text"] for m in fake.sent_messages(chat_id=chat)]


@pytest.mark.parametrize("retry_after", [1, None], ids=["retry_after", "bare_429"])
async def test_429_waits_and_delivers(
    service: Service, fake_telegram: FakeTelegram, retry_after: int | None
) -> None:
    chat = new_chat_id()
    fake_telegram.fail_next("sendMessage", status=429, retry_after=retry_after)
    await service.telegram(text_update(chat, "hello", update_id=new_update_id()))
    await fake_telegram.wait_for(lambda: len(replies_to(fake_telegram, chat)) == 1, timeout=10)
    attempts = fake_telegram.calls_to("sendMessage")
    assert [c.status for c in attempts] == [429, 200]
    if retry_after:
        assert attempts[1].at - attempts[0].at >= retry_after * 0.9


async def test_a_rate_limit_wave_longer_than_the_attempts_is_waited_out(
    service: Service, fake_telegram: FakeTelegram
) -> None:
    """A 429 says when to come back; it is not a failed attempt. Ten of them in a row (more
    than `send_max_attempts`) delay the reply but do not lose it."""
    chat = new_chat_id()
    attempts = service.settings.send_max_attempts
    fake_telegram.fail_next("sendMessage", status=429, retry_after=1, count=attempts + 2)
    await service.telegram(text_update(chat, "hello", update_id=new_update_id()))
    await fake_telegram.wait_for(lambda: len(replies_to(fake_telegram, chat)) == 1, timeout=90)
    statuses = [c.status for c in fake_telegram.calls_to("sendMessage")]
    assert statuses == [429] * (attempts + 2) + [200]


async def test_5xx_is_retried_with_backoff(service: Service, fake_telegram: FakeTelegram) -> None:
    chat = new_chat_id()
    fake_telegram.fail_next("sendMessage", status=500, count=2)
    await service.telegram(text_update(chat, "hello", update_id=new_update_id()))
    await fake_telegram.wait_for(lambda: len(replies_to(fake_telegram, chat)) == 1, timeout=10)
    assert [c.status for c in fake_telegram.calls_to("sendMessage")] == [500, 500, 200]


async def test_403_blocked_marks_identity_unreachable(
    service: Service, fake_telegram: FakeTelegram
) -> None:
    chat = new_chat_id()
    fake_telegram.fail_next("sendMessage", status=403)
    await service.telegram(text_update(chat, "hello", update_id=new_update_id()))

    async def undeliverable() -> bool:
        rows = await transcript_for_chat(service, chat)
        return any(getattr(r, "status", None) == "undeliverable" for r in rows)

    await wait_until(undeliverable, timeout=10, what="the reply marked undeliverable")
    assert [c.status for c in fake_telegram.calls_to("sendMessage")] == [403]  # no retry
    db = Database(service.settings.database_url)
    try:
        async with db.session() as s:
            identity = await CustomerRepository(s).identity("telegram", str(chat))
            assert identity is not None and identity.reachable is False
    finally:
        await db.dispose()


async def test_a_rate_limited_customer_does_not_block_others(
    service: Service, fake_telegram: FakeTelegram
) -> None:
    slow, other = new_chat_id(), new_chat_id()
    fake_telegram.fail_next("sendMessage", status=429, retry_after=2)
    await service.telegram(text_update(slow, "hello", update_id=new_update_id()))
    await fake_telegram.wait_for(1, method="sendMessage")  # the 429
    await service.telegram(text_update(other, "hello", update_id=new_update_id()))
    await fake_telegram.wait_for(lambda: len(replies_to(fake_telegram, other)) == 1, timeout=5)
    # the other customer was answered while the first one was still waiting out its 429
    assert replies_to(fake_telegram, slow) == []
    await fake_telegram.wait_for(lambda: len(replies_to(fake_telegram, slow)) == 1, timeout=10)


async def test_replies_to_one_chat_are_paced_not_refused(
    service: Service, fake_telegram: FakeTelegram
) -> None:
    """Telegram allows about one message a second to a chat: a burst of replies waits its
    turn in the chat's lane (after a short burst) instead of drawing 429s."""
    chat = new_chat_id()
    for number in ("A1001", "A1002", "A1003", "A1005", "A1008"):
        await service.telegram(text_update(chat, f"order {number}", update_id=new_update_id()))
    await fake_telegram.wait_for(lambda: len(replies_to(fake_telegram, chat)) == 5, timeout=20)
    calls = [c for c in fake_telegram.calls_to("sendMessage") if c.status == 200]
    assert len(calls) == 5
    # the burst of 3 may go at once; the 4th and 5th are paced about a second apart
    assert calls[4].at - calls[2].at >= 1.5
