"""Order status: by number (asked for when missing), status in plain words, ETA, tracking."""

from __future__ import annotations

from bots.flows.backends import OrderBackend, OrderView
from bots.flows.base import Turn
from bots.flows.understanding import find_order_number, normalise_order_number

STOP_INTENTS = frozenset({"stop", "deny"})
MAX_INVALID = 2


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
        turn.session.flow, turn.session.step = self.name, "ask_number"
        turn.session.slots = {"invalid": 0}
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
        if turn.understanding.intent not in ("inform", "nlu_fallback", "check_order_status"):
            return False  # a digression: let the dialogue answer it and keep the step
        invalid = int(turn.session.slots.get("invalid", 0)) + 1
        turn.session.slots["invalid"] = invalid
        if invalid > MAX_INVALID:
            turn.finish()
            turn.say("fallback_twice")
            turn.escalate("order_number_not_understood")
            return True
        turn.say("order_invalid")
        return True

    def remind(self, turn: Turn) -> None:
        if turn.session.step == "ask_number":
            turn.say("ask_order_number")

    def _number(self, turn: Turn) -> str | None:
        return normalise_order_number(turn.understanding.first("order_number")) or (
            find_order_number(turn.text)
        )

    async def _answer(self, turn: Turn, number: str) -> None:
        order = await self._orders.get(number)
        if order is None:
            turn.session.flow, turn.session.step = self.name, "ask_number"
            turn.session.slots = {"invalid": int(turn.session.slots.get("invalid", 0))}
            turn.say("order_not_found", number=number)
            return
        turn.finish()
        turn.say_text(describe(turn, order))


def describe(turn: Turn, order: OrderView) -> str:
    names = turn.t.raw("order_status_names", turn.language)
    lines = [
        turn.t(
            "order_status",
            turn.language,
            number=order.number,
            status=names.get(order.status, order.status),
        )
    ]
    if order.items:
        items = ", ".join(f"{i.get('name')} × {i.get('qty', 1)}" for i in order.items)
        lines.append(turn.t("order_items", turn.language, items=items))
    if order.eta and order.status not in ("delivered", "cancelled", "returned"):
        lines.append(turn.t("order_eta", turn.language, eta=order.eta.strftime("%d.%m.%Y")))
    if order.tracking_number and order.status in ("shipped", "delivered"):
        lines.append(turn.t("order_tracking", turn.language, tracking=order.tracking_number))
    return "\n".join(lines)
