"""The dialogue's rules over an unsure reading: an intent the model gives without being sure of
it is not acted on where acting on it would cost the customer something (a question they were
answering dropped, a flow that asks its own questions started, their data erased). Such a
message is taken as not understood, so the flow that asked reads it itself."""

from __future__ import annotations

import logging

from bots.flows.context import FlowContext
from bots.flows.understanding import FALLBACK, Understanding

log = logging.getLogger(__name__)

# steps that ask a yes/no question, where a low-confidence affirm/deny is still taken
YES_NO_STEPS = frozenset({"confirm"})
#: At a step that asks for a value, a short reply's intent (a yes, a no, a greeting...) read
#: with less confidence than this is no answer to anything: the flow reads the value itself.
VALUE_STEP_MIN_CONFIDENCE = 0.8
SHORT_REPLIES = frozenset({"affirm", "deny", "greet", "goodbye", "thank", "out_of_scope"})
#: Intents whose flow asks questions of its own (account linking asks for a phone number): at a
#: step that asks for a value, they take the conversation over only when the model is at least
#: this sure and the message carries none of the values steps ask for (trial 4, G1: "same time
#: as before", asked for a new time, was account linking at 0.83, and "13:30" "not a phone").
TAKEOVERS = frozenset({"link_account"})
TAKEOVER_MIN_CONFIDENCE = 0.9
ANSWER_ENTITIES = frozenset({"time", "phone", "order_number", "service", "booking"})
# Intents whose flow leads to something that cannot be undone: typed, never guessed at
DESTRUCTIVE = frozenset({"forget_me"})
DESTRUCTIVE_MIN_CONFIDENCE = 0.8


def _at_a_value_step(ctx: FlowContext) -> bool:
    session = ctx.session
    return (
        session is not None
        and session.flow is not None
        and session.step is not None
        and session.step not in YES_NO_STEPS
    )


def _not_understood(understanding: Understanding, ctx: FlowContext, why: str) -> Understanding:
    step = ctx.session.step if ctx.session is not None else None
    intent, confidence = understanding.intent, understanding.confidence
    log.info("step %s asks for a value: %s (%.2f) %s", step, intent, confidence, why)
    understanding.intent, understanding.by = FALLBACK, "rule"
    return understanding


def unsure_at_a_value(ctx: FlowContext, understanding: Understanding) -> Understanding:
    """At a step that asks for a value (a name, an order number, a time: not a yes/no
    question), a short reply's intent read without confidence is taken as not understood, so
    the flow reads the message itself and counts a miss. The dense model reads noise and names
    as something ("blah blah" a no at 0.67, "Grace" a goodbye at 0.54), which dropped the task
    or left it; a clear "ні" or "bye" still does what it says."""
    if (
        understanding.intent not in SHORT_REPLIES
        or understanding.confidence >= VALUE_STEP_MIN_CONFIDENCE
        or not _at_a_value_step(ctx)
    ):
        return understanding
    return _not_understood(understanding, ctx, "read as not understood")


def unsure_takeover(
    ctx: FlowContext, understanding: Understanding, own: frozenset[str]
) -> Understanding:
    """At a step that asks for a value, an intent of `TAKEOVERS` that the active flow does not
    handle itself (``own``: its intents) is not understood unless the model is very sure and
    the message carries no value a step asks for: the active flow reads it (see `TAKEOVERS`).
    A tapped button, or the words said plainly ("link my accounts"), still start it."""
    if (
        understanding.intent not in TAKEOVERS
        or understanding.intent in own
        or understanding.from_button
        or not _at_a_value_step(ctx)
    ):
        return understanding
    answers = ANSWER_ENTITIES & understanding.entities.keys()
    if understanding.confidence >= TAKEOVER_MIN_CONFIDENCE and not answers:
        return understanding
    return _not_understood(understanding, ctx, "taken for an answer, not a new task")


def unsure_of_harm(understanding: Understanding) -> Understanding:
    """An intent that leads to erasing the customer's data is taken only when the model is
    sure of it (trial F1: "koly vy pratsyuiete", "when are you open" in Latin letters, read as
    `forget_me` at 0.54 and asked whether to erase everything). Unsure, it is not understood;
    "забудьте мене", the command and the button still start it."""
    if (
        understanding.intent in DESTRUCTIVE
        and not understanding.from_button
        and understanding.confidence < DESTRUCTIVE_MIN_CONFIDENCE
    ):
        intent, confidence = understanding.intent, understanding.confidence
        log.info("%s at %.2f is too unsure to act on", intent, confidence)
        understanding.intent, understanding.by = FALLBACK, "rule"
    return understanding


# Intents about the customer's data (a copy of it, erasing it): at a yes/no question they are
# taken only when the model is this sure (trial 5, G3: "nvm, keep it" at "Cancel your visit?"
# was read as a data request, and the bot listed what it keeps about the customer).
PRIVACY = frozenset({"data_request", "forget_me"})
CONFIRMATION_MIN_CONFIDENCE = 0.9


def unsure_at_a_confirmation(understanding: Understanding, step: str | None) -> Understanding:
    """At a yes/no question (``step``: the active flow's), a privacy intent read with less
    confidence than `CONFIRMATION_MIN_CONFIDENCE` is not understood: the flow reads the reply
    itself (a "no", "keep it"). A button or a sure reading still starts it."""
    if (
        understanding.intent in PRIVACY
        and not understanding.from_button
        and step in YES_NO_STEPS
        and understanding.confidence < CONFIRMATION_MIN_CONFIDENCE
    ):
        log.info(
            "%s at %.2f at a yes/no question: not acted on",
            understanding.intent,
            understanding.confidence,
        )
        understanding.intent, understanding.by = FALLBACK, "rule"
    return understanding
