"""Trial finding 7: a Ukrainian customer was switched to English by one Latin-script typo
("asdfgh"), and then even the Cyrillic "ок" was answered in English. Only a confident reading
changes the session's language: a message the bot did not understand (gibberish, a typo), a very
short one, or a Latin-script value given to the dialogue's question (a name such as "Olena")
keeps it; a message understood in the other language still switches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conversations.inline import talk

UK_FALLBACK = "Вибачте, я не зрозумів"
UK = {"language": "uk"}


def _kept(say: str, **more: Any) -> dict[str, Any]:
    return {"say": say, "state": {**more.pop("state", {}), "language": "uk"}, **more}


CASES = {
    "typo after a greeting": [
        _kept("привіт"),
        _kept("asdfgh", bot=UK_FALLBACK),
        _kept("ok", bot_not="What would you like"),
    ],
    "typo first, then ок": [
        _kept("qwerty asdf", bot=UK_FALLBACK),
        _kept("ок", bot_not="What would you like"),
        _kept("коли ви працюєте?"),
    ],
    "a Latin name at the name step": [
        _kept("хочу записатися на чистку зубів завтра о 15:00", bot="На яке ім'я"),
        _kept("Olena", bot="За яким номером", state={"step": "phone"}),
    ],
    "a question understood in English switches": [
        _kept("привіт"),
        {"say": "what are your opening hours?", "state": {"language": "en"}},
    ],
}


FIRST = {
    # a newcomer's first message sets the language however short, once it is understood
    "Hi": [{"say": "Hi", "bot_not": "Вітаю", "state": {"language": "en"}}],
    "привіт": [{"say": "привіт", "state": {"language": "uk"}}],
}


@pytest.mark.parametrize("case", list(FIRST))
async def test_a_first_message_sets_the_language_however_short(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path, case: str
) -> None:
    await talk(request, tmp_path, nlu_model_path, FIRST[case])


@pytest.mark.parametrize("case", list(CASES))
async def test_only_a_confident_reading_changes_the_language(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path, case: str
) -> None:
    await talk(request, tmp_path, nlu_model_path, CASES[case], customer=UK)
