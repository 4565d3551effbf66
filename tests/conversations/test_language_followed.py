"""Trial 3, T2: an English customer answered once in Ukrainian (the business's default, or a
Ukrainian app's /start) stayed in Ukrainian: the bot did not understand their questions, and a
message not understood never changed the language, so the fallback, the hand-off and the rating
came in Ukrainian. A message not understood now changes it when its words leave no doubt (two
English words, or Ukrainian Cyrillic); gibberish, a name or "ok" still keep it (F7, F2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conversations.inline import talk

UK_GREETING = "Вітаю"
EN_FALLBACK = "Sorry, I didn't understand"
UK_FALLBACK = "Вибачте, я не зрозумів"

CASES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "English not understood after a Ukrainian greeting": (
        "uk",
        [
            {"say": "/start", "bot": UK_GREETING, "state": {"language": "uk"}},
            {
                "say": "my tooth is killing me since yesterday, what should I do",
                "bot": EN_FALLBACK,
                "state": {"language": "en"},
            },
            {"say": "ok", "bot_not": "Вибачте", "state": {"language": "en"}},
        ],
    ),
    "Ukrainian not understood after an English greeting": (
        "en",
        [
            {"say": "/start", "bot": "I'm the assistant", "state": {"language": "en"}},
            {
                "say": "не розумію, що мені тут треба робити далі",
                "bot": UK_FALLBACK,
                "state": {"language": "uk"},
            },
        ],
    ),
    "gibberish and Latin-typed Ukrainian keep the language": (
        "uk",
        [
            {"say": "/start", "bot": UK_GREETING},
            {"say": "asdfgh qwerty", "bot": UK_FALLBACK, "state": {"language": "uk"}},
            {"say": "koly vy pratsiuiete", "bot_not": EN_FALLBACK, "state": {"language": "uk"}},
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_message_not_understood_follows_clear_words(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path, case: str
) -> None:
    default, turns = CASES[case]
    settings = {"default_language": default}
    await talk(request, tmp_path, nlu_model_path, turns, settings=settings)
