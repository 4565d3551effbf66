"""Trial finding F3: "відмінно" ("excellent") opened the cancel-visit flow. No rule did it: the
model's character n-grams took "відмін-" ("відмініть", "відміна": cancel) from the cancel
examples, and nothing in the training data said that the adverb praises ("excellent" was read
as a cancel too). Praise is a yes (`affirm`) or a thank-you in the training data now, so it
confirms a booking, and said on its own it starts nothing; "відмініть" still cancels."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conversations.inline import Case, talk_case

CUSTOMER = {"name": "Iryna Koval", "phone": "+380931112233"}
VISIT = [{"service": "consultation", "at": "2026-03-12 10:00"}]
UK_BOOK = {"say": "хочу записатися на чистку зубів завтра о 15:00", "state": {"step": "confirm"}}
EN_BOOK = {"say": "book a dental consultation tomorrow at 15:00", "state": {"step": "confirm"}}
UK_CANCEL_ASKED = "Скасувати візит"

CASES: dict[str, Case] = {
    "відмінно confirms a booking": (
        "uk",
        [],
        [UK_BOOK, {"say": "відмінно", "bot": "Готово!", "state": {"flow": None, "bookings": 1}}],
    ),
    "excellent confirms a booking": (
        "en",
        [],
        [EN_BOOK, {"say": "excellent", "bot": "Done!", "state": {"flow": None, "bookings": 1}}],
    ),
    "все відмінно with a visit booked cancels nothing": (
        "uk",
        VISIT,
        [
            {"say": "все відмінно", "bot_not": UK_CANCEL_ASKED, "state": {"flow": None}},
            {"say": "Відмінно", "bot_not": UK_CANCEL_ASKED, "state": {"flow": None, "bookings": 1}},
        ],
    ),
    # trial 3's T11: thanks with praise were thanks, and the booking stayed unconfirmed
    "perfect thx confirms a booking": (
        "en",
        [],
        [EN_BOOK, {"say": "perfect thx", "bot": "Done!", "state": {"flow": None, "bookings": 1}}],
    ),
    "чудово, дякую confirms a booking": (
        "uk",
        [],
        [UK_BOOK, {"say": "чудово, дякую", "bot": "Готово!", "state": {"bookings": 1}}],
    ),
    "great thanks but no does not": (
        "en",
        [],
        [EN_BOOK, {"say": "great thanks but no", "bot_not": "Done!", "state": {"bookings": 0}}],
    ),
    "відмініть still cancels": (
        "uk",
        VISIT,
        [
            {
                "say": "відмініть мій запис",
                "bot": UK_CANCEL_ASKED,
                "state": {"flow": "manage_booking"},
            }
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_praise_is_no_cancel(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path, case: str
) -> None:
    await talk_case(request, tmp_path, nlu_model_path, CASES[case], **CUSTOMER)
