"""Phones and e-mails are masked in every log line the service writes, text or JSON, without
changing the record other handlers see."""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Iterator

import orjson
import pytest

from bots.logs import MAX_LOGGED_CHARS, mask_personal_data, setup_logging


@pytest.fixture
def root_stream() -> Iterator[io.StringIO]:
    """The root logger's handlers as `setup_logging` leaves them, restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


def test_masks_phones_and_emails() -> None:
    line = mask_personal_data("call +380 67 123-45-67 or olena.k@example.com")
    assert "123" not in line and "olena" not in line
    assert "***67" in line and "o***@example.com" in line


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_service_log_lines_are_masked(fmt: str, root_stream: io.StringIO) -> None:
    setup_logging("INFO", fmt)
    logging.getLogger().handlers[0].setStream(root_stream)  # type: ignore[attr-defined]
    seen: list[logging.LogRecord] = []
    other = logging.Handler()
    other.emit = seen.append  # type: ignore[method-assign]
    logging.getLogger().addHandler(other)
    logging.getLogger("omnirelay.test").info("customer %s wrote from %s", "+380671234567", "a@b.io")
    out = root_stream.getvalue().strip()
    assert "+380671234567" not in out and "a@b.io" not in out
    assert "***67" in out
    if fmt == "text":  # only the message is masked, never the line's timestamp
        assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ INFO omnirelay.test: customer", out)
    if fmt == "json":
        assert orjson.loads(out)["message"] == "customer ***67 wrote from a***@b.io"
    # another handler (pytest's capture, say) sees the record as logged
    assert [r.getMessage() for r in seen] == ["customer +380671234567 wrote from a@b.io"]


@pytest.mark.parametrize(
    "unit",
    ["a", "1", "a.", "1 ", "+1", "a@", "a@a.", "@a.", "x-", "1(", " 1", "a%+"],
    ids=repr,
)
def test_masking_is_linear_in_the_length_of_the_text(unit: str) -> None:
    # a complexity guard, not a benchmark: the old e-mail pattern needed minutes for this
    text = unit * (1_000_000 // len(unit)) + "!"
    started = time.process_time()
    masked = mask_personal_data(text)
    assert time.process_time() - started < 2.0
    assert len(masked) <= MAX_LOGGED_CHARS + 100


def test_long_runs_still_mask_what_they_contain() -> None:
    line = mask_personal_data("x" * 5000 + " olena.k@example.com " + "7" * 3 + " +380671234567")
    assert "olena" not in line and "o***@example.com" in line
    assert "380671234567" not in line and "***67" in line


def test_a_cut_message_keeps_head_and_tail_and_leaks_no_half_address() -> None:
    text = "head " + "olena.k@example.com " * 10_000 + "tail"
    line = mask_personal_data(text)
    assert line.startswith("head ") and line.endswith("tail") and "characters left out" in line
    assert "olena" not in line
