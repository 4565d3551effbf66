"""Trial finding F23: "When is my appointment?" / "коли мій запис?" asked for an order number,
and "do I have any bookings?" / "чи є в мене записи?" started a new booking. Asked which visits
they have, customers are shown their upcoming ones (`bots.flows.bookings_question`), with
buttons to move or cancel one; in the middle of a booking, the booking's question follows."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conversations.inline import Case, talk_case

BOOKED = [
    {"service": "cleaning", "at": "2026-03-11 15:00"},
    {"service": "consultation", "at": "2026-03-12 10:00"},
]
EN_LIST = {
    "bot": ["Your upcoming visits", "Professional teeth cleaning, Wed 11.03 15:00 (BK-"],
    "bot_not": ["order number", "Which service"],
    "buttons": ["Move a visit", "Cancel a visit"],
    "state": {"flow": None, "bookings": 2},
}
UK_LIST = {
    "bot": ["Ваші майбутні візити", "Консультація стоматолога, Чт 12.03 10:00 (BK-"],
    "bot_not": ["номер замовлення", "Яку послугу"],
    "buttons": ["Перенести візит", "Скасувати візит"],
    "state": {"flow": None, "bookings": 2},
}
UK_NONE = {"bot": "Не бачу майбутніх записів", "state": {"flow": None}}

CASES: dict[str, Case] = {
    "en": (
        "en",
        BOOKED,
        [
            {"say": "When is my appointment?", **EN_LIST},
            {"say": "do I have any bookings?", **EN_LIST},
            {"tap": "Cancel a visit", "bot": "Which visit would you like to cancel?"},
        ],
    ),
    "uk": (
        "uk",
        BOOKED,
        [{"say": "коли мій запис?", **UK_LIST}, {"say": "чи є в мене записи?", **UK_LIST}],
    ),
    "uk, none booked": ("uk", [], [{"say": "чи є в мене записи?", **UK_NONE}]),
    "uk, asked while booking": (
        "uk",
        BOOKED[1:],
        [
            {"say": "хочу записатися на чистку зубів завтра о 15:00", "state": {"step": "phone"}},
            {
                "say": "коли мій запис?",
                "bot": ["Консультація стоматолога, Чт 12.03 10:00", "За яким номером"],
                "state": {"flow": "booking", "step": "phone", "slots": {"service": "cleaning"}},
            },
        ],
    ),
    "uk, the data kept about me is no visit": (
        "uk",
        BOOKED,
        [{"say": "які записи про мене у вас є", "bot_not": "майбутні візити"}],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_asked_which_visits_they_have_customers_are_shown_them(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path, case: str
) -> None:
    await talk_case(request, tmp_path, nlu_model_path, CASES[case], name="Iryna Koval")
