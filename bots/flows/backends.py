"""The business side the flows talk to: small protocols with a built-in SQL implementation.

`OrderBackend` and `BookingBackend` are what flows depend on. `SqlOrderBackend` and
`SqlBookingBackend` keep the data in omnirelay's own database (the demo clinic and shop, or a
business without a system of its own); `bots.flows.http_backends` speaks to a business's own
system over HTTP. Every implementation returns the frozen views below and raises only from the
storage branch of the exception family:

- `storage.booking_errors.SlotTaken` (a `Conflict`): someone else holds that time; offer others.
- `storage.booking_errors.InvalidSlot`: the time cannot be booked at all (past, closed).
- `storage.booking_errors.UnknownService`, `BookingNotFound` (both `NotFound`).
- `storage.errors.BackendUnavailable`: the database or the business system is down; escalate.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from storage.booking_errors import InvalidSlot, SlotTaken, UnknownService
from storage.db import Database
from storage.errors import BackendUnavailable
from storage.models import Booking, Service, Staff, utcnow
from storage.repositories import (
    AvailabilityRepository,
    BookingRepository,
    FreeSlot,
    ServiceRepository,
    StaffRepository,
)
from storage.repositories.bookings import normalise_reference
from storage.repositories.orders import by_number_query, for_customer_query


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order as the order-status flow shows it."""

    number: str
    status: str
    items: list[dict[str, Any]]
    eta: dt.datetime | None
    tracking_number: str | None
    # [{"status": "paid", "at": ISO 8601}, ...], oldest first
    status_history: list[dict[str, Any]] = field(default_factory=list)
    total: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ServiceView:
    """A bookable service with its names in both languages, length and price (UAH)."""

    code: str
    name_uk: str
    name_en: str
    duration_minutes: int
    price: Decimal

    def name(self, language: str) -> str:
        """The name in ``language`` ("uk" or "en"; anything else gets English)."""
        return self.name_uk if language == "uk" else self.name_en


@dataclass(frozen=True, slots=True)
class SlotView:
    """A free start time with one staff member (aware UTC)."""

    staff_id: int
    staff_name: str
    starts_at: dt.datetime
    ends_at: dt.datetime


@dataclass(frozen=True, slots=True)
class BookingView:
    """A booking as the flows confirm and list it."""

    reference: str
    service_code: str
    service_name_uk: str
    service_name_en: str
    staff_id: int
    staff_name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str  # confirmed | cancelled
    customer_id: int | None = None
    name: str | None = None
    phone: str | None = None
    staff_names: dict[str, str] = field(default_factory=dict)  # per language, else staff_name


class OrderBackend(Protocol):
    """Where the order-status flow looks orders up."""

    async def get(self, number: str) -> OrderView | None: ...

    async def for_customer(self, customer_id: int) -> list[OrderView]:
        """The customer's orders, newest first: placed under their id, or with one of their
        verified phones and no customer id (never by an unverified phone)."""
        ...


class BookingBackend(Protocol):
    """Where the booking, reschedule and cancel flows find time and keep appointments."""

    async def services(self) -> list[ServiceView]: ...

    async def free_slots(
        self,
        service: str,
        date_from: dt.date,
        date_to: dt.date,
        *,
        staff_id: int | None = None,
        now: dt.datetime | None = None,
    ) -> list[SlotView]: ...

    async def nearest(
        self,
        service: str,
        after: dt.datetime,
        *,
        limit: int = 3,
        staff_id: int | None = None,
        now: dt.datetime | None = None,
    ) -> list[SlotView]: ...

    async def book(
        self,
        service: str,
        starts_at: dt.datetime,
        *,
        staff_id: int | None = None,
        customer_id: int | None = None,
        name: str | None = None,
        phone: str | None = None,
    ) -> BookingView: ...

    async def cancel(self, reference: str) -> BookingView: ...

    async def reschedule(self, reference: str, starts_at: dt.datetime) -> BookingView: ...

    async def get(self, reference: str) -> BookingView | None: ...

    async def upcoming_for_customer(
        self, customer_id: int, *, now: dt.datetime | None = None
    ) -> list[BookingView]: ...


