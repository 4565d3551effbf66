"""Order status: by number (asked for when missing), status in plain words, ETA, tracking.

What a chat may see of an order found by its number (README "What an unverified customer
sees"): the whole order (items, tracking number) only when it is the customer's own, placed
under their profile or with a phone the platform verified for them (a contact shared on Telegram
or Viber, or a phone confirmed with a code: `OrderBackend.for_customer`); anyone else who knows
the number gets its status and dates alone, and is told how to see the rest: share their phone
where the messenger vouches for it, or, where a phone can only be typed (the web chat), link
the chat to the messenger where they did. That notice is said in full once a session (trial
F19: every answer repeated its five lines); later answers say why in one line and keep its
button.

An order number typed without its letter ("1003", "#1003", trial F19) where one is asked for (a
customer with orders of their own is shown them instead) is looked for with the letter of the
order last asked about in the session, then as typed (a business may number orders without
letters); only then is the customer asked for the letter, and the number is not counted as
misunderstood.

Asked when it arrives right after ("when will it arrive?", "коли приїде?"), the order last told
about in the session is the one meant: its delivery date is the answer, no number asked again.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bots.flows.backends import OrderBackend, OrderView
from bots.flows.base import Turn, payload
from bots.flows.understanding import find_order_number, normalise_order_number
from bots.messages import Button, OutboundMessage

if TYPE_CHECKING:
    from storage.sessions import Session

STOP_INTENTS = frozenset({"stop", "deny"})
NOTICE_SAID = "order_notices_said"  # session.data: the hidden-details notices said
LAST_LETTER = "order_letter"  # session.data: the letter of the order last asked about
LAST_ORDER = "order_last"  # session.data: the order last told about (`asks_about_last_order`)
# When an order arrives ("when will it arrive?", "коли приїде?"): said of the order just told
# about, it is that order's delivery date (trial 4, G4: the order number was asked for again).
_ARRIVAL = re.compile(
    r"(?<!\w)(?:arriv\w*|deliver\w*|get\s+(?:here|to\s+me)|ship\w*|приїде|прийде|приїдуть"
    r"|прийдуть|доставк\w*|доставлять|доставите|привезуть|привезете|отримаю|буде\s+в\s+мене)(?!\w)",
    re.IGNORECASE,
)
_BARE = re.compile(r"^\s*(?:#|№)?\s*(\d{4,8})\s*[.!?]*\s*$")
# "where is my order 1004": a number in a message about an order (trial 5, G6)
_IN_TEXT = re.compile(r"(?<![\w.:/+-])(?:#|№)?(\d{4,8})(?![\w.:/-])")
# the letter alone, answering "which letter comes before 1004?" ("A", Cyrillic "А" too)
_LETTER_ALONE = re.compile(r"^\s*([A-Za-zА-Яа-яЄІЇҐєіїґ])\s*[.!?]*\s*$")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "digits"  # slot: the number whose letter was asked for
MAX_LISTED = 5
NUMBER_INTENTS = frozenset({"inform", "nlu_fallback", "out_of_scope", "check_order_status"})
# Channels whose shared contact the platform vouches for (`InboundMessage.contact_verified`):
# elsewhere (web chat, REST, Instagram) a phone is typed, so it never proves an order is yours.
SHARED_PHONE_VERIFIED = frozenset({"telegram", "viber"})


class OrderStatusFlow:
    name = "order_status"
    intents = frozenset({"check_order_status"})
    entity_triggers = frozenset({"order_number"})

    def __init__(self, orders: OrderBackend) -> None:
        self._orders = orders

    async def start(self, turn: Turn) -> None:
        turn.finish()
        number = self._number(turn) or await self._without_letter(turn)
        if number:
            await self._answer(turn, number)
            return
        digits = _digits(turn)
        if digits is not None:  # "#1004" with no flow asking: its letter, not the whole number
            turn.session.flow, turn.session.step = self.name, "ask_number"
            turn.session.slots[DIGITS] = digits
            turn.say("order_needs_letter", number=digits)
            return
        last = turn.session.data.get(LAST_ORDER)
        if last and _ARRIVAL.search(turn.text or "") and await self._arrival(turn, str(last)):
            return
        if await self._list_known(turn):
            return
        turn.session.flow, turn.session.step = self.name, "ask_number"
        turn.say("ask_order_number")

    async def step(self, turn: Turn) -> bool:
        number = self._number(turn) or await self._without_letter(turn) or self._letter_given(turn)
        if number:
            await self._answer(turn, number)
            return True
        digits = _digits(turn)
        if digits is not None:
            turn.session.slots[DIGITS] = digits
            turn.say("order_needs_letter", number=digits)
            return True
        if turn.understanding.intent in STOP_INTENTS:
            turn.finish()
            turn.say("stopped")
            return True
        if turn.understanding.intent not in NUMBER_INTENTS:
            return False  # a digression: let the dialogue answer it and keep the step
        if turn.miss():
            turn.say("fallback_twice")
            turn.escalate("order_number_not_understood")
            turn.finish()
            return True
        turn.say("order_invalid")
        return True

    def remind(self, turn: Turn) -> None:
        if turn.session.step == "ask_number":
            turn.say("ask_order_number")

    async def _list_known(self, turn: Turn) -> bool:
        """A known customer's orders, listed without asking for a number."""
        if turn.ctx.customer_id is None:
            return False
        orders = await self._orders.for_customer(turn.ctx.customer_id)
        if not orders:
            return False
        if len(orders) == 1:
            turn.session.data[LAST_ORDER] = orders[0].number
            turn.say_text(describe(turn, orders[0]))
            return True
        names = turn.t.raw("order_status_names", turn.language)
        lines = "\n".join(
            f"{o.number}: {names.get(o.status, o.status)}" for o in orders[:MAX_LISTED]
        )
        buttons = tuple(
            Button(o.number, payload("inform", order_number=o.number)) for o in orders[:MAX_LISTED]
        )
        turn.say("orders_list", buttons=buttons, orders=lines)
        return True

    async def _arrival(self, turn: Turn, number: str) -> bool:
        """When ``number`` (the order just told about) arrives; False if it is gone."""
        order = await self._orders.get(number)
        if order is None:
            return False
        names = turn.t.raw("order_status_names", turn.language)
        if order.status == "delivered":
            turn.say("order_arrived", number=order.number)
        elif order.eta and order.status not in ("cancelled", "returned"):
            turn.say("order_arrives", number=order.number, eta=f"{order.eta:%d.%m.%Y}")
        elif order.status in ("cancelled", "returned"):
            turn.say_text(describe(turn, order, details=False))
        else:
            status = names.get(order.status, order.status)
            turn.say("order_no_eta", number=order.number, status=status)
        return True

    async def _without_letter(self, turn: Turn) -> str | None:
        """The order a number typed without its letter means ("1003"): see the module."""
        digits = _digits(turn)
        if digits is None:
            return None
        letter = turn.session.data.get(LAST_LETTER)
        for number in (f"{letter}{digits}" if letter else None, digits):
            if number and await self._orders.get(number) is not None:
                return number
        # the only order ending in these digits (a shop with one letter prefix: all of them)
        found = [f"{c}{digits}" for c in LETTERS if await self._orders.get(f"{c}{digits}")]
        return found[0] if len(found) == 1 else None

    @staticmethod
    def _letter_given(turn: Turn) -> str | None:
        """The letter alone ("A") after its number's letter was asked for: the whole number."""
        digits = turn.session.slots.get(DIGITS)
        alone = _LETTER_ALONE.match(turn.text or "") if digits else None
        return find_order_number(f"{alone.group(1)}{digits}") if alone else None

    def _number(self, turn: Turn) -> str | None:
        return normalise_order_number(turn.understanding.first("order_number")) or (
            find_order_number(turn.text)
        )

    async def _answer(self, turn: Turn, number: str) -> None:
        order = await self._orders.get(number)
        if order is None:
            turn.session.flow, turn.session.step = self.name, "ask_number"
            turn.say("order_not_found", number=number)
            return
        turn.finish()
        turn.session.data[LAST_LETTER] = order.number[:1] if order.number[:1].isalpha() else ""
        turn.session.data[LAST_ORDER] = order.number
        if await self._owns(turn, order):
            turn.say_text(describe(turn, order))
            return
        # one message, as for the owner: the status and dates, and how to see the rest (in
        # full once a session, each of the two notices; its button stays)
        text = describe(turn, order, details=False)
        if turn.ctx.message.channel in SHARED_PHONE_VERIFIED:
            label = turn.tr("share_phone_button")
            text = self._once(turn, text, "order_details_hidden")
            turn.replies.append(OutboundMessage(text, request_phone=True, phone_label=label))
            return
        # a phone given here is typed, never verified: linking to a messenger is the way
        link = Button(turn.tr("link_account_button"), payload("link_account"))
        text = self._once(turn, text, "order_details_hidden_typed")
        turn.replies.append(OutboundMessage(text, buttons=(link,)))

    @staticmethod
    def _once(turn: Turn, text: str, key: str) -> str:
        """``text`` and the notice ``key`` under it: in full the first time this session, then
        the one line of it that says why the details are missing (``<key>_short``)."""
        said = turn.session.data.setdefault(NOTICE_SAID, [])
        if key in said:
            return f"{text}\n{turn.tr(key + '_short')}"
        said.append(key)
        return f"{text}\n{turn.tr(key)}"

    async def _owns(self, turn: Turn, order: OrderView) -> bool:
        """The order is this customer's: under their profile or a phone verified for them."""
        customer_id = turn.ctx.customer_id
        if customer_id is None:
            return False
        return any(o.number == order.number for o in await self._orders.for_customer(customer_id))


