"""What the customer is told when a ticket opens; the choice offered when nobody answers soon.

`notice` says the wait when `handoff.waiting.Wait.soon` holds. Otherwise (nobody online who serves
the queue, said as "back on Monday from 09:00" outside business hours and on holidays, or a wait
beyond `HandoffConfig.callback_after_minutes`) it says why and offers, with buttons on the channel
the customer wrote from, a call back (on the phone they shared before, or one they give now) or to
leave a message. `answer` takes the customer's choice while the ticket waits: it is recorded on the
ticket (slots ``customer_chose`` and ``callback_phone``, shown with the ticket in the console, and
a ``callback_requested`` / ``message_chosen`` ticket event) and confirmed.

A customer who asks to be called back in so many words ("call me back", "передзвоніть мені":
`asks_for_call_back`) has made that choice already: `call_back_asked` confirms the number the
bot knows (recorded as above) or asks for one, instead of offering what they asked for, or
saying a colleague will answer in the chat (trial 3, T13).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any, Protocol

import phonenumbers

from handoff.config import HandoffConfig
from handoff.contracts import Notice, Texts
from handoff.hours import BusinessHours
from handoff.models import Ticket, TicketEvent
from handoff.waiting import Wait
from storage.db import Database
from storage.models import Customer
from storage.sessions import Session

__all__ = [
    "CALLBACK",
    "MESSAGE",
    "STATE",
    "answer",
    "asked_if_bot",
    "asks_for_call_back",
    "call_back_asked",
    "follow_up",
    "normalise_phone",
    "notice",
]

CALLBACK = "/handoff_callback"
MESSAGE = "/handoff_message"
# session.data: offered | phone (a number is asked for) | callback (a number sent replaces it) |
# done (a message is asked for) | left (it was written and acknowledged)
STATE = "handoff_choice"
_CALL_BACK = re.compile(
    r"\b(?:call (?:me|us) back|call me|callback|call back|ring me|give me a call)\b"
    r"|передзвон\w*|зателефонуй\w*|подзвоні\w*|перезвон\w*|зворотн\w* дзв\w*",
    re.IGNORECASE,
)


def asks_for_call_back(text: str | None) -> bool:
    """Whether a message asks for a call ("call me back", "передзвоніть мені")."""
    return bool(text) and _CALL_BACK.search(text or "") is not None


class HandoffService(Protocol):
    """What of `handoff.service.HandoffService` the offer and the choice use."""

    db: Database
    config: HandoffConfig
    texts: Texts
    hours: BusinessHours

    async def emit(
        self, kind: str, ticket: Ticket, agent_id: int | None, data: dict[str, Any] | None = None
    ) -> None: ...

    async def set_session(self, customer_id: int, change: Callable[[Session], None]) -> Session: ...


def normalise_phone(text: str | None, region: str = "UA") -> str | None:
    """E.164 form of a phone number, or None when it is not a valid one."""
    if not text:
        return None
    try:
        number = phonenumbers.parse(text.strip(), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _day(service: HandoffService, opens: dt.datetime, language: str) -> dict[str, str]:
    """``{day}`` and ``{time}`` of the next shift's start, as the templates take them."""
    day = service.texts.raw("handoff_weekdays", language)[opens.weekday()]
    return {"day": day, "time": opens.strftime("%H:%M")}


def notice(
    service: HandoffService, wait: Wait, language: str, phone: str | None, prefix: str = ""
) -> tuple[Notice, bool]:
    """The customer's notice for ``wait`` (``prefix``: a sentence before it); True when it
    offers the choice."""
    texts = service.texts
    if wait.soon(service.config.callback_after_minutes):
        return Notice(prefix + texts("handoff_wait", language, minutes=wait.minutes)), False
    if wait.minutes is None and wait.opens is not None:
        why = texts("handoff_after_hours", language, **_day(service, wait.opens, language))
    elif wait.minutes is None:
        why = texts("handoff_no_agents", language)
    else:
        why = texts("handoff_busy", language, minutes=wait.minutes)
    return _choice(service, f"{prefix}{why}", language, phone), True


def _choice(service: HandoffService, why: str, language: str, phone: str | None) -> Notice:
    """``why`` followed by the offer of a call back or a message, with its buttons."""
    texts = service.texts
    choose = texts("handoff_choose_phone" if phone else "handoff_choose", language, phone=phone)
    titles = texts.raw("handoff_choice_buttons", language)
    buttons = ((str(titles["callback"]), CALLBACK), (str(titles["message"]), MESSAGE))
    return Notice(f"{why} {choose}", buttons)


async def follow_up(service: HandoffService, ticket: Ticket, now: dt.datetime) -> Notice | None:
    """The offer of ``ticket`` lapsed and nobody else can take it (or it was escalated to
    nobody): the wait the customer was promised is broken. The notice that says so, with the
    offer of a call back or a message, once per ticket: None when the customer has the offer
    already (or chose). Their session then takes the answer as `answer` does."""
    async with service.db.session() as s:
        customer = await s.get(Customer, ticket.customer_id)
    told: list[tuple[str, str | None]] = []

    def offer(session: Session) -> None:
        if session.ticket_id not in (None, ticket.id) or session.data.get(STATE) is not None:
            return
        session.data[STATE] = "offered"
        profile = session.data.get("profile")
        shared = profile.get("phone") if isinstance(profile, dict) else None
        phone = (customer.phone if customer is not None else None) or shared
        told.append((session.language or ticket.language, str(phone) if phone else None))

    await service.set_session(ticket.customer_id, offer)
    if not told:
        return None
    await _record(service, ticket, {}, "wait_lapsed", now)
    [(language, phone)] = told
    return _choice(service, service.texts("handoff_lapsed", language), language, phone)


