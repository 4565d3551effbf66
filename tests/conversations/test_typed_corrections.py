"""Trial 3, T10: "im Yurii Bondarenko, +38 067 ..." was booked under "Im Yurii Bondarenko", and
a part of the booking typed at "What would you like to change?" ("the time", "час", "name") was
not understood (twice: a person was called). An introduction is dropped from the name however it
is typed; a part named in words is changed as its button would change it, and a name or phone
to be changed is asked for, not filled in again from the profile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conversations.inline import talk

BOOK: dict[str, dict[str, Any]] = {
    "uk": {"say": "хочу записатися на чистку зубів завтра о 15:00", "state": {"step": "name"}},
    "en": {"say": "book a cleaning tomorrow at 3pm", "state": {"step": "name"}},
}
KNOWN = {"name": "Iryna Koval", "phone": "+380931112233"}
SUMMARY = {"uk": "Перевірте, будь ласка, запис", "en": "Please check your booking"}
CHANGE = {"uk": "Змінити", "en": "Change something"}

INTRODUCED = [  # (language, typed, the summary's name line, what was booked before)
    ("en", "im Yurii Bondarenko, +38 067 123 4567", "Name: Yurii Bondarenko", "Im Yurii"),
    ("en", "hi, Im Anna Koval 0671234567", "Name: Anna Koval", "Hi"),
    ("uk", "я Юрій Бондаренко, 0671234567", "Ім'я: Юрій Бондаренко", "Я Юрій"),
    ("uk", "мене звуть Тарас Шевчук, 067 123 45 67", "Ім'я: Тарас Шевчук", "Звуть"),
]


@pytest.mark.parametrize(
    ("language", "say", "shown", "wrong"), INTRODUCED, ids=[c[1] for c in INTRODUCED]
)
async def test_an_introduction_is_no_part_of_the_name(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    nlu_model_path: Path,
    language: str,
    say: str,
    shown: str,
    wrong: str,
) -> None:
    turns: list[dict[str, Any]] = [
        BOOK[language],
        {
            "say": say,
            "bot": [shown, "+380671234567"],
            "bot_not": wrong,
            "state": {"step": "confirm", "language": language},
        },
    ]
    await talk(request, tmp_path, nlu_model_path, turns, customer={"language": language})


def _asked(step: str, bot: str) -> dict[str, Any]:
    return {"bot": bot, "bot_not": SUMMARY["en"], "state": {"flow": "booking", "step": step}}


TYPED = {
    # after "What would you like to change?": the part on its own
    "the time": ("en", True, {"say": "the time", **_asked("time", "What time on Wednesday")}),
    "час": ("uk", True, {"say": "час", **_asked("time", "О котрій у середу")}),
    "name": ("en", True, {"say": "name", **_asked("name", "What name should")}),
    "ім'я": ("uk", True, {"say": "ім'я", **_asked("name", "На яке ім'я")}),
    "the phone number": ("en", True, {"say": "the phone number", **_asked("phone", "phone")}),
    # at the summary itself: with a word that asks for a change
    "change the name": ("en", False, {"say": "change the name", **_asked("name", "What name")}),
    "змініть телефон": ("uk", False, {"say": "змініть телефон", **_asked("phone", "номером")}),
    "another day": ("en", False, {"say": "another day", **_asked("date", "When would you")}),
}


@pytest.mark.parametrize("case", list(TYPED))
async def test_a_part_typed_at_the_change_question_is_changed(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path, case: str
) -> None:
    language, after_button, typed = TYPED[case]
    summary = {"say": BOOK[language]["say"], "bot": SUMMARY[language]}
    tapped = [{"tap": CHANGE[language], "state": {"step": "confirm"}}] if after_button else []
    turns = [summary, *tapped, typed]
    await talk(request, tmp_path, nlu_model_path, turns, customer={**KNOWN, "language": language})


async def test_a_changed_name_is_the_one_booked(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path
) -> None:
    turns: list[dict[str, Any]] = [
        {"say": BOOK["en"]["say"], "bot": "Name: Iryna Koval"},
        {"tap": CHANGE["en"]},
        {"say": "name", "bot": "What name should"},
        {"say": "Iryna Petrenko", "bot": ["Name: Iryna Petrenko", "Phone: +380931112233"]},
        {"say": "yes", "bot": "Done!", "state": {"bookings": 1, "flow": None}},
    ]
    await talk(request, tmp_path, nlu_model_path, turns, customer={**KNOWN, "language": "en"})


async def test_a_question_at_the_summary_is_no_correction(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path
) -> None:
    """Naming a part without asking to change it is not a correction ("what time do you
    open?" is a question)."""
    turns: list[dict[str, Any]] = [
        {"say": BOOK["en"]["say"], "bot": SUMMARY["en"]},
        {"say": "what time do you open?", "bot": ["We're open", SUMMARY["en"]]},
    ]
    await talk(request, tmp_path, nlu_model_path, turns, customer={**KNOWN, "language": "en"})


@pytest.mark.parametrize("language", ["en", "uk"])
async def test_a_booking_started_again_keeps_the_name_and_phone(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path, language: str
) -> None:
    """Trial 3, T14: the name and phone typed into a booking were asked again when it started
    over (after a handoff, or a "stop"): they are kept with the session's contact."""
    again = {
        "en": ("stop", "book a teeth cleaning on Friday at 11", "Name: Yurii Bondarenko"),
        "uk": ("стоп", "запишіть на чистку зубів у пʼятницю об 11", "Ім'я: Юрій Бондаренко"),
    }[language]
    name = {"en": "Yurii Bondarenko", "uk": "Юрій Бондаренко"}[language]
    turns: list[dict[str, Any]] = [
        BOOK[language],
        {"say": name, "state": {"step": "phone"}},
        {"say": "0671234567", "state": {"step": "confirm"}},
        {"say": again[0], "state": {"flow": None}},
        {"say": again[1], "bot": [again[2], "+380671234567"], "state": {"step": "confirm"}},
    ]
    await talk(request, tmp_path, nlu_model_path, turns, customer={"language": language})
