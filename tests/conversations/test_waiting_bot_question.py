"""Trial 5, G13. Offered "call me back or leave a message?" (nobody online), the customer asked
"ти бот чи людина?" and nothing came back at all. The question is answered and the choice is
asked again, with its buttons; the ticket still waits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conversations.inline import talk

PENDING = {"handoff": "pending"}
CASES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "uk": (
        "uk",
        [
            {"say": "покличте людину", "bot": "чи залишите повідомлення", "state": PENDING},
            {
                "say": "ти бот чи людина?",
                "bot": ["Я бот-помічник", "чи залишите повідомлення"],
                "buttons": ["Передзвоніть мені", "Залишити повідомлення"],
                "state": PENDING,
            },
        ],
    ),
    "en": (
        "en",
        [
            {"say": "I want to talk to a person", "bot": "leave a message", "state": PENDING},
            {
                "say": "are you a bot?",
                "bot": ["assistant bot", "leave a message"],
                "state": PENDING,
            },
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_bot_question_while_a_person_is_awaited_is_answered(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path, case: str
) -> None:
    language, turns = CASES[case]
    await talk(request, tmp_path, nlu_model_path, turns, customer={"language": language})
