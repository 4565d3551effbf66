"""Every regular expression that reads customer text runs in time linear in its length: a
complexity guard (generous bounds on CPU time), not a benchmark."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from bots.logs import mask_personal_data
from handoff.hook import _score
from nlu.dates import extract_dates, names_a_day

N = 20_000  # the old patterns needed a minute (cubic) for 6,000 characters


def _spaces_around(core: str) -> str:
    return " " * N + core + " " * N + "x"


ADVERSARIAL = {
    "spaces-1-spaces": _spaces_around("1"),
    "spaces-slash": _spaces_around("1 /"),
    "at-spaces": "at" + " " * N + "1" + " " * N + "x",
    "digits-spaces": "1 " * N + "x",
    "letters": "a" * N + "@",
}

MATCHERS: dict[str, Callable[[str], object]] = {
    "masking": mask_personal_data,
    "csat score": lambda text: _score(text, None),
    "dates": extract_dates,
    "names a day": names_a_day,
}


@pytest.mark.parametrize("text", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
@pytest.mark.parametrize("matcher", MATCHERS.values(), ids=MATCHERS.keys())
def test_customer_text_regexes_are_linear(matcher: Callable[[str], object], text: str) -> None:
    started = time.process_time()
    matcher(text)
    assert time.process_time() - started < 1.0


def test_the_linear_patterns_still_read_what_they_read() -> None:
    assert _score("  5 / 5 ! ", None) == 5 and _score("4⭐", None) == 4
    assert _score("6", None) is None and _score("1 2", None) is None
    for text in ("at 15:00", " 9 pm ", "о 9", "15.30", "о 10h", "ввечері", "о 14 годині"):
        assert not names_a_day(text) and extract_dates(text), text
    for text in ("16.03.2025", "tomorrow at 3", "у п'ятницю", "next monday"):
        assert names_a_day(text), text
