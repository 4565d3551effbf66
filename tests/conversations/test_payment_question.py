"""Trial 4: "can I pay by card?" was answered with the price list. A question about paying is
answered with how to pay (the business profile's `payment`); one about how much, with prices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conversations.inline import talk

CASES: list[tuple[str, dict[str, Any]]] = [
    ("en", {"say": "can I pay by card?", "bot": "in cash or by card", "bot_not": "UAH"}),
    ("uk", {"say": "можна оплатити карткою?", "bot": "готівкою або карткою", "bot_not": "грн"}),
    ("en", {"say": "how much is teeth whitening?", "bot": "4500 UAH"}),
]


@pytest.mark.parametrize(("language", "turn"), CASES, ids=[c[1]["say"] for c in CASES])
async def test_a_payment_question_is_answered_with_how_to_pay(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    nlu_model_path: Path,
    language: str,
    turn: dict[str, Any],
) -> None:
    await talk(request, tmp_path, nlu_model_path, [turn], customer={"language": language})
