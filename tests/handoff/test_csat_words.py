"""A satisfaction score typed in words or with its scale ("п'ять зірок", "it was great, 5
stars", "five") is recorded like a tapped button (trial F4: all of them were lost, and "п'ять"
went on to become the customer's name in the resumed booking)."""

from __future__ import annotations

import pytest

from handoff.hook import _score
from tests.bots.conftest import new_chat_id, new_update_id
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_updates import text_update
from tests.handoff.conftest import Api


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("5", 5),
        ("п'ять", 5),
        ("пʼять", 5),
        ("Five!", 5),
        ("two stars", 2),
        ("4 з 5", 4),
        ("3/5", 3),
        ("п'ять зірок", 5),
        ("it was great, 5 stars", 5),
        ("2 зірки", 2),
        # a score first, then thanks or a comment (trial 4, G5)
        ("5, дуже дякую", 5),
        ("4 - nice, but slow", 4),
        ("5 thanks", 5),
        ("п'ять, дякую", 5),
        ("2. погано", 2),
    ],
)
def test_a_score_in_words_or_with_its_scale(text: str, score: int) -> None:
    assert _score(text, None) == score


@pytest.mark.parametrize(
    "text",
    [
        "I want 2 appointments",
        "6",
        "1 2",
        "5 stars or 4 stars",
        "відмінно",
        "завтра о 5",
        "5 хвилин чекала",
        "3, 4 і 5",
        "дякую",
    ],
)
def test_what_is_no_score(text: str) -> None:
    assert _score(text, None) is None


async def test_a_typed_score_is_recorded_after_the_ticket_closes(
    api: Api, fake_telegram: FakeTelegram
) -> None:
    _, token = await api.add_agent("oksana", ["general", "orders"], ["uk", "en"])
    chat = new_chat_id()
    await api.telegram(text_update(chat, "покличте людину", update_id=new_update_id()))
    await fake_telegram.wait_for(lambda: len(fake_telegram.sent_messages(chat)) >= 1)
    [ticket] = await api.tickets(token, status="offered")
    await api.ok("POST", f"/api/tickets/{ticket['id']}/claim", token)
    before = len(fake_telegram.sent_messages(chat))
    await api.ok("POST", f"/api/tickets/{ticket['id']}/close", token, {"resolution": "done"})
    await fake_telegram.wait_for(lambda: len(fake_telegram.sent_messages(chat)) >= before + 2)
    sent = len(fake_telegram.sent_messages(chat))
    await api.telegram(text_update(chat, "п'ять зірок", update_id=new_update_id()))
    await fake_telegram.wait_for(lambda: len(fake_telegram.sent_messages(chat)) > sent)
    assert "Дякуємо" in fake_telegram.sent_messages(chat)[-1]["text"]
    done = await api.ok("GET", f"/api/tickets/{ticket['id']}", token)
    assert done["csat"] == 5
