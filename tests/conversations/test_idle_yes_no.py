"""Trial 3's T1: a first message about tooth pain, read as a yes at 0.63 with nothing asked,
was answered "Great. What would you like to do next?". A yes or no with nothing pending is
taken as one when it is short, tapped or sure; otherwise the bot says it did not understand."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conversations.inline import Case, talk_case

EN_FALLBACK = "Sorry, I didn't understand that."

CASES: dict[str, Case] = {
    "a long message read as an unsure yes is not understood": (
        "en",
        [],
        [
            {
                "say": "hmm my tooth kinda hurts whats the deal w/ that",
                "bot": EN_FALLBACK,
                "bot_not": "Great.",
            }
        ],
    ),
    "a short yes with nothing asked is still a yes": (
        "en",
        [],
        [{"say": "ok", "bot": "Great. What would you like to do next?"}],
    ),
    "a short no with nothing asked is still a no": (
        "uk",
        [],
        [{"say": "ні", "bot": "Добре. Якщо щось знадобиться, просто напишіть."}],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_yes_or_no_with_nothing_asked(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path, case: str
) -> None:
    await talk_case(request, tmp_path, nlu_model_path, CASES[case])
