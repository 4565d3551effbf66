"""Opt-out and opt-in by plain words and by buttons (`bots.proactive.optout.read_choice`)."""

from __future__ import annotations

import pytest

from bots.proactive.optout import ALL_TOPICS, opt_in_payload, opt_out_payload, read_choice


@pytest.mark.parametrize(
    ("text", "topics"),
    [
        ("відписатися", None),
        ("Відпишіть мене, будь ласка", None),
        ("не надсилайте акції", ("marketing",)),
        ("Не надсилайте мені нагадування", ("reminders",)),
        ("без розсилок", ("marketing",)),
        ("не пишіть мені більше", (ALL_TOPICS,)),
        ("unsubscribe", None),
        ("Unsubscribe me from your offers", ("marketing",)),
        ("stop sending me reminders", ("reminders",)),
        ("stop marketing messages", ("marketing",)),
        ("don’t message me", (ALL_TOPICS,)),
        ("opt out", None),
    ],
)
def test_opt_out_words(text: str, topics: tuple[str, ...] | None) -> None:
    choice = read_choice(text, None)
    assert choice is not None and not choice.granted and not choice.bare
    assert choice.topics == topics


@pytest.mark.parametrize("text", ["stop", "Стоп!", "STOP."])
def test_a_bare_stop_is_only_marked_bare(text: str) -> None:
    choice = read_choice(text, None)
    assert choice is not None and choice.bare and not choice.granted


@pytest.mark.parametrize(
    ("text", "topics"),
    [
        ("підписатися", None),
        ("хочу отримувати акції", ("marketing",)),
        ("subscribe", None),
        ("send me your offers", ("marketing",)),
    ],
)
def test_opt_in_words(text: str, topics: tuple[str, ...] | None) -> None:
    choice = read_choice(text, None)
    assert choice is not None and choice.granted
    assert choice.topics == topics


@pytest.mark.parametrize(
    "text",
    [
        "хочу записатися на завтра",
        "send me the address",
        "stop by tomorrow at 3?",
        "скасувати",
        "",
        None,
        "не " * 150 + "надсилайте акції",
    ],
)
def test_other_messages_are_no_choice(text: str | None) -> None:
    assert read_choice(text, None) is None


def test_buttons() -> None:
    out = read_choice("Stop offers", opt_out_payload("marketing"))
    assert out is not None and out.button and not out.granted and out.topics == ("marketing",)
    into = read_choice(None, opt_in_payload("marketing"))
    assert into is not None and into.granted and into.topics == ("marketing",)
    assert read_choice("Reschedule", '/reschedule_appointment{"booking":"BK-1"}') is None
