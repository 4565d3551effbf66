"""Dialogue flows. `build_dialogue` wires them to their backends; add a flow to its list.

A flow sees a turn as a `bots.flows.context.FlowContext` (the worker's turn context is one), so
the flows never import the worker. May import: bots.identity, bots.messages, bots.config,
storage, nlu (its types).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bots.config import Settings
    from bots.flows.backends import BookingBackend, BookingListener, OrderBackend
    from bots.flows.base import Flow
    from bots.flows.engine import Dialogue
    from storage.db import Database


def build_dialogue(
    settings: Settings,
    db: Database,
    clock: Callable[[], datetime] | None = None,
    extra_flows: Sequence[Flow] = (),  # flows built elsewhere (account linking: bots.identity)
    on_booking: BookingListener | None = None,
) -> Dialogue:
    """The dialogue with every flow, on SQL backends or on the business's own system over
    HTTP (`booking_api_url` / `orders_api_url`). `Dialogue.aclose` closes what it opened.
    ``on_booking`` is told of every booking made, moved or cancelled in omnirelay's own
    database, in its transaction (the proactive reminders, `bots.proactive.hooks_booking`)."""
    from bots.config import secret
    from bots.flows.backends import SqlBookingBackend, SqlOrderBackend
    from bots.flows.booking import BookingFlow
    from bots.flows.business import BusinessProfile
    from bots.flows.engine import Dialogue
    from bots.flows.faq import FaqFlow
    from bots.flows.http_backends import HttpBookingBackend, HttpOrderBackend
    from bots.flows.manage_booking import ManageBookingFlow
    from bots.flows.order_status import OrderStatusFlow
    from bots.flows.templates import Templates
    from bots.identity.service import ProfileContacts

    closers: list[Callable[[], Awaitable[Any]]] = []
    token = secret(settings.business_api_token)
    timeout = settings.business_api_timeout
    bookings: BookingBackend
    orders: OrderBackend
    if settings.booking_api_url:
        http_bookings = HttpBookingBackend(settings.booking_api_url, token, timeout=timeout)
        closers.append(http_bookings.aclose)
        bookings = http_bookings
    elif clock is not None:
        bookings = SqlBookingBackend(db, clock=clock, on_change=on_booking)
    else:
        bookings = SqlBookingBackend(db, on_change=on_booking)
    if settings.orders_api_url:
        http_orders = HttpOrderBackend(settings.orders_api_url, token, timeout=timeout)
        closers.append(http_orders.aclose)
        orders = http_orders
    else:
        orders = SqlOrderBackend(db)
    profile = BusinessProfile.load(settings.business_profile)
    tz = settings.timezone

    flows: list[Flow] = [
        BookingFlow(bookings, tz, contacts=ProfileContacts(db)),
        ManageBookingFlow(bookings, tz),
        OrderStatusFlow(orders),
        FaqFlow(profile, bookings),
        *extra_flows,
    ]
    return Dialogue(
        Templates(settings.default_language),
        flows,
        business_name=profile.name,
        default_language=settings.default_language,
        closers=closers,
    )
