"""Handoff knobs: a `HandoffConfig` the application builds from its own settings and passes to
`handoff.wiring.setup` (handoff reads no settings object: it does not import bots)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from handoff.throttle import LoginConfig

__all__ = ["DEFAULT_TOPIC", "DEFAULT_TOPICS", "HandoffConfig"]

#: The queue topic of everything no flow or intent maps to.
DEFAULT_TOPIC = "general"

#: Queue topic by flow name or intent; anything else goes to "general".
DEFAULT_TOPICS: Mapping[str, str] = {
    "order_status": "orders",
    "check_order_status": "orders",
    "booking": "bookings",
    "book_appointment": "bookings",
    "reschedule_appointment": "bookings",
    "cancel_appointment": "bookings",
    "complaint": "complaints",
}


@dataclass(frozen=True)
class HandoffConfig:
    """Every knob of the handoff package; the defaults are the application's."""

    default_language: str = "uk"
    timezone: str = "Europe/Kyiv"
    offer_timeout: float = 120.0  # an offered ticket nobody claims is re-offered after this
    # an online agent not seen (a console request, an open console event stream) for this
    # long is not counted in wait estimates nor offered tickets (handoff.routing.present)
    presence_timeout: float = 120.0
    tick: float = 5.0  # how often each process looks for expired offers and waiting tickets
    business_hours: str = ""  # "" = always staffed; "mon-fri 09:00-18:00; sat 10:00-14:00"
    holidays: tuple[str, ...] = ()  # closed days: "2026-01-01" once, "12-25" every year
    complaint_intents: frozenset[str] = frozenset({"complaint"})
    stale_order_days: int = 0  # 0 = off; else undelivered orders older than this escalate
    topics: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_TOPICS))
    avg_handle_minutes: float = 5.0  # wait estimate before the queue has closed tickets
    # a longer wait (or nobody online, or after hours) is not promised: a call back or a
    # message is offered instead (handoff.callback)
    callback_after_minutes: float = 15.0
    webhook_url: str | None = None
    webhook_secret: str | None = None
    admin_token: str | None = None
    console_session_hours: float = 12.0
    cookie_secure: bool = False
    login: LoginConfig = field(default_factory=LoginConfig)  # throttle, origins, proxies
    lock_timeout: float = 30.0  # the customer's lock, taken to change a session
    send_lease: float = 30.0  # an agent's reply not sent within this is re-sent by a sweeper
    fcr_days: int = 7  # a customer back on a resolved ticket's topic within this: not resolved
    review_log: str | None = None  # the NLU review log; its length is the metrics' review queue

    def topic_for(self, flow: str | None, intent: str | None) -> str:
        for key in (flow, intent):
            if key and key in self.topics:
                return self.topics[key]
        return DEFAULT_TOPIC
