"""Trial 4, G11: "continue in Telegram" asked for a phone number first. The deep link of the
messenger named is all it takes: its button, and for Telegram what to send there without the
button ("/start CODE", as the link itself sends), with no phone asked for; a task in progress
goes on. Without a messenger named ("link my account"), the phone is asked for as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conversations.inline import talk

BOT = "omnirelay_test_bot"
LINKS = {"telegram_bot_username": BOT, "viber_chat_uri": "omnirelay"}
TYPED = rf"@{BOT} .*/start [A-Z0-9]+"

CASES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "continue in Telegram (en)": (
        "en",
        [
            {
                "say": "continue in Telegram",
                "bot": "To continue in Telegram, tap the button below",
                "bot_regex": TYPED,
                "bot_not": "phone number",
                "buttons": ["Continue in Telegram"],
                "button_count": 1,
                "state": {"flow": None},
            },
        ],
    ),
    "продовжити у вайбері (uk)": (
        "uk",
        [
            {
                "say": "хочу продовжити у вайбері",
                "bot": "Щоб продовжити в Viber, натисніть кнопку нижче",
                "bot_not": ["номер телефону", "/start"],
                "buttons": ["Перейти в Viber"],
                "state": {"flow": None},
            },
        ],
    ),
    "mid-booking, the booking's question follows (uk)": (
        "uk",
        [
            {"say": "хочу записатися на чистку зубів завтра", "state": {"step": "time"}},
            {
                "say": "можна продовжити в телеграмі?",
                "bot": ["Щоб продовжити в Telegram", "О котрій у середу, 11.03"],
                "bot_regex": TYPED,
                "bot_not": "номер телефону",
                "state": {"flow": "booking", "step": "time"},
            },
        ],
    ),
    "no messenger named: the phone is asked for (en)": (
        "en",
        [
            {
                "say": "link my account",
                "bot": ["phone number you used with us before", "another messenger"],
                "state": {"flow": "linking", "step": "ask_phone"},
            },
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_continue_in_a_messenger_gives_its_link(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path, case: str
) -> None:
    language, turns = CASES[case]
    customer = {"language": language}
    await talk(request, tmp_path, nlu_model_path, turns, customer=customer, settings=LINKS)
