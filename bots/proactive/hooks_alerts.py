"""Alerts to agents, not messages to the customer: when a rule of the scenarios file fires (the
same intent asked ``times`` times ``within`` a week, by default) a ticket opens in the alert's
queue of the handoff console, with the context: the rule, the intent, the customer's words.

The customer's session is not marked: the bot goes on answering, and nobody tells the customer.
An agent who claims the ticket takes the conversation over as with any ticket; if the customer
asks for a person meanwhile, that ticket is this one (one open ticket per customer).

What the customer asked is counted in their session (``session.data["asked"]``: the intent and
what the message names -> recent times and words), so a turn costs no query. Three different
order numbers are three questions, not one asked thrice.

One question alerts once: after its ticket it is not counted again until the rule's window has
passed since (``session.data["alerted"]``: the question -> until when). A customer who keeps
asking about an order that does not move would otherwise reach the count again every few
messages, each time trying to open a ticket (the one already open, or a new one after an agent
closed it) at several database round trips.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from bots.flows.understanding import FALLBACK, from_parse
from bots.proactive.hooks_replies import reply_language
from bots.proactive.scenarios import Alert, Scenarios
from bots.proactive.turn_view import TurnView
from handoff.contracts import Escalation

if TYPE_CHECKING:
    from handoff.hook import HandoffHook

__all__ = ["ALERTED", "ASKED", "Alerts"]

log = logging.getLogger(__name__)

ASKED = "asked"
ALERTED = "alerted"
# Conversation, not a request: asking these three times is no reason to call a person.
CHATTER = frozenset(
    {"greet", "goodbye", "thank", "affirm", "deny", "inform", "stop", "resume", FALLBACK}
)
WORDS = 120  # characters of each message kept for the ticket's context


def _subject(ctx: TurnView, intent: str) -> str:
    """What was asked: the intent, with what the message names (as the dialogue reads it), so
    "order A1001", "order A1002" and "order A1003" are three questions, not one asked thrice."""
    assert ctx.parse is not None
    named = sorted(
        f"{entity}={str(value).strip().lower()}"
        for entity, values in from_parse(ctx.parse).entities.items()
        for value in values
    )
    return ":".join([intent, *named])[:200]


class Alerts:
    def __init__(self, scenarios: Scenarios, handoff: HandoffHook | None) -> None:
        self.alerts = list(scenarios.alerts.values())
        self.handoff = handoff
        self.window = max((a.within for a in self.alerts), default=dt.timedelta(0))
        self.keep = max((a.times for a in self.alerts), default=0)

    async def check(self, ctx: TurnView) -> None:
        """Count this message's intent; open the alert's ticket when a rule fires."""
        intent = ctx.parse.intent if ctx.parse is not None else None
        if not self.alerts or not intent or intent in CHATTER or ctx.session is None:
            return
        watched = [a for a in self.alerts if a.intent in (None, intent)]
        if not watched:
            return
        subject = _subject(ctx, intent)
        if self._alerted(ctx, subject):
            return
        asked = self._remember(ctx, subject)
        for alert in watched:
            times = [at for at, _ in asked if ctx.now - at <= alert.within]
            if len(times) >= alert.times:
                await self._raise(ctx, alert, intent, asked[-alert.times :])
                ctx.session.data[ASKED].pop(subject, None)
                quiet = ctx.session.data.setdefault(ALERTED, {})
                quiet[subject] = (ctx.now + alert.within).isoformat()
                return

    def _alerted(self, ctx: TurnView, subject: str) -> bool:
        """Whether ``subject`` alerted within its rule's window (the lapsed ones dropped)."""
        assert ctx.session is not None
        quiet = ctx.session.data.get(ALERTED)
        if not isinstance(quiet, dict):
            return False
        for key, until in list(quiet.items()):
            try:
                lapsed = dt.datetime.fromisoformat(str(until)) <= ctx.now
            except ValueError:
                lapsed = True
            if lapsed:
                del quiet[key]
        if not quiet:
            ctx.session.data.pop(ALERTED, None)
        return subject in quiet

    def _remember(self, ctx: TurnView, subject: str) -> list[tuple[dt.datetime, str]]:
        """This message added to the subject's recent asks (older than every window dropped)."""
        assert ctx.session is not None
        book: dict[str, Any] = ctx.session.data.setdefault(ASKED, {})
        kept: list[tuple[dt.datetime, str]] = []
        for entry in book.get(subject) or []:
            try:
                at = dt.datetime.fromisoformat(entry[0])
            except (ValueError, TypeError, IndexError):
                continue
            if ctx.now - at <= self.window:
                kept.append((at, str(entry[1])))
        kept.append((ctx.now, (ctx.message.text or "")[:WORDS]))
        kept = kept[-self.keep :]
        book[subject] = [[at.isoformat(), words] for at, words in kept]
        for other in [k for k in book if k != subject]:  # subjects nobody asked lately
            if not any(self._recent(ctx, e) for e in book[other] or []):
                del book[other]
        return kept

    def _recent(self, ctx: TurnView, entry: Any) -> bool:
        try:
            return ctx.now - dt.datetime.fromisoformat(entry[0]) <= self.window
        except (ValueError, TypeError, IndexError):
            return False

    async def _raise(
        self, ctx: TurnView, alert: Alert, intent: str, asked: list[tuple[dt.datetime, str]]
    ) -> None:
        if self.handoff is None or ctx.customer_id is None or ctx.session is None:
            log.warning("alert %s for customer %s: no handoff to tell", alert.name, ctx.customer_id)
            return
        language = reply_language(ctx, self.handoff.service.config.default_language)
        note = alert.note.get(language) or alert.note.get("en") or alert.name
        days = alert.within.days or 1
        context = {
            "alert": note,
            "intent": intent,
            "asked": f"{len(asked)}× within {days} d",
            "messages": " | ".join(words for _, words in asked if words),
        }
        esc = Escalation(
            reason=f"alert:{alert.name}"[:100],
            intent=intent,
            slots=context,
            language=language,
            channel=ctx.message.channel,
        )
        ticket, created = await self.handoff.service.open_ticket(
            ctx.customer_id, esc, ctx.now, topic=alert.queue
        )
        log.info(
            "alert %s for customer %s (%s asked %d times): ticket %s %s",
            alert.name,
            ctx.customer_id,
            intent,
            len(asked),
            ticket.id,
            "opened" if created else "already open",
        )
