"""Greetings, thanks, goodbyes, a request for a person, and the polite fallback."""

from __future__ import annotations

import re

from bots.flows.base import Turn
from bots.flows.bot_question import ASKS_IF_BOT
from bots.flows.understanding import FALLBACK, Understanding

# A farewell inside a message the NLU reads as something else ("ок дякую, бувай" is a thank).
_FAREWELL = re.compile(
    r"(?<!\w)(?:бувай\w*|до побачення|до зустрічі|па-па|всього доброго|всього найкращого"
    r"|на все добре|гарного дня|гарного вечора|на добраніч|добраніч|bye|bye-bye|goodbye"
    r"|good bye|see you|see ya|take care|good night|have a (?:nice|good|great) day)(?!\w)",
    re.IGNORECASE,
)
# Intents a farewell may come wrapped in: thanks, "ok", "no", or nothing the NLU knows.
_FAREWELL_WITH = frozenset({"thank", "affirm", "deny", FALLBACK, "out_of_scope"})


#: Words of praise, one definition: said with thanks to "Shall I book it?" ("perfect thx",
#: "чудово, дякую": read as thanks) they are a yes, unless the message also says no (trial 3's
#: T11 took them as thanks and left the booking unconfirmed); and no name is made of them
#: (`bots.flows.names`: "чудово" became the name "Чудово", trial 3's T12).
PRAISE_WORDS = frozenset(
    """
    perfect great excellent awesome super wonderful cool fine nice alright
    чудово відмінно супер класно прекрасно ідеально чудесно гаразд добре
    """.split()  # noqa: SIM905 (a word list reads better as text)
)
_PRAISE = re.compile(
    rf"(?<!\w)(?:sounds good|{'|'.join(sorted(PRAISE_WORDS))})(?!\w)", re.IGNORECASE
)
_NO = re.compile(r"(?<!\w)(?:no|not|nope|don't|ні|не|нє)(?!\w)", re.IGNORECASE)


def praise_is_yes(understanding: Understanding, text: str | None) -> bool:
    """Thanks with praise and no "no" in them, said to a yes/no question: a yes."""
    said = text or ""
    return (
        understanding.intent == "thank"
        and not understanding.from_button
        and _PRAISE.search(said) is not None
        and _NO.search(said) is None
    )


def is_goodbye(understanding: Understanding, text: str | None) -> bool:
    """Whether the customer is leaving: a goodbye, or thanks / "ok" / "no" with a farewell."""
    if understanding.intent == "goodbye":
        return True
    return (
        not understanding.from_button
        and understanding.intent in _FAREWELL_WITH
        and _FAREWELL.search(text or "") is not None
    )


# A yes or no with nothing asked is taken as one when short, tapped or sure; a longer message
# read as one with less confidence was not understood (trial 3's T1: "hmm my tooth kinda hurts
# whats the deal w/ that" was a yes at 0.63, and the clinic answered "Great.").
IDLE_ANSWER_MAX_WORDS = 3
IDLE_ANSWER_MIN_CONFIDENCE = 0.8


def _idle_answer(turn: Turn) -> bool:
    u = turn.understanding
    short = len((turn.text or "").split()) <= IDLE_ANSWER_MAX_WORDS
    return u.from_button or short or u.confidence >= IDLE_ANSWER_MIN_CONFIDENCE


class SmallTalk:
    def __init__(self, business_name: dict[str, str] | str) -> None:
        self.business = business_name

    def respond(self, turn: Turn) -> None:
        intent = turn.understanding.intent
        session = turn.session
        if intent == "greet":
            name = turn.ctx.customer_name
            name_part = f", {name}" if name else ""
            turn.say(
                "greet",
                menu="greet_buttons",
                name_part=name_part,
                business=turn.local(self.business),
            )
        elif intent == "thank":
            turn.say("thank" if session.flow is None else "thank_in_task")
        elif intent == "goodbye":
            turn.say("goodbye")
        elif intent == "request_human":
            turn.say("human_requested")
            turn.escalate("customer_asked_for_a_person")
        elif intent == ASKS_IF_BOT:  # what it is, and a person on offer (not handed over)
            turn.say("bot_identity", menu="fallback_buttons", business=turn.local(self.business))
        elif intent == "complaint":
            # Whether a complaint goes straight to a person is the handoff package's business
            # rule (OMNIRELAY_HANDOFF_COMPLAINT_INTENTS); the bot only acknowledges it.
            turn.say("complaint_heard", menu="complaint_buttons")
        elif intent == "stop":
            turn.finish()
            turn.say("stopped")
        elif intent in ("affirm", "deny") and session.flow is None and _idle_answer(turn):
            turn.say("affirm_idle" if intent == "affirm" else "deny_idle")
        elif turn.miss():
            turn.say("fallback_twice")
            turn.escalate("repeated_misunderstanding")
        else:
            turn.say("fallback", menu="fallback_buttons")
