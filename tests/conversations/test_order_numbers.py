"""Trial finding F19: an order number typed without its letter ("1003") was refused, and every
answer about an order the customer cannot be shown in full repeated the same five-line notice on
how to see the rest. A number without its letter, where one is asked for, takes the letter of
the order last asked about (or is asked for the letter, not refused as misunderstood); the
notice is said in full once a session, then in one line, and its button stays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conversations.inline import talk

NOTICE = "Склад замовлення і номер відстеження я показую лише тому"
SHORT = "показую лише тому, хто оформив замовлення (як це підтвердити, див. вище)"
ASKED = {"flow": "order_status", "step": "ask_number"}


async def test_a_number_without_its_letter_and_the_notice_said_once(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path
) -> None:
    turns: list[dict[str, Any]] = [
        {"say": "де моє замовлення", "state": ASKED},
        # the only order ending in 1003 (trial 5, G6)
        {"say": "1003", "bot": ["Замовлення A1003", NOTICE], "buttons": ["Прив'язати акаунт"]},
        {"say": "статус замовлення", "state": ASKED},
        {
            "say": "#1005",
            "bot": ["Замовлення A1005", SHORT],
            "bot_not": NOTICE,
            "buttons": ["Прив'язати акаунт"],
            "state": {"flow": None},
        },
        {"say": "а A1001?", "bot": ["Замовлення A1001", SHORT], "bot_not": NOTICE},
    ]
    await talk(request, tmp_path, nlu_model_path, turns, customer={"language": "uk"})


async def test_a_hash_number_with_no_flow_asking_is_that_number(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path
) -> None:
    """Trial 4: "#1004" typed first was not taken for an order number at all (the number was
    asked for); it is 1004, whose letter is asked for, or taken from the order asked about."""
    turns: list[dict[str, Any]] = [
        # the only order ending in 1004 (trial 5, G6)
        {"say": "#1004", "bot": "Order A1004", "state": {"flow": None}},
        {"say": "#1005", "bot": "Order A1005", "bot_not": "Which letter"},
    ]
    await talk(request, tmp_path, nlu_model_path, turns, customer={"language": "en"})
