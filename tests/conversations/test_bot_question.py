"""Trial 4, G10: "ти бот чи людина?" opened a ticket (the model read the word "людина" as a
request for a person). The question is answered (a bot, what it can do, a person on offer)
and nothing is handed over; asked in the middle of a booking, the booking's question follows.
A request for a person is still one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bots.flows.bot_question import asks_if_bot
from tests.conversations.inline import talk

NO_HANDOFF = {"handoff": None}

CASES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "uk with a Latin o and t (trial 5, G15)": (
        "uk",
        [
            {
                "say": "ти бot чи людина?",
                "bot": ["Я бот-помічник", "не людина"],
                "buttons": ["Поговорити з людиною"],
                "state": NO_HANDOFF,
            },
        ],
    ),
    "uk": (
        "uk",
        [
            {
                "say": "ти бот чи людина?",
                "bot": ["Я бот-помічник", "не людина"],
                "buttons": ["Поговорити з людиною"],
                "state": NO_HANDOFF,
            },
        ],
    ),
    "en": (
        "en",
        [
            {
                "say": "are you a real person?",
                "bot": ["assistant bot", "not a person"],
                "buttons": ["Talk to a person"],
                "state": NO_HANDOFF,
            },
        ],
    ),
    "in the middle of a booking (en)": (
        "en",
        [
            {"say": "book a teeth cleaning tomorrow at 3pm", "bot": "What name"},
            {
                "say": "is this a bot?",
                "bot": ["assistant bot", "What name"],
                "state": {**NO_HANDOFF, "flow": "booking"},
            },
        ],
    ),
    "a request for a person is still one (uk)": (
        "uk",
        [{"say": "покличте людину", "state": {"handoff": "pending"}}],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_bot_question_is_answered_not_handed_over(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path, case: str
) -> None:
    language, turns = CASES[case]
    await talk(request, tmp_path, nlu_model_path, turns, customer={"language": language})


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("ти бот чи людина?", True),
        ("ви бот?", True),
        ("чи ви жива людина?", True),
        ("я розмовляю з ботом?", True),
        ("Are you a bot?", True),
        ("am I talking to a human?", True),
        ("is this a robot or a human?", True),
        ("я хочу поговорити з людиною", False),
        ("покличте людину", False),
        ("can I talk to a person", False),
    ],
)
def test_what_asks_if_it_is_a_bot(text: str, asks: bool) -> None:
    assert asks_if_bot(text) is asks
