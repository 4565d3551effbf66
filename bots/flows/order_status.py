"""Order status: by number (asked for when missing), status in plain words, ETA, tracking.

What a chat may see of an order found by its number (README "What an unverified customer
sees"): the whole order (items, tracking number) only when it is the customer's own, placed
under their profile or with a phone the platform verified for them (a contact shared on Telegram
or Viber, or a phone confirmed with a code: `OrderBackend.for_customer`); anyone else who knows
the number gets its status and dates alone, and is told how to see the rest: share their phone
where the messenger vouches for it, or, where a phone can only be typed (the web chat), link
the chat to the messenger where they did."""

from __future__ import annotations

from bots.flows.backends import OrderBackend, OrderView
from bots.flows.base import Turn, payload
from bots.flows.understanding import find_order_number, normalise_order_number
from bots.messages import Button, OutboundMessage

STOP_INTENTS = frozenset({"stop", "deny"})
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
        number = self._number(turn)
        if number:
            await self._answer(turn, number)
            return
        if await self._list_known(turn):
            return
        turn.session.flow, turn.session.step = self.name, "ask_number"
        turn.say("ask_order_number")

    async def step(self, turn: Turn) -> bool:
        number = self._number(turn)
        if number:
            await self._answer(turn, number)
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
        if await self._owns(turn, order):
            turn.say_text(describe(turn, order))
            return
        # one message, as for the owner: the status and dates, and how to see the rest
        text = describe(turn, order, details=False)
        if turn.ctx.message.channel in SHARED_PHONE_VERIFIED:
            label = turn.tr("share_phone_button")
            text = f"{text}\n{turn.tr('order_details_hidden')}"
            turn.replies.append(OutboundMessage(text, request_phone=True, phone_label=label))
            return
        # a phone given here is typed, never verified: linking to a messenger is the way
        link = Button(turn.tr("link_account_button"), payload("link_account"))
        text = f"{text}\n{turn.tr('order_details_hidden_typed')}"
        turn.replies.append(OutboundMessage(text, buttons=(link,)))

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
