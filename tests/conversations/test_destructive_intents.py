"""An intent that leads to erasing a customer's data is acted on only when the model is sure of
it (trial F1: "koly vy pratsyuiete", "when are you open" typed in Latin letters, came out as
`forget_me` at 0.54 and the bot asked whether to erase everything). The real request, typed
("Забудьте мене", 0.96) or tapped, still starts it: tests/privacy/test_privacy_chat.py."""

from __future__ import annotations

from bots.flows.understanding import FALLBACK, Understanding
from bots.flows.unsure import DESTRUCTIVE_MIN_CONFIDENCE, unsure_at_a_confirmation, unsure_of_harm


def test_an_unsure_erase_request_is_not_understood() -> None:
    assert unsure_of_harm(Understanding("forget_me", confidence=0.54)).intent == FALLBACK


def test_a_sure_one_or_a_button_is_taken() -> None:
    sure = Understanding("forget_me", confidence=DESTRUCTIVE_MIN_CONFIDENCE)
    assert unsure_of_harm(sure).intent == "forget_me"
    tapped = Understanding("forget_me", confidence=0.0, from_button=True)
    assert unsure_of_harm(tapped).intent == "forget_me"


def test_other_intents_keep_their_confidence_rules() -> None:
    assert unsure_of_harm(Understanding("ask_opening_hours", confidence=0.5)).intent == (
        "ask_opening_hours"
    )


def test_an_unsure_data_request_at_a_confirmation_is_not_understood() -> None:
    """Trial 5, G3: "nvm, keep it" at "Cancel your visit?" was read as a data request."""
    unsure = Understanding("data_request", confidence=0.7)
    assert unsure_at_a_confirmation(unsure, "confirm").intent == FALLBACK
    assert unsure_at_a_confirmation(Understanding("data_request", 0.95), "confirm").intent == (
        "data_request"
    )
    assert unsure_at_a_confirmation(Understanding("data_request", 0.7), "time").intent == (
        "data_request"
    )
    assert unsure_at_a_confirmation(Understanding("data_request", 0.7), None).intent == (
        "data_request"
    )
