"""Trial findings F24 and F2: which message tells the customer's language.

F24: a newcomer's first message in English that the bot did not understand was answered in
Ukrainian, the business's default: with no language to keep, a message's letters set it when
they tell it (English words, or Cyrillic). Gibberish still gets the default.

F2: one message of Ukrainian typed in Latin letters ("koly vy pratsiuiete", "when are you
open") switched a Ukrainian session, and its ticket, to English: the detector reads any Latin
text without a sign of Ukrainian as English. Latin letters now switch a session to English
only with English words in them (`nlu.lang.looks_english`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conversations.inline import talk

EN_FALLBACK = "Sorry, I didn't understand"
UK_FALLBACK = "Вибачте, я не зрозумів"

# (the business's default language, the customer's REST language hint, the turns)
CASES: dict[str, tuple[str, str | None, list[dict[str, Any]]]] = {
    "a first English message not understood is answered in English": (
        "uk",
        None,
        [
            {
                "say": "can u halp me with the thingy plz",
                "bot": EN_FALLBACK,
                "state": {"language": "en"},
            }
        ],
    ),
    "a first Ukrainian message not understood is answered in Ukrainian": (
        "en",
        None,
        [{"say": "фіолетова кукурудза летить", "bot": UK_FALLBACK, "state": {"language": "uk"}}],
    ),
    "first gibberish gets the default": (
        "uk",
        None,
        [{"say": "asdfgh qwerty", "bot": UK_FALLBACK, "state": {"language": "uk"}}],
    ),
    "Ukrainian in Latin letters keeps a Ukrainian session": (
        "en",
        "uk",
        [
            {"say": "привіт", "state": {"language": "uk"}},
            # "when are you open", read as a yes (0.68): understood, and detected as English
            {"say": "koly vidkryto", "bot_not": "Sorry", "state": {"language": "uk"}},
            {
                "say": "koly vy pratsiuiete",
                "bot_not": ["Sorry", "We're open"],
                "state": {"language": "uk"},
            },
            {"say": "ok", "bot_not": "What would you like", "state": {"language": "uk"}},
        ],
    ),
    "a question in English still switches": (
        "en",
        "uk",
        [
            {"say": "привіт", "state": {"language": "uk"}},
            {"say": "when are you open?", "bot": "We're open", "state": {"language": "en"}},
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_the_language_follows_what_the_message_shows(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path, case: str
) -> None:
    default, hint, turns = CASES[case]
    customer = {"language": hint} if hint else {}
    settings = {"default_language": default}
    await talk(request, tmp_path, nlu_model_path, turns, customer=customer, settings=settings)