async def answer(
    service: HandoffService,
    session_data: dict[str, Any],
    ticket: Ticket,
    message: Any,
    known_phone: str | None,
    language: str,
    now: dt.datetime,
) -> list[Notice] | None:
    """The customer's answer to the offer while ``ticket`` waits: notices to send, or None
    when the message is not one (it goes to the ticket as any other)."""
    state = session_data.get(STATE)
    if state is None or ticket.status == "assigned":
        return None
    texts = service.texts
    payload = (message.payload or "").strip()
    if not payload and state == "offered" and asks_for_call_back(message.text):
        payload = CALLBACK  # the offer's "Call me back" in words
    if payload == MESSAGE:
        session_data[STATE] = "done"
        await _record(service, ticket, {"customer_chose": "message"}, "message_chosen", now)
        return [Notice(texts("handoff_message_ask", language))]
    if payload == CALLBACK and known_phone:
        return [await _callback(service, session_data, ticket, known_phone, language, now)]
    if state == "callback" and not payload:  # another number for the call back
        phone = normalise_phone(message.contact_phone or message.text)
        return (
            [await _callback(service, session_data, ticket, phone, language, now)]
            if phone
            else None
        )
    if state == "done" and not payload and (message.text or "").strip():
        session_data[STATE] = "left"  # acknowledged once: what follows goes to the ticket
        left = {"message_left": message.text.strip()[:500]}
        await _record(service, ticket, left, "message_left", now)
        return [Notice(texts("handoff_message_left", language))]
    if payload == CALLBACK or state == "phone":
        phone = normalise_phone(message.contact_phone or message.text)
        if phone is not None:
            return [await _callback(service, session_data, ticket, phone, language, now)]
        key = "handoff_callback_bad_phone" if state == "phone" and payload != CALLBACK else None
        session_data[STATE] = "phone"
        label = texts("share_phone_button", language)
        ask = texts("handoff_callback_ask_phone", language)
        text = f"{texts(key, language)} {ask}" if key else ask
        return [Notice(text, request_phone=True, phone_label=label)]
    return None


def asked_if_bot(
    service: HandoffService, session_data: dict[str, Any], language: str, phone: str | None
) -> list[Notice]:
    """ "Ти бот чи людина?" while the ticket waits (trial 5, G13: no answer at all): what the
    bot is, and the call back or message choice asked again while it is still open."""
    said = service.texts("handoff_bot_answer", language)
    if session_data.get(STATE) == "offered":
        return [_choice(service, said, language, phone)]
    return [Notice(said)]


async def call_back_asked(
    service: HandoffService,
    session_data: dict[str, Any],
    ticket: Ticket,
    wait: Wait,
    known_phone: str | None,
    language: str,
    now: dt.datetime,
) -> Notice:
    """The notice for a customer who asked for a call when ``ticket`` opened: the number the
    bot knows, confirmed and recorded (a number sent next replaces it), with when; else the
    question for one."""
    if known_phone is None:
        session_data[STATE] = "phone"
        label = service.texts("share_phone_button", language)
        ask = service.texts("handoff_callback_ask_phone", language)
        return Notice(ask, request_phone=True, phone_label=label)
    told = await _callback(service, session_data, ticket, known_phone, language, now)
    if not wait.soon(service.config.callback_after_minutes):
        return told
    text = service.texts("handoff_callback_soon", language, phone=known_phone, minutes=wait.minutes)
    return Notice(text)


async def _callback(
    service: HandoffService,
    session_data: dict[str, Any],
    ticket: Ticket,
    phone: str,
    language: str,
    now: dt.datetime,
) -> Notice:
    session_data[STATE] = "callback"  # a number sent next replaces this one
    chose = {"customer_chose": "callback", "callback_phone": phone}
    await _record(service, ticket, chose, "callback_requested", now)
    if service.hours.is_open(now):
        return Notice(service.texts("handoff_callback_done", language, phone=phone))
    day = _day(service, service.hours.next_open(now), language)
    return Notice(service.texts("handoff_callback_later", language, phone=phone, **day))


async def _record(
    service: HandoffService, ticket: Ticket, values: dict[str, Any], kind: str, now: dt.datetime
) -> None:
    """The choice onto the ticket's slots (the console shows them) and its timeline."""
    async with service.db.transaction() as s:
        row = await s.get(Ticket, ticket.id)
        if row is None:
            return
        row.slots = {**(row.slots or {}), **values}
        s.add(TicketEvent(ticket_id=ticket.id, kind=kind, data=values, created_at=now))
    ticket.slots = {**(ticket.slots or {}), **values}
    await service.emit(f"ticket.{kind}", ticket, None, values)
