"""The worker's side of handoff: what happens to a customer message around the bot's turn.

The worker's turn (`bots.worker.steps.TurnSteps`: `handoff_gate`, `handoff_after_turn`) calls:

- `intercept(ctx)` before the NLU and the dialogue. While a ticket is open (queued, offered
  or with an agent) the message belongs to the ticket and the bot stays silent, so old
  buttons cannot restart a flow; after a close the customer's 1-5 answer is stored as the
  CSAT score, and the task the ticket interrupted is offered again (`handoff.csat`). Returns
  notices to send, or None to let the bot run. A message it keeps from the bot still sets the
  language of the session when its words leave no doubt (`nlu.lang.clear_language`): the
  dialogue does not see it, and the close, the rating and the call back speak that language.
- `relay(ctx)` once the worker has committed a message `intercept` kept from the bot to the
  transcript: the live event for the consoles and the webhook (so whoever reloads the ticket
  on that event finds the message in it).
- `after_turn(ctx)` after the dialogue: an escalation of this turn (a request for a person,
  two fallbacks, a business rule), or a pending one left by an earlier failure, opens the
  customer's ticket (exactly one, also under redelivery) and says how long the wait is.
- `on_failure(ctx)` when the turn fails for the last time: the ticket is opened before the
  worker apologises.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from typing import Any, Protocol

from handoff import callback, csat
from handoff.delivery import agent_replies, report_delivery
from handoff.events import HandoffEvent
from handoff.models import Ticket
from handoff.service import CSAT_PAYLOAD, Escalation, HandoffService, Notice
from handoff.waiting import estimate
from nlu.lang import clear_language
from nlu.normalise import normalise_text
from storage.repositories.orders import by_number_query, normalise_number
from storage.sessions import RESUME_OFFERED, EscalationRequest, Session

__all__ = ["HandoffHook", "TurnView"]

log = logging.getLogger(__name__)

HIGH_PRIORITY_REASONS = frozenset({"complaint", "processing_error", "stale_order"})
RULES = frozenset({"complaint", "stale_order"})  # the escalations of `_business_rules`
HUMAN_PAYLOAD = "/request_human"  # the bot's button that asks for a person
UNDELIVERED = frozenset({"new", "paid", "packed", "shipped"})
# Matched against stripped text: adjacent `\s*` runs made the old pattern cubic in whitespace.
_SCORE = re.compile(r"^([1-5])(?:\s*/\s*5)?\s*[.!⭐*]*$")
# A score said in words ("п'ять", "five") or with its scale ("5 stars", "4 з 5", "п'ять зірок"),
# alone or inside a sentence ("it was great, 5 stars"); trial F4 lost them all
_SCORE_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "один": 1, "одна": 1, "одиниця": 1, "два": 2, "дві": 2, "двійка": 2, "три": 3, "трійка": 3,
    "чотири": 4, "четвірка": 4, "п'ять": 5, "пять": 5, "п'ятірка": 5, "пятірка": 5,
}  # fmt: skip
_WORD = "|".join(sorted(map(re.escape, _SCORE_WORDS), key=len, reverse=True))
_SCALE = r"(?:stars?|зірк[аиу]|зірок|бал(?:и|ів)?|/ ?5|out of 5|(?:з|із) 5)"
_SCORE_WORD = re.compile(rf"^({_WORD})(?: {_SCALE})?[.!⭐*]*$")
_SCORE_SAID = re.compile(rf"(?<![\w/])([1-5]|{_WORD}) ?{_SCALE}(?![\w/])")
# a score first, then a word of thanks or a comment with no other number ("5, дуже дякую",
# "4 - nice, but slow", "5 thanks"; trial 4, G5)
_THANKS = r"дякую|дуже дякую|спасибі|thanks?|thank you|thx|ty"
_SCORE_FIRST = re.compile(
    rf"^([1-5]|{_WORD})(?: {_SCALE})?(?:\s*[,.!;:)\-–—]++|\s+(?={_THANKS}))\D*$"
)
_ORDER = re.compile(r"\b([A-Za-z]\d{3,})\b")


class _Message(Protocol):
    channel: str
    user_id: str
    message_id: str
    text: str | None
    payload: str | None
    contact_phone: str | None


class TurnView(Protocol):
    """What the hook reads and writes of `bots.worker.turn.TurnContext`."""

    message: Any  # _Message
    now: dt.datetime
    customer_id: int | None
    customer_phone: str | None
    session: Session | None
    parse: Any
    escalation: str | None
    replies: list[Any]  # bots.messages.OutboundMessage: the bot's replies of the turn


class HandoffHook:
    def __init__(self, service: HandoffService) -> None:
        self.service = service

    # ---- after sending ---------------------------------------------------------------------------

    async def delivery_ended(
        self, message_id: int, sender: str, status: str, error: str | None
    ) -> None:
        """`bots.worker.outbox.Outbox` listener: an agent's reply was sent or given up on."""
        if sender == "agent":
            await report_delivery(self.service, message_id, status, error)

    async def receipt_failed(
        self, channel: str, platform_message_id: str, error: str | None
    ) -> None:
        """A platform's `failed` receipt for a reply it had accepted (Viber): reported like
        the outbox's own outcomes when it was an agent's reply. Best effort, logged."""
        try:
            for message_id in await agent_replies(self.service, channel, platform_message_id):
                await report_delivery(self.service, message_id, "failed", error)
        except Exception:
            log.exception("failed receipt of %s:%s not reported", channel, platform_message_id)

    # ---- before the bot -------------------------------------------------------------------------

    async def intercept(self, ctx: TurnView) -> list[Notice] | None:
        session, customer_id = ctx.session, ctx.customer_id
        assert session is not None and customer_id is not None
        if session.version == 0:
            # A session that was never saved: after a restart of an embedded (memory) session
            # store, or an expired one. The database knows whether a ticket is open.
            ticket = await self.service.open_ticket_of(customer_id)
            if ticket is not None:
                session.handoff = "agent" if ticket.status == "assigned" else "pending"
                session.ticket_id = ticket.id
        ticket_id = session.ticket_id
        if ticket_id is None and session.handoff == "pending":
            return None  # an escalation without a ticket: `after_turn` opens it
        if ticket_id is not None:
            ticket, _ = await self.service.router.load(ticket_id)
            if ticket.status != "closed":
                # the bot is silent (`relay` passes the message on once it is stored) but
                # for the answer to an offer of a call back or a message
                _follow_language(ctx)
                language, phone = self._language(ctx), self._phone(ctx)
                chosen = await callback.answer(
                    self.service, session.data, ticket, ctx.message, phone, language, ctx.now
                )
                return chosen or []
            session.handoff = None  # closed while the session missed it: the bot is back
            session.ticket_id = None
            session.data.pop(callback.STATE, None)
        return await self._rated(ctx)

    async def _rated(self, ctx: TurnView) -> list[Notice] | None:
        """The rating asked after a close, when the message gives it: thanks, and the task the
        ticket interrupted offered again. Anything else leaves the rating asked (`after_turn`)."""
        session = ctx.session
        assert session is not None
        asked = session.data.get(csat.PENDING)
        score = _score(ctx.message.text, ctx.message.payload) if asked is not None else None
        if asked is None or score is None:
            return None
        del session.data[csat.PENDING]
        _follow_language(ctx)  # "five stars"
        await self.service.record_csat(int(asked["ticket_id"]), score)
        language = self._language(ctx)
        told = [Notice(self.service.texts("handoff_csat_thanks", language))]
        offer = csat.resume_offer(self.service.texts, asked, language)
        if offer is not None:
            session.data[RESUME_OFFERED] = True
            told.append(offer)
        return told

    async def relay(self, ctx: TurnView, ticket_id: int | None = None) -> None:
        """Pass a customer message that `intercept` kept from the bot on to the ticket's
        consoles (live) and the outbound webhook. The worker calls it once the message is
        committed to the transcript, so a console that reloads the ticket on this event
        finds the message there (and again for a redelivered one: at least once). Best
        effort: the transcript stays the record."""
        session, msg = ctx.session, ctx.message
        if ticket_id is None and session is not None:
            ticket_id = session.ticket_id
        if ticket_id is None or ctx.customer_id is None:
            return
        try:
            ticket, _ = await self.service.router.load(ticket_id)
            await self._publish(ctx, ticket.id, ticket.queue_id, ticket.agent_id)
        except Exception:
            log.exception(
                "message %s:%s not relayed to ticket %s", msg.channel, msg.message_id, ticket_id
            )

    async def _publish(
        self, ctx: TurnView, ticket_id: int, queue_id: int, agent_id: int | None
    ) -> None:
        msg = ctx.message
        assert ctx.customer_id is not None
        event = HandoffEvent(
            kind="message.customer",
            ticket_id=ticket_id,
            customer_id=ctx.customer_id,
            queue_id=queue_id,
            agent_id=agent_id,
            data={
                "text": msg.text,
                "payload": msg.payload,
                "contact_phone": msg.contact_phone,  # a shared contact, shown live
                "channel": msg.channel,
                "at": ctx.now.isoformat(),
            },
            id=f"{msg.channel}:{msg.message_id}",
        )
        await self.service.bus.publish(event)
        if self.service.webhook is not None:
            self.service.webhook.submit(event)

    # ---- after the bot ---------------------------------------------------------------------------

    async def after_turn(self, ctx: TurnView) -> list[Notice]:
        session = ctx.session
        assert session is not None
        asked = session.data.get(csat.PENDING)
        if asked is not None and csat.moved_on(asked, session):
            session.data.pop(csat.PENDING)  # the customer went on with a task, not the rating
        if session.ticket_id is None:
            if ctx.escalation is None and session.handoff is None:
                await self._business_rules(ctx)
            if ctx.escalation is not None or session.handoff == "pending":
                return await self._open(ctx)
        return []

    async def on_failure(self, ctx: TurnView) -> None:
        """The turn failed for good: open the ticket now (the worker then apologises)."""
        if ctx.session is None or ctx.customer_id is None:
            return
        if ctx.session.ticket_id is not None:
            return
        ctx.escalation = "processing_error"
        try:
            await self._open(ctx)
        except Exception:
            log.exception("could not open a ticket for customer %s", ctx.customer_id)

    async def _open(self, ctx: TurnView) -> list[Notice]:
        session, customer_id = ctx.session, ctx.customer_id
        assert session is not None and customer_id is not None
        asked = session.escalation or EscalationRequest("unknown")
        reason = ctx.escalation or asked.reason
        language = self._language(ctx)
        esc = Escalation(
            reason=reason,
            intent=asked.intent or _intent(ctx),
            flow=asked.flow or session.flow,
            slots=asked.slots or dict(session.slots),
            language=language,
            channel=ctx.message.channel,
            priority=2 if reason in HIGH_PRIORITY_REASONS else 1,
        )
        # a business rule's ticket is about what the message says (a complaint mid-booking
        # goes to the complaints queue), a request's about the task it interrupts
        topic = self.service.config.topic_for(esc.intent, esc.flow) if reason in RULES else None
        ticket, created = await self.service.open_ticket(customer_id, esc, ctx.now, topic=topic)
        session.handoff = "agent" if ticket.status == "assigned" else "pending"
        session.ticket_id = ticket.id
        session.data.pop(csat.PENDING, None)  # a rating of the last ticket is no longer asked
        log.info(
            "customer %s escalated (%s): ticket %s %s",
            customer_id,
            reason,
            ticket.id,
            "opened" if created else "already open",
        )
        prefix = self._one_voice(ctx, reason, language) if created else ""
        if created and callback.asks_for_call_back(ctx.message.text):
            return [await self._call_back(ctx, ticket, language, prefix)]
        notice, offered = await self.service.wait_notice(
            ticket, language, ctx.now, phone=self._phone(ctx), prefix=prefix
        )
        if offered:
            session.data[callback.STATE] = "offered"
        else:
            session.data.pop(callback.STATE, None)
        return [notice]

    async def _call_back(self, ctx: TurnView, ticket: Ticket, language: str, prefix: str) -> Notice:
        """A call asked for ("call me back"): the bot's "a colleague will answer here" is
        dropped, and the known number confirmed (or one asked for) in its place."""
        session = ctx.session
        assert session is not None
        service = self.service
        ctx.replies.clear()
        wait = await estimate(service.db, service.config, service.hours, ticket, ctx.now)
        told = await callback.call_back_asked(
            service, session.data, ticket, wait, self._phone(ctx), language, ctx.now
        )
        return dataclasses.replace(told, text=prefix + told.text)

    def _one_voice(self, ctx: TurnView, reason: str, language: str) -> str:
        """The turn opens a ticket, so no reply of it may still offer a person: the offer's
        button goes. A complaint the business rule sends to a person is answered by the
        notice alone: what the bot said without knowing that (an offer of a person, "sorry, I
        didn't get that" and the question of the task the person now takes over) is dropped,
        so the customer reads one message, not an offer followed by a hand-off. Returns the
        sentence the notice starts with."""
        if reason == "complaint":
            ctx.replies.clear()
            return self.service.texts("handoff_complaint", language) + " "
        ctx.replies[:] = [_without_offer(r) for r in ctx.replies]
        return ""

    async def _business_rules(self, ctx: TurnView) -> None:
        """Configurable escalations: a complaint intent; an old order still undelivered."""
        config = self.service.config
        intent = _intent(ctx)
        if intent is not None and intent in config.complaint_intents:
            self._escalate(ctx, "complaint", intent)
            return
        if config.stale_order_days <= 0:
            return
        number = _order_number(ctx)
        if number is None:
            return
        order = await self.service.db.run(lambda s: s.scalar(by_number_query(number)), write=False)
        if order is None or order.status not in UNDELIVERED:
            return
        if ctx.now - order.created_at >= dt.timedelta(days=config.stale_order_days):
            self._escalate(ctx, "stale_order", intent)
            ctx.session.slots["order_number"] = order.number  # type: ignore[union-attr]

    def _escalate(self, ctx: TurnView, reason: str, intent: str | None) -> None:
        session = ctx.session
        assert session is not None
        ctx.escalation = reason
        session.handoff = "pending"
        session.escalation = EscalationRequest(
            reason=reason,
            intent=intent,
            at=ctx.now.isoformat(),
            flow=session.flow,
            slots=dict(session.slots),
        )

    @staticmethod
    def _phone(ctx: TurnView) -> str | None:
        """The phone the customer gave: their profile's, or one shared in this session."""
        session = ctx.session
        profile = session.data.get("profile") if session is not None else None
        phone = profile.get("phone") if isinstance(profile, dict) else None
        return ctx.customer_phone or (str(phone) if phone else None)

    def _language(self, ctx: TurnView) -> str:
        session = ctx.session
        language = session.language if session is not None else None
        return language or self.service.config.default_language


