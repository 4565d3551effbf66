"""Trial 3, T13: "Call me back" / "передзвоніть мені" was answered with "a colleague will answer
here", and the call back was then offered, or the phone asked for, although the bot had it (the
customer's profile, or the booking they had just typed it into). Now the known number is
confirmed and recorded on the ticket; without one, it is asked for, without pointing at a share
button (not every channel has one). Over REST, with no colleague online: the call is promised
for when one is free."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conversations.inline import talk

PENDING = {"handoff": "pending", "escalation": "customer_asked_for_a_person"}
EN_ANSWER_HERE = "who will answer here"
UK_ANSWER_HERE = "він відповість тут"

CASES: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {
    "a known phone is confirmed (en)": (
        {"language": "en", "name": "Iryna Koval", "phone": "+380931112233"},
        [
            {
                "say": "call me back please",
                "bot": "A colleague will call you at +380931112233 as soon as one is free",
                "bot_not": [EN_ANSWER_HERE, "Shall a colleague call you back"],
                "button_count": 0,
                "state": PENDING,
            },
        ],
    ),
    "a known phone is confirmed (uk)": (
        {"language": "uk", "name": "Ірина Коваль", "phone": "+380931112233"},
        [
            {
                "say": "передзвоніть мені",
                "bot": "Колега передзвонить вам на +380931112233",
                "bot_not": [UK_ANSWER_HERE, "Хочете, щоб колега"],
                "state": PENDING,
            },
        ],
    ),
    "the phone typed in the booking is known (en)": (
        {"language": "en"},
        [
            {"say": "book a teeth cleaning tomorrow at 3pm", "bot": "What name"},
            {"say": "Yurii Bondarenko", "bot": "phone number"},
            {"say": "0671234567", "bot": "Please check your booking"},
            {
                "say": "actually, can you call me back?",
                "bot": "call you at +380671234567",
                "bot_not": "What number",
                "state": {**PENDING, "flow": "booking"},
            },
        ],
    ),
    "an unknown phone is asked for, then confirmed (uk)": (
        {"language": "uk"},
        [
            {
                "say": "передзвоніть мені будь ласка",
                "bot": "На який номер передзвонити?",
                "bot_not": ["кнопк", UK_ANSWER_HERE],
                "state": PENDING,
            },
            {"say": "067 123 45 67", "bot": "Колега передзвонить вам на +380671234567"},
        ],
    ),
    "an unknown phone is asked for, then confirmed (en)": (
        {"language": "en"},
        [
            {
                "say": "can someone call me back",
                "bot": "What number should we call?",
                "bot_not": ["button", EN_ANSWER_HERE],
                "state": PENDING,
            },
            {"say": "+380671234567", "bot": "will call you at +380671234567"},
        ],
    ),
    "Call me back, capitalised and bare (trial 4, G6)": (
        {"language": "en", "name": "Iryna Koval", "phone": "+380931112233"},
        [
            {
                "say": "Call me back",
                "bot": "A colleague will call you at +380931112233",
                "bot_not": ["call you back or", "leave a message", EN_ANSWER_HERE],
                "state": PENDING,
            },
        ],
    ),
    "the offer of a call back answered in words (en)": (
        {"language": "en", "name": "Iryna Koval", "phone": "+380931112233"},
        [
            {"say": "talk to a person", "bot": "Shall a colleague call you back at +380931112233"},
            {"say": "yes, call me back", "bot": "A colleague will call you at +380931112233"},
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_call_back_asked_for_is_one(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path, case: str
) -> None:
    customer, turns = CASES[case]
    await talk(request, tmp_path, nlu_model_path, turns, customer=customer)
