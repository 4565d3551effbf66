"""`bots.flows.understood.effective`: the reading the dialogue acted on, from its understanding
after its rules and the turn's outcome (the end-to-end cases are in `test_understood`)."""

from __future__ import annotations

from bots.flows.understanding import FALLBACK, Understanding
from bots.flows.understood import NOT_UNDERSTOOD, VALUE_INTENT, Understood, effective


def test_a_miss_is_not_understood_and_says_who_decided() -> None:
    model_said_so = Understanding(FALLBACK, confidence=0.2)
    assert effective(model_said_so, missed=True, goodbye=False) == Understood(FALLBACK, "nlu")
    out_of_scope = Understanding("out_of_scope", confidence=0.9)
    assert effective(out_of_scope, missed=True, goodbye=False) == Understood(FALLBACK, "nlu")
    demoted = Understanding(FALLBACK, confidence=0.6, by="rule")  # an unsure forget_me
    assert effective(demoted, missed=True, goodbye=False) == Understood(FALLBACK, "rule")
    not_acted_on = Understanding("affirm", confidence=0.63)  # a long unsure yes, nothing asked
    missed = effective(not_acted_on, missed=True, goodbye=False)
    assert missed == Understood(NOT_UNDERSTOOD, "rule") and missed.missed


def test_what_rules_buttons_and_values_understood_is_no_miss() -> None:
    farewell = Understanding("thank", confidence=0.9)  # "ok thanks, bye"
    assert effective(farewell, missed=False, goodbye=True) == Understood("goodbye", "rule")
    bye = Understanding("goodbye", confidence=0.99)
    assert effective(bye, missed=False, goodbye=True) == Understood("goodbye", "nlu")
    name = Understanding("out_of_scope", confidence=0.66, by="value")  # read at the name step
    assert effective(name, missed=False, goodbye=False) == Understood(VALUE_INTENT, "value")
    bare = Understanding(FALLBACK, confidence=0.3, entities={"order_number": ["A1003"]})
    assert effective(bare, missed=False, goodbye=False) == Understood(VALUE_INTENT, "rule")
    visits = Understanding("check_bookings", confidence=0.84, by="rule")
    understood = effective(visits, missed=False, goodbye=False)
    assert understood == Understood("check_bookings", "rule") and not understood.missed
    tapped = Understanding("affirm", from_button=True, by="button")
    assert effective(tapped, missed=False, goodbye=False) == Understood("affirm", "button")