def _follow_language(ctx: TurnView) -> None:
    """The session speaks the language of a message kept from the dialogue, when its words
    leave no doubt (the dialogue's rule for a message it did not understand)."""
    spoken = clear_language(ctx.message.text or "")
    if spoken is not None and ctx.session is not None:
        ctx.session.language = spoken


def _without_offer(reply: Any) -> Any:
    """The reply without a button that asks for a person (the same reply when it has none)."""
    buttons = tuple(b for b in reply.buttons if b.payload != HUMAN_PAYLOAD)
    return (
        reply if len(buttons) == len(reply.buttons) else dataclasses.replace(reply, buttons=buttons)
    )


def _intent(ctx: TurnView) -> str | None:
    intent = getattr(ctx.parse, "intent", None)
    return str(intent) if intent else None


def _order_number(ctx: TurnView) -> str | None:
    for entity in getattr(ctx.parse, "entities", None) or ():
        if getattr(entity, "entity", None) == "order_number" and getattr(entity, "value", None):
            return normalise_number(str(entity.value))
    match = _ORDER.search(ctx.message.text or "")
    return normalise_number(match.group(1)) if match else None


def _score(text: str | None, payload: str | None) -> int | None:
    if payload and payload.startswith(CSAT_PAYLOAD):
        match = re.search(r'"score"\s*:\s*([1-5])\b', payload)
        return int(match.group(1)) if match else None
    match = _SCORE.match((text or "").strip())
    if match:
        return int(match.group(1))
    said = " ".join(normalise_text(text or "").lower().split())  # any apostrophe as '"
    match = _SCORE_WORD.match(said)
    if match:
        return _SCORE_WORDS[match.group(1)]
    match = _SCORE_FIRST.match(said)
    if match:
        first = match.group(1)
        return int(first) if first.isdigit() else _SCORE_WORDS[first]
    found = {m.group(1) for m in _SCORE_SAID.finditer(said)}
    scores = {int(f) if f.isdigit() else _SCORE_WORDS[f] for f in found}
    return scores.pop() if len(scores) == 1 else None
