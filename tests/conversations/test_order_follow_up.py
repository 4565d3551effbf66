"""Trial 4, G4: told an order's status, the customer asked "when will it arrive?" ("коли
приїде?") and was asked for the order number again. The order just told about is the one
meant: its delivery date is the answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conversations.inline import talk

DATE = r"\d\d\.\d\d\.\d{4}"

CASES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "when will it arrive? (en)": (
        "en",
        [
            {"say": "where is my order A1003?", "bot": "Order A1003"},
            {
                "say": "when will it arrive?",
                "bot": "Order A1003 is expected to arrive on",
                "bot_regex": DATE,
                "bot_not": "order number",
                "state": {"flow": None},
            },
        ],
    ),
    "коли приїде? (uk)": (
        "uk",
        [
            {"say": "статус замовлення A1001", "bot": "Замовлення A1001"},
            {
                "say": "коли приїде?",
                "bot": "Доставку замовлення A1001 очікуємо",
                "bot_regex": DATE,
                "bot_not": "номер замовлення",
                "state": {"flow": None},
            },
        ],
    ),
    "a delivered order is said to be delivered (en)": (
        "en",
        [
            {"say": "order A1002 status", "bot": "Order A1002"},
            {"say": "and when will it be delivered?", "bot": "already been delivered"},
        ],
    ),
    "the number asked for, then the question (uk)": (
        "uk",
        [
            {"say": "де моє замовлення?", "state": {"flow": "order_status"}},
            {"say": "A1005", "bot": "Замовлення A1005"},
            {"say": "а коли буде доставка?", "bot": "Доставку замовлення A1005 очікуємо"},
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_when_it_arrives_is_asked_of_the_order_just_told_about(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path, case: str
) -> None:
    language, turns = CASES[case]
    await talk(request, tmp_path, nlu_model_path, turns, customer={"language": language})


async def test_with_no_order_told_about_the_number_is_asked_for(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path
) -> None:
    turns = [
        {
            "say": "when will my order arrive?",
            "bot": "order number",
            "state": {"flow": "order_status", "step": "ask_number"},
        }
    ]
    await talk(request, tmp_path, nlu_model_path, turns, customer={"language": "en"})
