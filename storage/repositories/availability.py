"""Free time: working hours of the staff who provide a service, minus claimed cells.

A slot is free when none of the 15-minute cells it would claim (`storage.slots.cells`) is in
``booking_slots``, which is exactly the test the database applies when the slot is booked, so a
slot offered here can only be refused if someone else books it in the meantime.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.booking_errors import UnknownService
from storage.models import BookingSlot, Service, Staff
from storage.repositories.services import ServiceRepository, StaffRepository
from storage.slots import cells, slot_starts, working_intervals

__all__ = ["DEFAULT_STEP", "AvailabilityRepository", "FreeSlot"]

DEFAULT_STEP = dt.timedelta(minutes=30)
_WEEK = dt.timedelta(days=7)


@dataclass(frozen=True, slots=True)
class FreeSlot:
    """A bookable start time of one staff member for one service (aware UTC)."""

    staff_id: int
    staff_name: str
    starts_at: dt.datetime
    ends_at: dt.datetime


class AvailabilityRepository:
    """Computes free slots; read-only."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def free_slots(
        self,
        service_code: str,
        date_from: dt.date,
        date_to: dt.date,
        *,
        now: dt.datetime,
        staff_id: int | None = None,
        step: dt.timedelta = DEFAULT_STEP,
    ) -> list[FreeSlot]:
        """Free slots of ``service_code`` on the local dates ``date_from``..``date_to``
        (inclusive, each staff member's own time zone), none before ``now``, sorted by time
        and then staff id. Raises `UnknownService`.
        """
        service, staff = await self._service_and_staff(service_code, staff_id)
        duration = dt.timedelta(minutes=service.duration_minutes)
        found: list[FreeSlot] = []
        for member in staff:
            found.extend(
                await self._free_for(member, duration, date_from, date_to, now=now, step=step)
            )
        found.sort(key=lambda s: (s.starts_at, s.staff_id))
        return found

    async def nearest(
        self,
        service_code: str,
        after: dt.datetime,
        *,
        now: dt.datetime,
        limit: int = 3,
        staff_id: int | None = None,
        step: dt.timedelta = DEFAULT_STEP,
        horizon: dt.timedelta = dt.timedelta(days=28),
        distinct_times: bool = True,
    ) -> list[FreeSlot]:
        """The first ``limit`` free slots starting at or after ``max(after, now)``.

        With ``distinct_times`` each start time is offered once (by the lowest staff id), which
        is what a customer choosing a time wants. Searches a week at a time up to ``horizon``.
        """
        start = max(after, now)
        service, staff = await self._service_and_staff(service_code, staff_id)
        duration = dt.timedelta(minutes=service.duration_minutes)
        day = start.astimezone(dt.UTC).date() - dt.timedelta(days=1)  # any staff time zone
        last = (start + horizon).astimezone(dt.UTC).date()
        out: list[FreeSlot] = []
        seen: set[dt.datetime] = set()
        while day <= last and len(out) < limit:
            week_end = min(day + _WEEK - dt.timedelta(days=1), last)
            batch: list[FreeSlot] = []
            for member in staff:
                batch.extend(
                    await self._free_for(member, duration, day, week_end, now=start, step=step)
                )
            for slot in sorted(batch, key=lambda s: (s.starts_at, s.staff_id)):
                if distinct_times and slot.starts_at in seen:
                    continue
                seen.add(slot.starts_at)
                out.append(slot)
            day = week_end + dt.timedelta(days=1)
        return out[:limit]

    async def _service_and_staff(
        self, service_code: str, staff_id: int | None
    ) -> tuple[Service, list[Staff]]:
        service = await ServiceRepository(self.session).by_code(service_code)
        if service is None:
            raise UnknownService(f"no service {service_code!r}")
        staff = await StaffRepository(self.session).for_service(service.code)
        if staff_id is not None:
            staff = [s for s in staff if s.id == staff_id]
        return service, staff

    async def _free_for(
        self,
        staff: Staff,
        duration: dt.timedelta,
        date_from: dt.date,
        date_to: dt.date,
        *,
        now: dt.datetime,
        step: dt.timedelta,
    ) -> list[FreeSlot]:
        intervals = []
        day = date_from
        while day <= date_to:
            intervals.extend(working_intervals(staff.working_hours, staff.timezone, day))
            day += dt.timedelta(days=1)
        if not intervals:
            return []
        lo, hi = min(i[0] for i in intervals), max(i[1] for i in intervals)
        taken = set(
            await self.session.scalars(
                select(BookingSlot.slot_start).where(
                    BookingSlot.staff_id == staff.id,
                    BookingSlot.slot_start >= cells(lo, hi)[0],
                    BookingSlot.slot_start < hi,
                )
            )
        )
        return [
            FreeSlot(staff.id, staff.name, start, start + duration)
            for start in slot_starts(intervals, duration, step)
            if start >= now and taken.isdisjoint(cells(start, start + duration))
        ]
