"""Trial 4, G1 and G15. Asked for the new time of a visit being moved, "same time as before" was
read as account linking (0.83), and the linking then held the customer: "13:30" was "not a phone
number". Now "the same time" ("в той самий час", "о тій же годині") is the visit's own time on
the new day; an intent that would start a flow of its own questions takes a step that asks for
a value only when the model is very sure; and the linking lets the customer go ("нічого", a
time for the task it set aside). "Nvm, keep it" ("хоча ні, залиште як є") while a visit is
being moved leaves it as it is, and says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conversations.inline import talk

CLEANING = [{"service": "cleaning", "at": "2026-03-11 15:00"}]
KEPT = {"flow": None, "bookings": 1, "booking": {"service": "cleaning", "at": "2026-03-11 15:00"}}
AT_TIME = {"flow": "manage_booking", "step": "time", "slots": {"date": "2026-03-13"}}
CONFIRM = {"flow": "manage_booking", "step": "confirm", "slots": {"date": "2026-03-13"}}
EN_FRIDAY = {"say": "I want to reschedule", "bot": "When would you like to come"}
EN_ASKED = {"say": "Friday", "bot": "What time on Friday", "state": AT_TIME}
UK_FRIDAY = {"say": "хочу перенести запис", "bot": "Переносимо візит"}
UK_ASKED = {"say": "на п'ятницю", "bot": "О котрій у п'ятницю", "state": AT_TIME}
UK_MOVE = "Перенести запис «Професійна чистка зубів, Ср 11.03 15:00» на п'ятницю, 13.03, о 15:00?"


def _same(say: str, reply: str) -> dict[str, Any]:
    state = {**CONFIRM, "slots": {"date": "2026-03-13", "time": "15:00"}}
    return {"say": say, "bot": reply, "bot_not": ["phone", "телефон"], "state": state}


CASES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "same time as before (en)": (
        "en",
        [EN_FRIDAY, EN_ASKED, _same("same time as before", "to Friday, 13.03 at 15:00?")],
    ),
    "в той самий час (uk)": ("uk", [UK_FRIDAY, UK_ASKED, _same("в той самий час", UK_MOVE)]),
    "о тій же годині (uk)": ("uk", [UK_FRIDAY, UK_ASKED, _same("о тій же годині", UK_MOVE)]),
    "у понеділок в той самий час (uk, trial 5, G2)": (
        "uk",
        [
            UK_FRIDAY,
            {
                "say": "у понеділок в той самий час",
                "bot": "на понеділок, 16.03, о 15:00?",
                "bot_not": "О котрій",
                "state": {**CONFIRM, "slots": {"date": "2026-03-16", "time": "15:00"}},
            },
        ],
    ),
    "the day and the same time in one message (en)": (
        "en",
        [EN_FRIDAY, _same("on Friday at the same time", "to Friday, 13.03 at 15:00?")],
    ),
    "a time is no phone: the linking gives it to the visit being moved (en)": (
        "en",
        [
            EN_FRIDAY,
            EN_ASKED,
            {"button": "/link_account", "bot": "phone number", "state": {"flow": "linking"}},
            {
                "say": "16:30",
                "bot": "to Friday, 13.03 at 16:30?",
                "bot_not": "phone number",
                "state": {**CONFIRM, "slots": {"date": "2026-03-13", "time": "16:30"}},
            },
        ],
    ),
    "нічого: the linking lets go, the visit's time is asked again (uk)": (
        "uk",
        [
            UK_FRIDAY,
            UK_ASKED,
            {"button": "/link_account", "bot": "номер телефону", "state": {"flow": "linking"}},
            {
                "say": "нічого",
                "bot": ["залишимо прив'язку", "О котрій у п'ятницю"],
                "bot_not": "не схоже на номер",
                "state": AT_TIME,
            },
        ],
    ),
    "nvm, keep it (en)": (
        "en",
        [
            EN_FRIDAY,
            EN_ASKED,
            {"say": "nvm, keep it", "bot": "your visit stays as it is", "state": KEPT},
        ],
    ),
    "хоча ні, залиште як є (uk)": (
        "uk",
        [
            UK_FRIDAY,
            UK_ASKED,
            {"say": "хоча ні, залиште як є", "bot": "візит залишається без змін", "state": KEPT},
        ],
    ),
    "keep it at the first question (en)": (
        "en",
        [EN_FRIDAY, {"say": "never mind, keep it", "bot": "stays as it is", "state": KEPT}],
    ),
    "stop says the visit stays (uk)": (
        "uk",
        [UK_FRIDAY, {"say": "стоп", "bot": ["зупинився", "без змін"], "state": KEPT}],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_the_time_step_of_a_reschedule_keeps_the_customer(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path, case: str
) -> None:
    language, turns = CASES[case]
    customer = {"language": language, "name": "Iryna Koval", "phone": "+380931112233"}
    await talk(
        request, tmp_path, nlu_model_path, turns, customer={**customer, "bookings": CLEANING}
    )
