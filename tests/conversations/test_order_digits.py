"""Trial 5, G6. "where is my order 1004" was answered "Please send me your order number", and
"1004" at that prompt with "which letter comes before 1004?", again and again. The number in a
message about an order is taken; the only order ending in those digits (the demo shop has one
letter, A) is that order; otherwise the letter is asked once and the letter alone ("A") is
enough."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conversations.inline import talk

ASKED = {"flow": "order_status", "step": "ask_number"}
CASES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "where is my order 1004 (en)": (
        "en",
        [{"say": "where is my order 1004", "bot": "Order A1004", "bot_not": "order number"}],
    ),
    "де моє замовлення 1003 (uk)": (
        "uk",
        [{"say": "де моє замовлення 1003", "bot": "Замовлення A1003"}],
    ),
    "1004 at the number prompt (en)": (
        "en",
        [
            {"say": "where is my order", "state": ASKED},
            {"say": "1004", "bot": "Order A1004", "bot_not": "Which letter"},
        ],
    ),
    "the letter alone after it was asked (en)": (
        "en",
        [
            {"say": "where is my order", "state": ASKED},
            {"say": "9999", "bot": "Which letter comes before 9999", "state": ASKED},
            {"say": "A", "bot": "A9999", "bot_not": "Which letter"},
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_digits_of_an_order_are_that_order(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path, case: str
) -> None:
    language, turns = CASES[case]
    await talk(request, tmp_path, nlu_model_path, turns, customer={"language": language})
