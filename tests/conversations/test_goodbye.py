"""Issue 17: a goodbye closes the turn. "ок дякую, бувай" was answered and then followed by the
question of the unfinished booking. Now the bot says goodbye and asks nothing; the task stays
where it was and is offered again when the customer comes back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conversations.inline import talk

UK = ["ок дякую, бувай", "дякую, до побачення", "бувай", "дякую, на все добре", "па-па"]
EN = ["ok thanks bye", "thanks, bye!", "bye", "thank you, have a nice day", "ok, see you"]
BYE = {"uk": "До побачення", "en": "Goodbye"}
# (language, what starts the task, the step it waits at)
TASKS = {
    "uk": ({"say": "запишіть на консультацію завтра"}, "time"),
    "en": ({"say": "book a dental consultation tomorrow at 15:00"}, "name"),
}
CASES = [("uk", p) for p in UK] + [("en", p) for p in EN]


def _goodbye(language: str, phrase: str, step: str | None) -> dict[str, Any]:
    """The goodbye turn: answered with a goodbye, no question, the task kept as it was."""
    flow = "booking" if step else None
    return {
        "say": phrase,
        "bot": BYE[language],
        "bot_not": "?",
        "state": {"flow": flow, "step": step},
    }


@pytest.mark.parametrize(("language", "phrase"), CASES)
async def test_a_goodbye_mid_task_asks_nothing(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    nlu_model_path: Path,
    language: str,
    phrase: str,
) -> None:
    start, step = TASKS[language]
    await talk(
        request,
        tmp_path,
        nlu_model_path,
        [{**start, "state": {"flow": "booking", "step": step}}, _goodbye(language, phrase, step)],
        customer={"language": language},
    )


@pytest.mark.parametrize(("language", "phrase"), [("uk", UK[0]), ("en", EN[0])])
async def test_a_goodbye_with_no_task_asks_nothing(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    nlu_model_path: Path,
    language: str,
    phrase: str,
) -> None:
    await talk(
        request,
        tmp_path,
        nlu_model_path,
        [_goodbye(language, phrase, None)],
        customer={"language": language},
    )


async def test_the_task_is_offered_again_when_the_customer_comes_back(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path
) -> None:
    start, step = TASKS["uk"]
    await talk(
        request,
        tmp_path,
        nlu_model_path,
        [
            start,
            _goodbye("uk", UK[0], step),
            {"pause": "3h", "say": "привіт", "bot": "Продовжимо?"},
            {"tap": "Продовжити", "bot": "О котрій у середу, 11.03?"},
        ],
        customer={"language": "uk"},
    )


@pytest.mark.parametrize(("language", "phrase"), [("uk", "ок, дякую"), ("en", "thanks")])
async def test_thanks_mid_task_ask_only_the_tasks_question(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    nlu_model_path: Path,
    language: str,
    phrase: str,
) -> None:
    """Thanks without a farewell keep the task going: one question, the task's, not also
    "Anything else I can help with?"."""
    start, step = TASKS[language]
    conversation = await talk(
        request,
        tmp_path,
        nlu_model_path,
        [start, {"say": phrase, "bot_not": ["Чим ще", "Anything else"], "state": {"step": step}}],
        customer={"language": language},
    )
    assert conversation.last["customer"].text.count("?") == 1
