"""Trial 4, G1: at a step that asks for a value, an intent whose flow asks questions of its own
(account linking) takes the conversation over only when the model is very sure of it and the
message carries none of the values steps ask for; a button always does. The conversations:
tests/conversations/test_reschedule_same_time.py."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bots.flows.understanding import FALLBACK, Understanding
from bots.flows.unsure import TAKEOVER_MIN_CONFIDENCE, unsure_takeover
from storage.sessions import Session


@dataclass
class _Turn:
    """The part of a turn's context the rule reads: the session."""

    session: Session


def _read(intent: str, confidence: float, *, step: str | None = "time", **extra: object) -> str:
    session = Session(customer_id=1, flow="manage_booking" if step else None, step=step)
    understanding = Understanding(intent, confidence=confidence, **extra)  # type: ignore[arg-type]
    own = frozenset({"reschedule_appointment", "cancel_appointment"})
    return unsure_takeover(_Turn(session), understanding, own).intent  # type: ignore[arg-type]


@pytest.mark.parametrize("confidence", [0.6, 0.83, TAKEOVER_MIN_CONFIDENCE - 0.01])
def test_an_unsure_linking_at_a_value_step_is_not_understood(confidence: float) -> None:
    assert _read("link_account", confidence) == FALLBACK


def test_a_sure_one_with_an_answer_in_it_is_not_understood_either() -> None:
    time = {"time": ["2026-03-13T13:30:00+02:00"]}
    assert _read("link_account", 0.97, entities=time) == FALLBACK


@pytest.mark.parametrize(
    ("confidence", "step", "extra"),
    [
        (TAKEOVER_MIN_CONFIDENCE, "time", {}),  # sure, nothing of an answer in it
        (0.5, "time", {"from_button": True}),  # tapped
        (0.5, None, {}),  # nothing asked
        (0.5, "confirm", {}),  # a yes/no question
    ],
)
def test_linking_is_taken_when_sure_tapped_or_idle(
    confidence: float, step: str | None, extra: dict[str, object]
) -> None:
    assert _read("link_account", confidence, step=step, **extra) == "link_account"


def test_other_intents_keep_their_rules() -> None:
    assert _read("ask_opening_hours", 0.61) == "ask_opening_hours"
