"""Trial 3, T11: mid-booking, "my appointmnets" (a typo) was read as an order's status; the bot
asked for an order number and the half-made booking was set aside without a word. A booking
word with one slip of the keys is now that word (the question which visits are booked, answered
before the booking goes on), and a task set aside for another is said to wait."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conversations.inline import talk

BOOKED = [{"service": "cleaning", "at": "2026-03-13 11:00"}]
AT_TIME = {"flow": "booking", "step": "time", "slots": {"service": "cleaning"}}

CASES: dict[str, tuple[str, list[dict[str, Any]], list[dict[str, Any]]]] = {
    "a typo of appointments mid-booking (en)": (
        "en",
        BOOKED,
        [
            {"say": "book a teeth cleaning tomorrow", "bot": "What time on Wednesday"},
            {
                "say": "my appointmnets",
                "bot": ["Your upcoming visits", "Fri 13.03", "What time on Wednesday"],
                "bot_not": "order number",
                "state": AT_TIME,
            },
        ],
    ),
    "a typo of bookings with nothing booked (en)": (
        "en",
        [],
        [
            {"say": "book a teeth cleaning tomorrow", "bot": "What time on Wednesday"},
            {
                "say": "show my bookigns",
                "bot": ["can't find any upcoming visits", "What time on Wednesday"],
                "bot_not": "order number",
                "state": AT_TIME,
            },
        ],
    ),
    "an order checked mid-booking: the booking is said to wait (en)": (
        "en",
        [],
        [
            {"say": "book a teeth cleaning tomorrow", "bot": "What time on Wednesday"},
            {
                "say": "where is my order?",
                "bot": ["We'll come back to your booking once this is done", "order number"],
                "state": {"flow": "order_status"},
            },
            {
                "say": "A1001",
                "bot": ["Order A1001", "Back to your booking", "What time on Wednesday"],
                "state": AT_TIME,
            },
        ],
    ),
    "an order checked mid-booking: the booking is said to wait (uk)": (
        "uk",
        [],
        [
            {"say": "хочу записатися на чистку зубів завтра", "bot": "О котрій у середу"},
            {
                "say": "де моє замовлення?",
                "bot": ["Повернемося до запису, щойно закінчимо з цим", "номер замовлення"],
                "state": {"flow": "order_status"},
            },
            {
                "say": "A1001",
                "bot": ["A1001", "Повертаємося до запису", "О котрій у середу"],
                "state": AT_TIME,
            },
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_booking_is_not_set_aside_without_a_word(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path, case: str
) -> None:
    language, bookings, turns = CASES[case]
    customer = {"language": language, "bookings": bookings}
    await talk(request, tmp_path, nlu_model_path, turns, customer=customer)
