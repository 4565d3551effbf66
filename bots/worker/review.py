"""What of a turn goes to the NLU review list (`nlu.ReviewLog`, `omnirelay nlu review`).

The list is for messages the customer was answered as not understood: the dialogue's own
reading of the turn (`bots.flows.understood`), not the model's. The model's fallback and its
out-of-scope answer are there when the dialogue could not read the message either; so are
intents it named that the dialogue did not act on (an unsure ``forget_me``, an unsure short
reply where a value was asked, an unsure long yes/no with nothing asked); a message a rule, a
button or the flow that asked for a value understood is not, whatever the model said. What
customers ask that the bot cannot do is where new intents come from. The entry keeps the
model's ranking (what it read), so the reviewer sees why it failed.

What is kept is kept without personal data: phones and e-mail addresses masked as the logs mask
them, and the names known of the customer (their profile's, their messenger's, the one they
gave in the dialogue) replaced. A message the dialogue did not understand where it asked for the
customer's name or phone is not kept at all: it is likely a name or a number the flow could not
read, which the masking cannot know either.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from bots.logs import mask_personal_data
from bots.worker.turn import TurnContext
from nlu import ReviewLog

__all__ = [
    "NAME_MASK",
    "PERSONAL_STEPS",
    "asks_personal_data",
    "not_understood",
    "record_for_review",
    "without_personal_data",
]

log = logging.getLogger(__name__)

NAME_MASK = "<name>"
#: the flows' steps that ask for the customer's own name or phone (`bots.flows.booking`)
PERSONAL_STEPS = frozenset({"name", "phone"})
_WORD = re.compile(r"\w{2,}")


def asks_personal_data(ctx: TurnContext) -> bool:
    """The dialogue was asking for the customer's name or phone. Read before the dialogue runs
    (`TurnContext.personal_answer`): if the message is not understood, its text is kept neither
    here nor among the analytics' fallback phrases."""
    session = ctx.session
    return session is not None and session.flow is not None and session.step in PERSONAL_STEPS


def not_understood(ctx: TurnContext) -> bool:
    """The dialogue answered the message as not understood: a fallback (the ``fallback`` event,
    `omnirelay_nlu_fallbacks_total`, the review list)."""
    return ctx.understood is not None and ctx.understood.missed


def known_names(ctx: TurnContext) -> list[str]:
    """The customer's names this turn knows of, longest first."""
    names = [ctx.customer_name, ctx.message.user_name]
    if ctx.session is not None:
        names.append(ctx.session.slots.get("name"))
    words = {w for n in names if isinstance(n, str) for w in _WORD.findall(n)}
    return sorted(words, key=len, reverse=True)


def without_personal_data(text: str, names: Iterable[str]) -> str:
    """``text`` with phones and e-mails masked and each of ``names`` (whole words, any case)
    replaced by `NAME_MASK`."""
    text = mask_personal_data(text)
    for name in names:
        text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", NAME_MASK, text, flags=re.IGNORECASE)
    return text


def record_for_review(review_log: ReviewLog, ctx: TurnContext) -> None:
    """Append the turn's message to the review list when the dialogue did not understand a text
    the model read, unless it answered a question for the customer's name or phone (blocking
    IO: run it in a thread)."""
    if ctx.parse is None or not ctx.message.text or ctx.personal_answer:
        return
    if not not_understood(ctx):
        return
    try:
        review_log.record(
            text=without_personal_data(ctx.message.text, known_names(ctx)),
            language=ctx.parse.language,
            ranking=ctx.parse.ranking,
            channel=ctx.message.channel,
            at=ctx.now,
        )
    except OSError:
        log.exception("could not append to the NLU review log")
