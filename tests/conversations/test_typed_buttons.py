"""Trial finding F6: a button's title typed out instead of tapped was not understood: the NLU
reads "Змінити" ("Change") as rescheduling, "Так, скасувати" ("Yes, cancel it") as a new
cancellation. The title of a button of the bot's last
reply, typed (case, spacing and punctuation aside), is that button's tap
(`bots.flows.understanding.from_title`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conversations.inline import Case, talk_case

KNOWN = {"name": "Iryna Koval", "phone": "+380931112233"}
UK_SUMMARY = {"say": "хочу записатися на чистку зубів завтра о 15:00", "state": {"step": "confirm"}}
EN_SUMMARY = {"say": "book a dental consultation tomorrow at 15:00", "state": {"step": "confirm"}}
VISIT = [{"service": "consultation", "at": "2026-03-12 10:00"}]

CASES: dict[str, Case] = {
    "змінити, then час": (
        "uk",
        [],
        [
            UK_SUMMARY,
            {"say": "змінити", "bot": "Що змінити?", "state": {"flow": "booking"}},
            {"say": "Час", "bot": "О котрій", "state": {"step": "time"}},
        ],
    ),
    "Change something, then Day": (
        "en",
        [],
        [
            EN_SUMMARY,
            {"say": "Change something", "bot": "What would you like to change?"},
            {"say": "day", "bot": "When would you like to come?", "state": {"step": "date"}},
        ],
    ),
    "так, скасувати": (
        "uk",
        VISIT,
        [
            {"say": "скасувати запис", "state": {"flow": "manage_booking", "step": "confirm"}},
            {"say": "Так, скасувати!", "bot": "скасовано", "state": {"flow": None, "bookings": 0}},
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_button_title_typed_out_is_the_tap(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path, case: str
) -> None:
    await talk_case(request, tmp_path, nlu_model_path, CASES[case], **KNOWN)
