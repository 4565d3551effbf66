"""A reply to a proactive message, understood in its light.

After sending, the scheduler leaves ``session.data["proactive"]`` = ``{"job_id", "scenario",
"step", "occurrence", "variables", "at"}``. The customer's next message is read against it once
(then it is dropped, so a "yes" next week is not taken for an answer to it):

- a booking reminder ("Still on?"): "yes" keeps the visit ("see you on 11.03 at 15:00"), "no"
  offers to reschedule or cancel that very booking (buttons straight into the manage-booking
  flow with the booking chosen);
- a "you did not finish" nudge: "yes" resumes the unfinished flow, "no" drops it (the
  dialogue's own resume offer, `bots.flows.engine`).

Anything else goes to the dialogue as usual, with the proactive message in the transcript.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from bots.flows.base import payload
from bots.flows.templates import LANGUAGES, Templates
from bots.flows.understanding import from_payload
from bots.messages import Button, OutboundMessage
from bots.proactive.scenarios import Scenarios, localise
from bots.proactive.turn_view import TurnView
from storage.sessions import RESUME_OFFERED

if TYPE_CHECKING:
    from storage.sessions import Session

__all__ = [
    "PROACTIVE",
    "REPLY_WINDOW",
    "WAITS",
    "ProactiveReplies",
    "last_proactive",
    "reply_language",
]

PROACTIVE = "proactive"  # the session.data key the scheduler writes after a send
WAITS = "proactive_waits"  # set: something scheduled waits for the customer's reply
REPLY_WINDOW = dt.timedelta(days=2)  # how long a message is an answer to the proactive one
YES_NO_MAX_WORDS = 3
YES_NO_MIN_CONFIDENCE = 0.25
YES_NO_MIN_MARGIN = 0.1
_CYRILLIC = re.compile(r"[а-яіїєґ]", re.IGNORECASE)


def last_proactive(session: Session, now: dt.datetime) -> dict[str, Any] | None:
    """The proactive message the customer may be answering: sent within `REPLY_WINDOW`."""
    data = session.data.get(PROACTIVE)
    if not isinstance(data, dict):
        return None
    try:
        at = dt.datetime.fromisoformat(str(data.get("at")))
    except ValueError:
        return None
    if at.tzinfo is None or now - at > REPLY_WINDOW:
        return None
    return data


def reply_language(ctx: TurnView, default: str) -> str:
    """The session's language, else the message's script, else the platform's hint."""
    session = ctx.session
    if session is not None and session.language in LANGUAGES:
        return session.language
    text = ctx.message.text or ""
    if _CYRILLIC.search(text):
        return "uk"
    if any(ch.isalpha() for ch in text):
        return "en"
    hint = (ctx.message.language_hint or "")[:2].lower()
    return hint if hint in LANGUAGES else default


def yes_or_no(ctx: TurnView) -> str | None:
    """ "affirm", "deny" or None: a yes/no button, or a message the NLU reads as one (a short
    one also when the model ranks it first under its fallback threshold: the question narrows
    what the customer can mean)."""
    if ctx.message.payload:
        understood = from_payload(ctx.message.payload)
        intent = understood.intent if understood is not None else None
        return intent if intent in ("affirm", "deny") else None
    parse = ctx.parse
    if parse is None:
        return None
    if parse.intent in ("affirm", "deny"):
        return str(parse.intent)
    ranking = parse.ranking
    if len((ctx.message.text or "").split()) > YES_NO_MAX_WORDS or len(ranking) < 2:
        return None
    top, second = ranking[0], ranking[1]
    if (
        top.name in ("affirm", "deny")
        and top.confidence >= YES_NO_MIN_CONFIDENCE
        and top.confidence - second.confidence >= YES_NO_MIN_MARGIN
    ):
        return str(top.name)
    return None


class ProactiveReplies:
    def __init__(self, scenarios: Scenarios, templates: Templates, default_language: str) -> None:
        self.scenarios = scenarios
        self.t = templates
        self.default_language = default_language

    async def read(self, ctx: TurnView) -> None:
        """Answer a yes/no to the last proactive message (see the module); the context is
        used once either way."""
        session = ctx.session
        assert session is not None
        recent = last_proactive(session, ctx.now)
        session.data.pop(PROACTIVE, None)
        if recent is None:
            return
        scenario = self.scenarios.get(str(recent.get("scenario")))
        answer = yes_or_no(ctx)
        if scenario is None or answer is None:
            return
        if scenario.trigger == "booking" and session.flow is None:
            self._booking(ctx, recent, answer)
        elif scenario.trigger == "flow_abandoned" and session.flow is not None:
            session.data[RESUME_OFFERED] = True  # the dialogue resumes on yes, stops on no

    def _booking(self, ctx: TurnView, recent: dict[str, Any], answer: str) -> None:
        variables = recent.get("variables")
        if not isinstance(variables, dict) or not variables.get("booking"):
            return
        language = reply_language(ctx, self.default_language)
        values = {k: localise(v, language) for k, v in variables.items()}
        when = {"date": values.get("date", ""), "time": values.get("time", "")}
        if answer == "affirm":
            message = OutboundMessage(text=self.t("proactive_booking_kept", language, **when))
        else:
            titles = self.t.raw("proactive_booking_change_buttons", language)
            ref = str(values["booking"])
            message = OutboundMessage(
                text=self.t("proactive_booking_change", language, **when),
                buttons=(
                    Button(
                        str(titles["reschedule"]), payload("reschedule_appointment", booking=ref)
                    ),
                    Button(str(titles["cancel"]), payload("cancel_appointment", booking=ref)),
                ),
            )
        assert ctx.session is not None
        ctx.session.language = language
        ctx.replies.append(message)
        ctx.gated = True  # answered here: the dialogue does not see this "yes"
