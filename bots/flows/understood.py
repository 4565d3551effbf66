"""What the dialogue made of one message: the intent it acted on, or "not understood", and who
decided it (issue 15: metrics you can trust).

The NLU's answer is one reading among several. The dialogue's own rules overrule it both ways:
an unsure `forget_me`, an unsure short reply where a value is asked, an unsure long yes/no with
nothing asked are answered as not understood although the model named an intent; a yes at the
confirmation, "when is my appointment?", a farewell inside thanks, a typed-out button title, a
value the flow reads itself are understood although the model did not. What the customer got
is this reading, so the analytics (``message.in``'s intent, the ``fallback`` event), the
Prometheus fallback counter and the NLU review list count it (`bots.worker`), not the model's.
The definitions are in ``storage/analytics/METRICS.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from bots.flows.understanding import FALLBACK, By, Understanding

__all__ = [
    "NOT_UNDERSTOOD",
    "NOT_UNDERSTOOD_INTENTS",
    "VALUE_INTENT",
    "By",
    "Understood",
    "effective",
]

NOT_UNDERSTOOD = FALLBACK  # the effective intent of a message answered as not understood
#: the model's answers the dialogue treats as not understood (both answered alike)
NOT_UNDERSTOOD_INTENTS = frozenset({FALLBACK, "out_of_scope"})
VALUE_INTENT = "inform"  # Rasa's intent for giving a value: what a value read by a flow counts as


@dataclass(frozen=True, slots=True)
class Understood:
    """A turn's effective understanding (`effective`)."""

    intent: str  # the intent the dialogue acted on; `NOT_UNDERSTOOD`: answered as not understood
    by: By

    @property
    def missed(self) -> bool:
        """Answered as not understood: a ``fallback``."""
        return self.intent == NOT_UNDERSTOOD


def effective(u: Understanding, *, missed: bool, goodbye: bool) -> Understood:
    """The reading the dialogue acted on, from its understanding after its rules and routing
    (``u``: `Understanding.by` says who read it, ``value`` when the active flow took the message
    as the value it asked for) and the turn's outcome: ``missed``, the turn counted a
    misunderstood message (`bots.flows.base.Turn.miss`: every "didn't understand" answer does);
    ``goodbye``, the dialogue answered a farewell (`bots.flows.smalltalk.is_goodbye`)."""
    if missed:
        # the model's own fallback, or a reading a rule did not act on (the rule decided)
        return Understood(NOT_UNDERSTOOD, u.by if u.intent in NOT_UNDERSTOOD_INTENTS else "rule")
    if goodbye:
        return Understood("goodbye", u.by if u.intent == "goodbye" else "rule")
    if u.by == "value":
        return Understood(VALUE_INTENT, "value")
    if u.intent in NOT_UNDERSTOOD_INTENTS:
        # understood all the same, and no flow asked: a bare value that starts the flow that
        # needs it ("A1003"), or a turn a backend error ended before it was answered
        return Understood(VALUE_INTENT, "rule")
    return Understood(u.intent, u.by)
