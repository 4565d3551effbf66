"""Trial 5, G14. A day or time corrected while another question was open ("хоча ні, краще в
пʼятницю" at "which service?") was applied, but the same question came back with no word that
it was heard. It is said back first ("Добре, у п'ятницю, 13.03."), then the question."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conversations.inline import talk

SERVICE = {"flow": "booking", "step": "service"}
CASES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "a day, then a time, at the service question (uk)": (
        "uk",
        [
            {"say": "запишіть мене на чистку завтра о 15:00", "state": SERVICE},
            {
                "say": "хоча ні, краще в п'ятницю",
                "bot": "Добре, у п'ятницю, 13.03.",
                "state": {**SERVICE, "slots": {"date": "2026-03-13", "time": "15:00"}},
            },
            {
                "say": "ні, краще о 16:00",
                "bot": "Добре, о 16:00.",
                "state": {**SERVICE, "slots": {"date": "2026-03-13", "time": "16:00"}},
            },
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_correction_at_another_question_is_said_back(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path, case: str
) -> None:
    language, turns = CASES[case]
    await talk(request, tmp_path, nlu_model_path, turns, customer={"language": language})
