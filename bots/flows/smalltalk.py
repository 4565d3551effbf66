"""Greetings, thanks, goodbyes, a request for a person, and the polite fallback."""

from __future__ import annotations

from bots.flows.base import Turn


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
            turn.say("thank")
        elif intent == "goodbye":
            turn.say("goodbye")
        elif intent == "request_human":
            turn.say("human_requested")
            turn.escalate("customer_asked_for_a_person")
        elif intent == "complaint":
            # Whether a complaint goes straight to a person is the handoff package's business
            # rule (OMNIRELAY_HANDOFF_COMPLAINT_INTENTS); the bot only acknowledges it.
            turn.say("complaint_heard", menu="complaint_buttons")
        elif intent == "stop":
            turn.finish()
            turn.say("stopped")
        elif intent == "affirm" and session.flow is None:
            turn.say("affirm_idle")
        elif intent == "deny" and session.flow is None:
            turn.say("deny_idle")
        elif turn.miss():
            turn.say("fallback_twice")
            turn.escalate("repeated_misunderstanding")
        else:
            turn.say("fallback", menu="fallback_buttons")
