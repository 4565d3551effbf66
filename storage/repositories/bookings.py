"""Bookings, made so that two customers can never hold the same time of one staff member.

How double booking is made impossible, identically on SQLite and PostgreSQL:

- A confirmed booking claims every 15-minute UTC cell its ``[starts_at, ends_at)`` touches, one
  row per cell in ``booking_slots`` whose primary key is ``(staff_id, slot_start)``.
- `BookingRepository.book` inserts the booking and all of its cells in the caller's transaction
  (`BookingRepository.lock_slot_cells`: where a slot is locked).
  If any cell is already claimed the INSERT fails on the primary key and `SlotTaken` is raised;
  the caller's transaction then rolls back, so a booking gets all of its cells or none.
- Two transactions racing for one cell are serialised by the database itself: PostgreSQL makes
  the second INSERT wait for the first transaction and then fails it on the key; SQLite lets one
  writer at a time in (the other waits on ``busy_timeout``) and the later one fails on the key.
  No read-then-write check is relied on, so there is no window between "is it free?" and "take
  it", and no dialect-specific feature (exclusion constraints, ``BEGIN IMMEDIATE``) is needed.
- `cancel` deletes the cells; `reschedule` deletes the old cells and claims the new ones in one
  transaction, so if the new time is taken the rollback gives the old cells back.

Repositories never commit; after `SlotTaken` the caller must roll back (``Database.transaction``
does) because PostgreSQL aborts the transaction on a failed INSERT.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.booking_errors import BookingNotFound, InvalidSlot, SlotTaken, UnknownService
from storage.errors import Conflict
from storage.models import Booking, BookingSlot, Service, Staff, utcnow
from storage.slots import cells, within_working_hours

__all__ = ["REFERENCE_ALPHABET", "BookingRepository", "new_reference", "normalise_reference"]

# No 0/O, 1/I/L: a reference is read out over the phone and typed back.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REFERENCE_LENGTH = 6
DEADLOCK_DETECTED = "40P01"  # PostgreSQL SQLSTATE


def new_reference() -> str:
    """A fresh human-friendly booking reference such as ``"BK-7Q2M9X"``."""
    return "BK-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def normalise_reference(reference: str) -> str:
    """``" bk-7q2m9x"`` -> ``"BK-7Q2M9X"``; a bare ``"7q2m9x"`` gets its prefix back."""
    ref = reference.strip().upper().replace(" ", "")
    return ref if ref.startswith("BK-") else f"BK-{ref.removeprefix('BK')}"


class BookingRepository:
    """Book, cancel, reschedule and look up bookings within the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_reference(self, reference: str, *, for_update: bool = False) -> Booking | None:
        """The booking with this reference (case-insensitive), or None."""
        query = select(Booking).where(Booking.reference == normalise_reference(reference))
        if for_update:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def get(self, booking_id: int) -> Booking | None:
        """The booking with this id, or None."""
        return await self.session.get(Booking, booking_id)

    async def held_by(
        self, customer_id: int, service_code: str, starts_at: dt.datetime
    ) -> Booking | None:
        """The customer's confirmed booking of this service at exactly ``starts_at``, if any.

        Booking what one already holds is answered with the booking held: a turn that is run
        again (a redelivery after a crash or a stalled worker's takeover) books nothing twice
        and tells the customer what a single run would have."""
        return await self.session.scalar(
            select(Booking)
            .join(Service, Service.id == Booking.service_id)
            .where(
                Booking.customer_id == customer_id,
                Booking.status == "confirmed",
                Booking.starts_at == starts_at.astimezone(dt.UTC),
                Service.code == service_code,
            )
            .limit(1)
        )

    async def upcoming_for_customer(self, customer_id: int, now: dt.datetime) -> list[Booking]:
        """The customer's confirmed bookings that have not started yet, soonest first."""
        rows = await self.session.scalars(
            select(Booking)
            .where(
                Booking.customer_id == customer_id,
                Booking.status == "confirmed",
                Booking.starts_at >= now,
            )
            .order_by(Booking.starts_at, Booking.id)
        )
        return list(rows)

    async def book(
        self,
        service_code: str,
        staff_id: int,
        starts_at: dt.datetime,
        *,
        now: dt.datetime | None = None,
        customer_id: int | None = None,
        name: str | None = None,
        phone: str | None = None,
        reference: str | None = None,
    ) -> Booking:
        """Book ``service_code`` with ``staff_id`` at ``starts_at`` (aware).

        Raises `UnknownService`, `InvalidSlot` (past, outside working hours, staff without the
        skill) or `SlotTaken` (the caller must then roll back).
        """
        now = now or utcnow()
        service, staff = await self._service_and_staff(service_code, staff_id)
        ends_at = self._check_time(service, staff, starts_at, now)
        booking = Booking(
            reference=reference or new_reference(),
            customer_id=customer_id,
            service_id=service.id,
            staff_id=staff.id,
            starts_at=starts_at.astimezone(dt.UTC),
            ends_at=ends_at,
            status="confirmed",
            name=name,
            phone=phone,
            created_at=now,
            updated_at=now,
        )
        self.session.add(booking)
        try:
            await self.session.flush()
        except IntegrityError as e:
            raise Conflict(f"booking reference {booking.reference} already exists") from e
        await self.lock_slot_cells(booking)
        return booking

    async def cancel(self, reference: str | int, *, now: dt.datetime | None = None) -> Booking:
        """Cancel a booking (by reference or id) and release its time; cancelling twice is
        harmless.

        Raises `BookingNotFound`.
        """
        booking = await self._require(reference)
        if booking.status != "cancelled":
            await self.session.execute(
                delete(BookingSlot).where(BookingSlot.booking_id == booking.id)
            )
            booking.status = "cancelled"
            booking.updated_at = now or utcnow()
            await self.session.flush()
        return booking

    async def reschedule(
        self, reference: str | int, starts_at: dt.datetime, *, now: dt.datetime | None = None
    ) -> Booking:
        """Move a confirmed booking (by reference or id) to ``starts_at``, same staff and service.

        The old time is released and the new one claimed in the caller's transaction: on
        `SlotTaken` the rollback keeps the old time. Raises `BookingNotFound`, `Conflict`
        (the booking is cancelled), `InvalidSlot` or `SlotTaken`.
        """
        now = now or utcnow()
        booking = await self._require(reference)
        if booking.status != "confirmed":
            raise Conflict(f"booking {booking.reference} is {booking.status}")
        service = await self.session.get(Service, booking.service_id)
        staff = await self.session.get(Staff, booking.staff_id)
        if service is None or staff is None:  # pragma: no cover (foreign keys forbid it)
            raise BookingNotFound(f"booking {booking.reference} lost its service or staff")
        ends_at = self._check_time(service, staff, starts_at, now, skill=False)
        await self.session.execute(delete(BookingSlot).where(BookingSlot.booking_id == booking.id))
        booking.starts_at, booking.ends_at = starts_at.astimezone(dt.UTC), ends_at
        booking.updated_at = now
        await self.lock_slot_cells(booking)
        await self.session.flush()
        return booking

    async def _require(self, reference: str | int) -> Booking:
        if isinstance(reference, int):
            booking = await self.session.get(Booking, reference, with_for_update=True)
        else:
            booking = await self.by_reference(reference, for_update=True)
        if booking is None:
            raise BookingNotFound(f"no booking {reference}")
        return booking

    async def _service_and_staff(self, service_code: str, staff_id: int) -> tuple[Service, Staff]:
        service = await self.session.scalar(
            select(Service).where(
                Service.code == service_code.strip().lower(), Service.active.is_(True)
            )
        )
        if service is None:
            raise UnknownService(f"no service {service_code!r}")
        staff = await self.session.get(Staff, staff_id)
        if staff is None or not staff.active:
            raise InvalidSlot(f"no active staff member {staff_id}")
        return service, staff

    @staticmethod
    def _check_time(
        service: Service,
        staff: Staff,
        starts_at: dt.datetime,
        now: dt.datetime,
        *,
        skill: bool = True,
    ) -> dt.datetime:
        if starts_at.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        ends_at = (starts_at + dt.timedelta(minutes=service.duration_minutes)).astimezone(dt.UTC)
        if skill and service.code not in (staff.skills or []):
            raise InvalidSlot(f"{staff.name} does not provide {service.code}")
        if starts_at < now:
            raise InvalidSlot("that time has passed")
        if not within_working_hours(staff.working_hours, staff.timezone, starts_at, ends_at):
            raise InvalidSlot(f"{staff.name} does not work then")
        return ends_at

    async def lock_slot_cells(self, booking: Booking) -> None:
        """Claim the booking's time: the slot is locked here, by inserting its unique
        ``(staff_id, slot_start)`` rows in ``booking_slots``. A cell another booking holds
        fails the INSERT on the primary key: `SlotTaken`, and the caller's transaction rolls
        back (see the module docstring for why this is race-free on SQLite and PostgreSQL)."""
        rows = [
            {"staff_id": booking.staff_id, "slot_start": cell, "booking_id": booking.id}
            for cell in cells(booking.starts_at, booking.ends_at)
        ]
        taken = f"staff {booking.staff_id} is not free at {booking.starts_at.isoformat()}"
        try:
            await self.session.execute(insert(BookingSlot), rows)
        except IntegrityError as e:
            raise SlotTaken(taken) from e
        except DBAPIError as e:
            # Two reschedules swapping times on PostgreSQL: each holds the cells the other wants.
            # The database aborts one; for that customer the wanted time is simply taken.
            if getattr(e.orig, "sqlstate", None) == DEADLOCK_DETECTED:
                raise SlotTaken(taken) from e
            raise
