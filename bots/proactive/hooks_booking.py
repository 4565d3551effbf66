"""Booking reminders follow the booking: `BookingReminders` is the local booking backend's
listener (`bots.flows.backends.SqlBookingBackend(on_change=...)`), called in the booking's own
transaction, so a booking and its reminders commit (or roll back) together.

- made: every `booking` scenario is triggered for the visit (24 h and 2 h before, by default);
- cancelled: its pending reminders are cancelled;
- moved: the old time's reminders are cancelled and the new time's are triggered.

One occurrence per (booking, start time): a moved booking's reminders are new rows, and a
repeated call (the same booking made twice, a retried turn) inserts nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bots.flows.backends import BookingView
from bots.proactive.scenarios import Scenarios
from bots.proactive.triggers import cancel, trigger

__all__ = ["BookingReminders", "booking_occurrence"]

log = logging.getLogger(__name__)


def booking_occurrence(booking: BookingView) -> str:
    """The reminders' occurrence key: the reference and the visit's start (UTC)."""
    start = booking.starts_at.astimezone(dt.UTC)
    return f"{booking.reference}@{start:%Y-%m-%dT%H:%MZ}"


class BookingReminders:
    """`SqlBookingBackend`'s ``on_change``: schedules and cancels the visit's reminders."""

    def __init__(
        self, scenarios: Scenarios, clock: Callable[[], dt.datetime], timezone: str
    ) -> None:
        self.scenarios = scenarios
        self.clock = clock
        self.tz = ZoneInfo(timezone)

    async def __call__(
        self, s: AsyncSession, before: BookingView | None, after: BookingView
    ) -> None:
        if after.customer_id is None:
            return  # a booking nobody can be written to (made by staff for a walk-in)
        now = self.clock()
        for scenario in self.scenarios.for_trigger("booking"):
            if before is not None and booking_occurrence(before) != booking_occurrence(after):
                await cancel(
                    s,
                    customer_id=after.customer_id,
                    scenario=scenario.name,
                    occurrence=booking_occurrence(before),
                    reason=f"booking {after.reference} moved",
                    now=now,
                )
            if after.status == "cancelled":
                await cancel(
                    s,
                    customer_id=after.customer_id,
                    scenario=scenario.name,
                    occurrence=booking_occurrence(after),
                    reason=f"booking {after.reference} cancelled",
                    now=now,
                )
                continue
            added = await trigger(
                s,
                self.scenarios,
                scenario.name,
                customer_id=after.customer_id,
                occurrence=booking_occurrence(after),
                anchor=after.starts_at,
                variables=self.variables(after),
                now=now,
            )
            if added:
                log.info("booking %s: %d reminder(s) scheduled", after.reference, added)

    def variables(self, booking: BookingView) -> dict[str, Any]:
        """What a booking reminder's text may name (the service in both languages)."""
        local = booking.starts_at.astimezone(self.tz)
        return {
            "booking": booking.reference,
            "service": {"uk": booking.service_name_uk, "en": booking.service_name_en},
            "staff": {
                lang: booking.staff_names.get(lang) or booking.staff_name for lang in ("uk", "en")
            },
            "starts_at": booking.starts_at.isoformat(),
            "date": f"{local:%d.%m}",
            "time": f"{local:%H:%M}",
        }