def describe(turn: Turn, order: OrderView, *, details: bool = True) -> str:
    """The order's status and dates; with ``details``, its items and tracking number too."""
    names = turn.t.raw("order_status_names", turn.language)
    lines = [
        turn.t(
            "order_status",
            turn.language,
            number=order.number,
            status=names.get(order.status, order.status),
        )
    ]
    if order.items and details:
        # a name is a text, or one per language ({"uk": ..., "en": ...})
        items = ", ".join(
            f"{turn.local(i.get('name') or '')} × {i.get('qty', 1)}" for i in order.items
        )
        lines.append(turn.t("order_items", turn.language, items=items))
    if order.eta and order.status not in ("delivered", "cancelled", "returned"):
        lines.append(turn.t("order_eta", turn.language, eta=order.eta.strftime("%d.%m.%Y")))
    if order.tracking_number and details and order.status in ("shipped", "delivered"):
        lines.append(turn.t("order_tracking", turn.language, tracking=order.tracking_number))
    return "\n".join(lines)


def _digits(turn: Turn) -> str | None:
    """An order number typed without its letter: the message alone ("1003", "#1004"), or the
    NLU's order number when it has no letter ("order 1004", "#1004 please")."""
    bare = _BARE.match(turn.text or "")
    if bare is not None:
        return bare.group(1)
    value = str(turn.understanding.first("order_number") or "")
    if value.isdigit():
        return value
    # "where is my order 1004": the NLU read no number, the message is about an order
    in_text = _IN_TEXT.search(turn.text or "") if _about_order(turn) else None
    return in_text.group(1) if in_text else None


def _about_order(turn: Turn) -> bool:
    return turn.understanding.intent == "check_order_status" or turn.session.flow == "order_status"


def asks_about_last_order(text: str | None, session: Session | None) -> bool:
    """Whether ``text`` asks when the order just told about arrives ("коли приїде?"), with no
    other order number in it: whatever the NLU read it as, the order status answers it."""
    if session is None or not session.data.get(LAST_ORDER) or find_order_number(text):
        return False
    return _ARRIVAL.search(text or "") is not None
