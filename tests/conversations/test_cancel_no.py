"""Trial 5, G3-G5. "Nvm, keep it" at the cancel confirmation was read as the data request (the
bot listed what it keeps); after a confirmed cancel, "хоча ні, залиште" got "Добре" and the
customer believed the visit was kept; at "which visit to cancel?" no "no" was heard but "стоп".
Now a keep/never-mind reply at the confirmation or the choice is a no, and after a cancel the
customer is told it is already cancelled and offered to book again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conversations.inline import talk

ONE = [{"service": "cleaning", "at": "2026-03-11 15:00"}]
TWO = [*ONE, {"service": "facial", "at": "2026-03-14 12:00"}]
KEPT_ONE = {"flow": None, "bookings": 1}
KEPT_TWO = {"flow": None, "bookings": 2}
GONE = {"flow": None, "bookings": 0}
OFFERED = {"flow": "manage_booking", "step": "rebook", "bookings": 0}
EN_ASK = {"say": "cancel my appointment", "bot": "Cancel your visit"}
UK_ASK = {"say": "скасуйте запис", "bot": "Скасувати візит"}
UK_WHICH = {"say": "хочу скасувати запис", "bot": "Який візит скасувати"}
NOT_DATA = ["what we keep", "що ми зберігаємо", "copy", "копі"]


def _kept(say: str, reply: str, state: dict[str, Any]) -> dict[str, Any]:
    return {"say": say, "bot": reply, "bot_not": NOT_DATA, "state": state}


CASES: dict[str, tuple[str, list[Any], list[dict[str, Any]]]] = {
    "nvm, keep it at the confirmation (en)": (
        "en",
        ONE,
        [EN_ASK, _kept("nvm, keep it", "your visit stays as it is", KEPT_ONE)],
    ),
    "never mind at the confirmation (en)": (
        "en",
        ONE,
        [EN_ASK, _kept("never mind", "your visit stays as it is", KEPT_ONE)],
    ),
    "не треба at the confirmation (uk)": (
        "uk",
        ONE,
        [UK_ASK, _kept("не треба", "візит залишається без змін", KEPT_ONE)],
    ),
    "хоча ні, залиште after the cancel (uk)": (
        "uk",
        ONE,
        [
            UK_ASK,
            {"button": "/affirm", "bot": "скасовано", "state": GONE},
            {
                "say": "хоча ні, залиште",
                "bot": ["уже скасовано", "записати вас знову", "Ср 11.03 15:00"],
                "bot_not": "Якщо щось знадобиться",
                "state": OFFERED,
            },
            {
                "say": "так",
                "bot": ["середа, 11.03 о 15:00", "Записати?"],
                "state": {"flow": "booking"},
            },
        ],
    ),
    "nvm, keep it after the cancel (en)": (
        "en",
        ONE,
        [
            EN_ASK,
            {"button": "/affirm", "bot": "is cancelled", "state": GONE},
            {
                "say": "nvm, keep it",
                "bot": ["already cancelled", "book it again", "11.03 15:00"],
                "bot_not": NOT_DATA,
                "state": OFFERED,
            },
            {"button": "/deny", "bot": "stays cancelled", "state": GONE},
        ],
    ),
    "ні, нічого не скасовуйте at the choice (uk)": (
        "uk",
        TWO,
        [UK_WHICH, _kept("ні, нічого не скасовуйте", "нічого не скасовано", KEPT_TWO)],
    ),
    "хоча ні, залиште at the choice (uk)": (
        "uk",
        TWO,
        [UK_WHICH, _kept("хоча ні, залиште", "нічого не скасовано", KEPT_TWO)],
    ),
    "не треба at the choice (uk)": (
        "uk",
        TWO,
        [UK_WHICH, _kept("не треба", "нічого не скасовано", KEPT_TWO)],
    ),
    "never mind at the choice (en)": (
        "en",
        TWO,
        [
            {"say": "cancel my appointment", "bot": "Which visit"},
            _kept("never mind", "How else can I help", KEPT_TWO),
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_no_at_a_cancel_keeps_the_visit_and_says_so(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path, case: str
) -> None:
    language, bookings, turns = CASES[case]
    customer = {"language": language, "name": "Iryna Koval", "phone": "+380931112233"}
    await talk(
        request, tmp_path, nlu_model_path, turns, customer={**customer, "bookings": bookings}
    )