# Told of each booking made, moved or cancelled, in its transaction: (session, before, after).
BookingListener = Callable[[AsyncSession, "BookingView | None", "BookingView"], Awaitable[None]]


@contextlib.contextmanager
def _database_errors() -> Iterator[None]:
    try:
        yield
    except (OperationalError, InterfaceError, OSError) as e:
        raise BackendUnavailable(f"database unavailable: {e}") from e


class SqlOrderBackend:
    """Orders kept in omnirelay's own database (the demo shop, or a business without a system)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, number: str) -> OrderView | None:
        """The order with this number, or None (one read, in one hop on SQLite)."""

        def read(s: Session) -> OrderView | None:
            order = s.scalar(by_number_query(number))
            return _order_view(order) if order is not None else None

        with _database_errors():
            return await self._db.run(read, write=False)

    async def for_customer(self, customer_id: int) -> list[OrderView]:
        """The customer's orders, newest first. Asked on every "where is my order" without a
        number, so it takes the same one-hop read as `get`, not the async ORM session."""

        def read(s: Session) -> list[OrderView]:
            return [_order_view(o) for o in s.scalars(for_customer_query(customer_id))]

        with _database_errors():
            return await self._db.run(read, write=False)


class SqlBookingBackend:
    """Services, staff and bookings in omnirelay's own database. The slot is claimed (locked)
    in `storage.repositories.bookings.BookingRepository.lock_slot_cells`: unique
    ``(staff, cell)`` rows, so two customers can never get the same slot."""

    def __init__(
        self,
        db: Database,
        *,
        step: dt.timedelta = dt.timedelta(minutes=30),
        clock: Callable[[], dt.datetime] = utcnow,
        on_change: BookingListener | None = None,
    ) -> None:
        """``step`` spaces offered start times; ``clock`` is "now" (tests pin it)."""
        self._db = db
        self._step = step
        self._clock = clock
        self._on_change = on_change

    async def services(self) -> list[ServiceView]:
        """Active services, in the order the business added them."""
        with _database_errors():
            async with self._db.session() as s:
                return [_service_view(x) for x in await ServiceRepository(s).list_active()]

    async def free_slots(
        self,
        service: str,
        date_from: dt.date,
        date_to: dt.date,
        *,
        staff_id: int | None = None,
        now: dt.datetime | None = None,
    ) -> list[SlotView]:
        """Free slots on local dates ``date_from``..``date_to``, none in the past, by time."""
        with _database_errors():
            async with self._db.session() as s:
                slots = await AvailabilityRepository(s).free_slots(
                    service,
                    date_from,
                    date_to,
                    now=now or self._clock(),
                    staff_id=staff_id,
                    step=self._step,
                )
        return [_slot_view(x) for x in slots]

    async def nearest(
        self,
        service: str,
        after: dt.datetime,
        *,
        limit: int = 3,
        staff_id: int | None = None,
        now: dt.datetime | None = None,
    ) -> list[SlotView]:
        """The ``limit`` nearest distinct free start times at or after ``after``."""
        with _database_errors():
            async with self._db.session() as s:
                slots = await AvailabilityRepository(s).nearest(
                    service,
                    after,
                    now=now or self._clock(),
                    limit=limit,
                    staff_id=staff_id,
                    step=self._step,
                )
        return [_slot_view(x) for x in slots]

    async def book(
        self,
        service: str,
        starts_at: dt.datetime,
        *,
        staff_id: int | None = None,
        customer_id: int | None = None,
        name: str | None = None,
        phone: str | None = None,
    ) -> BookingView:
        """Book ``service`` at ``starts_at`` with ``staff_id``, or with whichever qualified staff
        member is free then (each tried in its own transaction). Raises `SlotTaken` when the
        time is taken for everyone, `InvalidSlot` when nobody works then."""
        with _database_errors():
            async with self._db.session() as s:
                found = await ServiceRepository(s).by_code(service)
                if found is None:
                    raise UnknownService(f"no service {service!r}")
                if customer_id is not None:
                    held = await BookingRepository(s).held_by(customer_id, found.code, starts_at)
                    if held is not None:
                        return await _booking_view(s, held)
                staff = await StaffRepository(s).for_service(found.code)
            candidates = [staff_id] if staff_id is not None else [x.id for x in staff]
            error: Exception = InvalidSlot(f"nobody provides {service!r}")
            for candidate in candidates:
                try:
                    async with self._db.transaction() as s:
                        booking = await BookingRepository(s).book(
                            service,
                            candidate,
                            starts_at,
                            now=self._clock(),
                            customer_id=customer_id,
                            name=name,
                            phone=phone,
                        )
                        return await self._changed(s, None, booking)
                except SlotTaken as e:
                    error = e
                except InvalidSlot as e:
                    if not isinstance(error, SlotTaken):
                        error = e
            raise error

    async def cancel(self, reference: str) -> BookingView:
        """Cancel the booking and release its time. Raises `BookingNotFound`."""
        with _database_errors():
            async with self._db.transaction() as s:
                booking = await BookingRepository(s).cancel(reference, now=self._clock())
                return await self._changed(s, None, booking)

    async def reschedule(self, reference: str, starts_at: dt.datetime) -> BookingView:
        """Move the booking; the old time is released only if the new one is taken."""
        with _database_errors():
            async with self._db.transaction() as s:
                before = await self.get_in(s, reference) if self._on_change else None
                booking = await BookingRepository(s).reschedule(
                    reference, starts_at, now=self._clock()
                )
                return await self._changed(s, before, booking)

    async def get(self, reference: str) -> BookingView | None:
        """The booking with this reference (any case, "BK-" optional), or None."""
        with _database_errors():
            async with self._db.session() as s:
                return await self.get_in(s, reference)

    @staticmethod
    async def get_in(s: AsyncSession, reference: str) -> BookingView | None:
        booking = await BookingRepository(s).by_reference(normalise_reference(reference))
        return await _booking_view(s, booking) if booking is not None else None

    async def _changed(self, s: AsyncSession, old: BookingView | None, b: Booking) -> BookingView:
        view = await _booking_view(s, b)
        if self._on_change is not None:
            await self._on_change(s, old, view)
        return view

    async def upcoming_for_customer(
        self, customer_id: int, *, now: dt.datetime | None = None
    ) -> list[BookingView]:
        """The customer's confirmed bookings that have not started, soonest first."""
        with _database_errors():
            async with self._db.session() as s:
                rows = await BookingRepository(s).upcoming_for_customer(
                    customer_id, now or self._clock()
                )
                return [await _booking_view(s, b) for b in rows]


def _order_view(order: Any) -> OrderView:
    return OrderView(
        number=order.number,
        status=order.status,
        items=list(order.items or []),
        eta=order.eta,
        tracking_number=order.tracking_number,
        status_history=list(order.status_history or []),
        total=order.total,
    )


def _service_view(s: Service) -> ServiceView:
    return ServiceView(s.code, s.name_uk, s.name_en, s.duration_minutes, s.price)


def _slot_view(slot: FreeSlot) -> SlotView:
    return SlotView(slot.staff_id, slot.staff_name, slot.starts_at, slot.ends_at)


async def _booking_view(session: AsyncSession, booking: Booking) -> BookingView:
    service = await session.get(Service, booking.service_id)
    staff = await session.get(Staff, booking.staff_id)
    assert service is not None and staff is not None  # foreign keys
    return BookingView(
        reference=booking.reference,
        service_code=service.code,
        service_name_uk=service.name_uk,
        service_name_en=service.name_en,
        staff_id=staff.id,
        staff_name=staff.name,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        status=booking.status,
        customer_id=booking.customer_id,
        name=booking.name,
        phone=booking.phone,
        staff_names={str(k): str(v) for k, v in (staff.names or {}).items()},
    )
