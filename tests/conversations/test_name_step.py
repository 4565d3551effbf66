"""Issue 17: text typed where a name is asked for is stored as the name only when it is one.

"continue in Telegram" became "Name: Continue In Telegram". Requests and commands (a sure
intent, a slash command, a button's title typed out, a phrase with a verb or a preposition, too
many words, digits) are not names: the dialogue handles the request, or asks for the name
again, and a real name typed next is kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from bots.flows.names import read_name_at_step
from bots.flows.templates import Templates
from bots.flows.understanding import from_parse
from nlu import BuiltinModel, load_model
from tests.conversations.inline import talk

NOW = dt.datetime(2026, 3, 10, 7, 0, tzinfo=dt.UTC)
NAMES = [
    ("Олена Петренко", "Олена Петренко"),
    ("Марія", "Марія"),
    ("тарас", "Тарас"),
    ("мене звати Тарас", "Тарас"),
    ("Іван Франко", "Іван Франко"),
    ("Мар'яна", "Мар'яна"),
    ("В. Коваль", "В. Коваль"),
    ("Віра", "Віра"),
    ("Надія", "Надія"),
    ("John Smith", "John Smith"),
    ("my name is will smith", "Will Smith"),
    ("Grace", "Grace"),
    ("Hope", "Hope"),
    ("Anna-Maria de la Cruz", "Anna-Maria De La Cruz"),
]
REQUESTS = [
    "continue in Telegram",
    "Continue in Viber",
    "продовжити в телеграмі",
    "Перейти в телеграм",
    "Viber",
    "/start",
    "/book_appointment",
    "Записатися",
    "Поговорити з людиною",
    "Talk to a person",
    "I want to check my order",
    "скільки коштує чистка",
    "what are your hours",
    "Help",
    "Допоможіть",
    "Book now",
    "Статус замовлення",
    "я хочу у вайбер",
    "Olena Petrenko Kovalenko Ivanivna Bondar",
    "Olena 2",
    "чудово",  # praise, not the name "Чудово" (trial 3, T12)
    "Perfect!",
]


@pytest.fixture(scope="module")
def model(nlu_model_path: Path) -> BuiltinModel:
    return load_model(nlu_model_path)


def _read(model: BuiltinModel, text: str) -> str | None:
    parse = model.parse_sync(text, now=NOW, tz="Europe/Kyiv")
    return read_name_at_step(parse.text, from_parse(parse), Templates("uk"))


@pytest.mark.parametrize(("text", "name"), NAMES)
def test_names_are_names(model: BuiltinModel, text: str, name: str) -> None:
    assert _read(model, text) == name


@pytest.mark.parametrize("text", REQUESTS)
def test_requests_are_not_names(model: BuiltinModel, text: str) -> None:
    assert _read(model, text) is None


BOOK = {"say": "book a dental consultation tomorrow at 15:00", "state": {"step": "name"}}
HANDLED = [
    # (the request, what the reply says, the flow afterwards: the request's own or the booking)
    ("continue in Telegram", "phone number you used with us before", "linking"),
    ("what are your opening hours?", ["We're open", "What name should I put"], "booking"),
    ("/book_appointment", "What name should I put", "booking"),
    ("/start", ["I'm the assistant", "Shall we continue?"], "booking"),
    ("Help", "What can I do for you?", "booking"),
    ("Поговорити з людиною", "Передаю розмову колезі", "booking"),
]


@pytest.mark.parametrize(("request_text", "reply", "flow"), HANDLED, ids=[h[0] for h in HANDLED])
async def test_a_request_at_the_name_step_is_handled_not_stored(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    nlu_model_path: Path,
    request_text: str,
    reply: str | list[str],
    flow: str,
) -> None:
    turns: list[dict[str, Any]] = [
        BOOK,
        {"say": request_text, "bot": reply, "bot_not": "Name:", "state": {"flow": flow}},
    ]
    if flow == "booking" and "колезі" not in str(reply):
        turns.append({"say": "Olena Petrenko", "state": {"step": "phone"}})
    conversation = await talk(request, tmp_path, nlu_model_path, turns, customer={"language": "en"})
    session = await conversation.session("customer")
    slots = session.data.get("suspended", {}).get("slots") or session.slots
    assert slots.get("name") in (None, "Olena Petrenko")


async def test_a_name_refused_once_is_taken_when_typed_again(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path
) -> None:
    """A surname that is also a word the checks refuse ("Code"): typed again, it is the name."""
    refused = {"say": "Olha Code", "bot": "just your name", "state": {"step": "name"}}
    again = {"say": "Olha Code", "state": {"step": "phone", "slots": {"name": "Olha Code"}}}
    await talk(
        request, tmp_path, nlu_model_path, [BOOK, refused, again], customer={"language": "en"}
    )


COMMANDS = [
    ("/start", "I'm the assistant", "stopped"),  # Telegram's first message read as "stop"
    ("/help", "I'm the assistant", "didn't understand"),
    ("/book_appointment", "Which service", "didn't understand"),
]


@pytest.mark.parametrize("case", COMMANDS, ids=[c[0] for c in COMMANDS])
async def test_slash_commands_are_commands(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path, case: tuple[str, ...]
) -> None:
    command, reply, not_said = case
    turns = [{"say": command, "bot": reply, "bot_not": not_said}]
    await talk(request, tmp_path, nlu_model_path, turns, customer={"language": "en"})
