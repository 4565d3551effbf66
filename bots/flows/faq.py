"""Common questions answered from the business data: opening hours and address (the business
profile), services and prices (the booking backend). One turn each: nothing is kept."""

from __future__ import annotations

import re

from bots.flows.backends import BookingBackend, ServiceView
from bots.flows.base import Turn
from bots.flows.business import WEEKDAYS, BusinessProfile, match_services

# How to pay ("can I pay by card?", "можна оплатити карткою?"), read as a question about prices:
# answered with how to pay, not the price list (trial 4); "how much do I pay" is a price.
_PAYMENT = re.compile(
    r"(?<!\w)(?:pay|paying|payment\w*|by\s+card|cards?|cash|visa|mastercard|apple\s+pay"
    r"|google\s+pay|instal+ments?|оплат\w*|платит\w*|заплатит\w*|платіж\w*|карт(?:к\w*|ою)"
    r"|готівк\w*|безготів\w*|розстрочк\w*|переказ\w*)(?!\w)",
    re.IGNORECASE,
)
_PRICE = re.compile(r"(?<!\w)(?:how\s+much|price\w*|cost\w*|скільки|цін\w*|вартіст\w*)(?!\w)", re.I)


def asks_how_to_pay(text: str | None) -> bool:
    """A question about paying, not about how much (`_PAYMENT`)."""
    said = text or ""
    return _PAYMENT.search(said) is not None and _PRICE.search(said) is None


class FaqFlow:
    name = "faq"
    intents = frozenset({"ask_opening_hours", "ask_address", "ask_prices"})
    entity_triggers: frozenset[str] = frozenset()

    def __init__(self, profile: BusinessProfile, bookings: BookingBackend) -> None:
        self.profile = profile
        self.bookings = bookings

    async def start(self, turn: Turn) -> None:
        turn.finish()
        intent = turn.understanding.intent
        if intent == "ask_opening_hours":
            turn.say("faq_hours", hours=self._hours(turn))
        elif intent == "ask_address":
            turn.say(
                "faq_address",
                address=turn.local(self.profile.address),
                phone=self.profile.phone or "",
            )
        elif asks_how_to_pay(turn.text) and self.profile.payment:
            turn.say("faq_payment", payment=turn.local(self.profile.payment))
        elif asks_how_to_pay(turn.text):
            turn.say("faq_payment_unknown", menu="fallback_buttons")
        else:
            await self._prices(turn)

    async def step(self, turn: Turn) -> bool:
        return False  # never active

    def remind(self, turn: Turn) -> None:
        return None

    def _hours(self, turn: Turn) -> str:
        """Opening hours with consecutive days grouped: "Mon–Fri 08:00–20:00; Sun closed"."""
        names = turn.t.raw("weekdays_short", turn.language)
        closed = turn.tr("faq_closed")
        groups: list[tuple[int, int, str]] = []
        for i, day in enumerate(WEEKDAYS):
            hours = self.profile.hours.get(day, "").replace("-", "–") or closed
            if groups and groups[-1][2] == hours and groups[-1][1] == i - 1:
                groups[-1] = (groups[-1][0], i, hours)
            else:
                groups.append((i, i, hours))
        parts = []
        for first, last, hours in groups:
            days = names[first] if first == last else f"{names[first]}–{names[last]}"
            parts.append(f"{days} {hours}")
        return "; ".join(parts)

    async def _prices(self, turn: Turn) -> None:
        services = await self.bookings.services()
        named = match_services(turn.text, services) or [
            s for s in services if s.code == turn.understanding.first("service")
        ]
        shown = named or services
        lines = "\n".join(self._line(turn, s) for s in shown)
        turn.say("faq_prices" if not named else "faq_price", prices=lines)

    @staticmethod
    def _line(turn: Turn, s: ServiceView) -> str:
        return turn.tr(
            "faq_price_line", service=s.name(turn.language), price=f"{s.price:.0f}",
            minutes=s.duration_minutes,
        )  # fmt: skip
