"""What of a turn goes to the NLU review list (`nlu.ReviewLog`, `omnirelay nlu review`).

The list is for messages the model failed to understand (``nlu_fallback``) and for those it
took as out of scope: what customers ask that the bot cannot do is where new intents come from,
and a message the model cannot read at all may land in either. A turn that answers the dialogue's
question for a slot (a name, a phone, a date, an order number...) is not one: the flow reads
the value itself, the model was never meant to classify it, and the list would fill up with
customers' names and numbers. What is kept is kept without personal data: phones and e-mail
addresses masked as the logs mask them, and the names known of the customer (their profile's,
their messenger's, the one they gave in the dialogue) replaced.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from bots.flows.engine import YES_NO_STEPS
from bots.logs import mask_personal_data
from bots.worker.turn import TurnContext
from nlu import ReviewLog
from nlu.types import FALLBACK_INTENT, OUT_OF_SCOPE_INTENT

__all__ = ["NAME_MASK", "REVIEWED", "answers_a_slot", "record_for_review", "without_personal_data"]

log = logging.getLogger(__name__)

NAME_MASK = "<name>"
#: the intents whose messages are kept for review
REVIEWED = frozenset({FALLBACK_INTENT, OUT_OF_SCOPE_INTENT})
_WORD = re.compile(r"\w{2,}")


def answers_a_slot(ctx: TurnContext) -> bool:
    """The dialogue was waiting for a value (a flow's step other than a yes/no question).
    Read before the dialogue runs (`TurnContext.answers_a_slot`): the review list and the
    analytics' ``fallback`` event both leave such a message out."""
    session = ctx.session
    return (
        session is not None
        and session.flow is not None
        and session.step is not None
        and session.step not in YES_NO_STEPS
    )


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
    """Append the turn's message to the review list, unless it answers a slot (blocking IO:
    run it in a thread)."""
    if ctx.parse is None or not ctx.message.text or ctx.answers_a_slot:
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
