"""HTTP adapters of `BookingBackend` and `OrderBackend` for a business's own system.

The business exposes this small JSON contract under a base URL (``HttpBookingBackend(base_url,
token)``); ``tests/fakes/business.py`` is a loopback implementation of it.

Requests carry ``Authorization: Bearer <token>`` when a token is configured. Datetimes are ISO
8601 with an offset (answers may use any offset; the adapter converts to UTC), dates are
``YYYY-MM-DD``, money is a decimal string in UAH.

=======  ==========================================================  ==============================
method   path (query / body)                                         200 answer
=======  ==========================================================  ==============================
GET      /services                                                   {"services": [Service]}
GET      /services/{code}/slots?from=DATE&to=DATE[&staff_id][&now]   {"slots": [Slot]}
GET      /services/{code}/nearest?after=ISO[&limit][&staff_id][&now] {"slots": [Slot]}
POST     /bookings  {service, starts_at, staff_id?, customer_id?,    Booking (201)
         name?, phone?}
GET      /bookings/{reference}                                       Booking
POST     /bookings/{reference}/cancel                                Booking
POST     /bookings/{reference}/reschedule  {starts_at}               Booking
GET      /bookings?customer_id=N&after=ISO                           {"bookings": [Booking]}
GET      /orders/{number}                                            Order
GET      /orders?customer_id=N                                       {"orders": [Order]}
=======  ==========================================================  ==============================

- Service: ``{code, name_uk, name_en, duration_minutes, price}``
- Slot: ``{staff_id, staff_name, starts_at, ends_at}``
- Booking: ``{reference, service_code, service_name_uk, service_name_en, staff_id, staff_name,
  starts_at, ends_at, status, customer_id, name, phone}``; status is confirmed | cancelled
- Order: ``{number, status, items: [{name, qty}], eta, tracking_number, total,
  status_history: [{status, at}]}``
- ``staff_name`` and an item's ``name`` are a string or one per language
  (``{"uk": "Кавомолка", "en": "Coffee grinder"}``); replies use the customer's language.

Errors answer ``{"error": CODE, "message": TEXT}`` and map to typed exceptions:

- 404: a GET of one booking or order returns None; ``unknown_service`` raises `UnknownService`;
  otherwise `BookingNotFound`.
- 409 ``slot_taken``: `SlotTaken`; any other 409 (e.g. ``booking_cancelled``): `Conflict`.
- 422: `InvalidSlot` (past, closed, staff without the skill).
- 401, 403 and other 4xx: `BusinessSystemError` (our request or our token is wrong).
- 5xx, a timeout, a refused connection or a body that is not the JSON promised:
  `BusinessSystemUnavailable`, a `storage.errors.BackendUnavailable`, so flows treat it like a
  database outage (apologise and escalate).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp

from bots.flows.backends import BookingView, OrderView, ServiceView, SlotView
from storage.booking_errors import BookingNotFound, InvalidSlot, SlotTaken, UnknownService
from storage.errors import BackendUnavailable, Conflict, StorageError
from storage.models import utcnow

T = TypeVar("T")

__all__ = [
    "BusinessSystemError",
    "BusinessSystemUnavailable",
    "HttpBookingBackend",
    "HttpOrderBackend",
]


class BusinessSystemError(StorageError):
    """The business system refused our request (bad token, bad request)."""


class BusinessSystemUnavailable(BackendUnavailable):
    """The business system is down, slow or answering nonsense."""


class _HttpClient:
    """One aiohttp session to the business system, opened on first use."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        timeout: float,
        session: aiohttp.ClientSession | None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._owns_session = session is None

    async def close(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
            self._session = None

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        none_on_404: bool = False,
    ) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        url = self.base_url + path
        try:
            async with self._session.request(
                method, url, params=params, json=body, headers=self._headers, timeout=self._timeout
            ) as response:
                status = response.status
                try:
                    data = await response.json(content_type=None)
                except ValueError as e:
                    if status >= 500:
                        data = None
                    else:
                        raise BusinessSystemUnavailable(f"{method} {path}: not JSON") from e
        except (TimeoutError, aiohttp.ClientError) as e:
            raise BusinessSystemUnavailable(f"{method} {path}: {type(e).__name__} {e}") from e
        if status < 300:
            return data
        if status == 404 and none_on_404:
            return None
        raise _error(status, data if isinstance(data, dict) else {}, f"{method} {path}")


def _error(status: int, data: dict[str, Any], where: str) -> StorageError:
    code, message = str(data.get("error", "")), str(data.get("message", ""))
    text = f"{where}: {status} {code} {message}".strip()
    if status >= 500:
        return BusinessSystemUnavailable(text)
    if status == 404:
        return UnknownService(text) if code == "unknown_service" else BookingNotFound(text)
    if status == 409:
        return SlotTaken(text) if code == "slot_taken" else Conflict(text)
    if status == 422:
        return InvalidSlot(text)
    return BusinessSystemError(text)


class _Adapter:
    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._http = _HttpClient(base_url, token, timeout, session)

    async def aclose(self) -> None:
        """Close the HTTP session (unless it was given to us)."""
        await self._http.close()

    async def __aenter__(self) -> _Adapter:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()


class HttpOrderBackend(_Adapter):
    """`OrderBackend` over the business system's ``/orders`` endpoints."""

    async def get(self, number: str) -> OrderView | None:
        """The order with this number, or None (404)."""
        data = await self._http.call("GET", f"/orders/{_segment(number)}", none_on_404=True)
        return None if data is None else _parse(_order, data)

    async def for_customer(self, customer_id: int) -> list[OrderView]:
        """The customer's orders, as the business system orders them."""
        data = await self._http.call("GET", "/orders", params={"customer_id": str(customer_id)})
        return _parse(lambda d: [_order(x) for x in d["orders"]], data)


class HttpBookingBackend(_Adapter):
    """`BookingBackend` over the business system's ``/services`` and ``/bookings`` endpoints."""

    async def services(self) -> list[ServiceView]:
        """Active services."""
        data = await self._http.call("GET", "/services")
        return _parse(lambda d: [_service(x) for x in d["services"]], data)

    async def free_slots(
        self,
        service: str,
        date_from: dt.date,
        date_to: dt.date,
        *,
        staff_id: int | None = None,
        now: dt.datetime | None = None,
    ) -> list[SlotView]:
        """Free slots on ``date_from``..``date_to``."""
        params = {"from": date_from.isoformat(), "to": date_to.isoformat()}
        data = await self._http.call(
            "GET", f"/services/{_segment(service)}/slots", params=_more(params, staff_id, now)
        )
        return _parse(lambda d: [_slot(x) for x in d["slots"]], data)

    async def nearest(
        self,
        service: str,
        after: dt.datetime,
        *,
        limit: int = 3,
        staff_id: int | None = None,
        now: dt.datetime | None = None,
    ) -> list[SlotView]:
        """The ``limit`` nearest free slots at or after ``after``."""
        params = {"after": after.isoformat(), "limit": str(limit)}
        data = await self._http.call(
            "GET", f"/services/{_segment(service)}/nearest", params=_more(params, staff_id, now)
        )
        return _parse(lambda d: [_slot(x) for x in d["slots"]], data)

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
        """Book; raises `SlotTaken` on 409."""
        body = {
            "service": service,
            "starts_at": starts_at.isoformat(),
            "staff_id": staff_id,
            "customer_id": customer_id,
            "name": name,
            "phone": phone,
        }
        return _parse(_booking, await self._http.call("POST", "/bookings", body=body))

    async def cancel(self, reference: str) -> BookingView:
        """Cancel; raises `BookingNotFound` on 404."""
        data = await self._http.call("POST", f"/bookings/{_segment(reference)}/cancel")
        return _parse(_booking, data)

    async def reschedule(self, reference: str, starts_at: dt.datetime) -> BookingView:
        """Move a booking; raises `SlotTaken` on 409 (the old time is kept)."""
        data = await self._http.call(
            "POST",
            f"/bookings/{_segment(reference)}/reschedule",
            body={"starts_at": starts_at.isoformat()},
        )
        return _parse(_booking, data)

    async def get(self, reference: str) -> BookingView | None:
        """The booking, or None (404)."""
        data = await self._http.call("GET", f"/bookings/{_segment(reference)}", none_on_404=True)
        return None if data is None else _parse(_booking, data)

    async def upcoming_for_customer(
        self, customer_id: int, *, now: dt.datetime | None = None
    ) -> list[BookingView]:
        """The customer's upcoming confirmed bookings."""
        params = {"customer_id": str(customer_id), "after": (now or utcnow()).isoformat()}
        data = await self._http.call("GET", "/bookings", params=params)
        return _parse(lambda d: [_booking(x) for x in d["bookings"]], data)


def _segment(value: str) -> str:
    return quote(value.strip(), safe="")


def _more(params: dict[str, str], staff_id: int | None, now: dt.datetime | None) -> dict[str, str]:
    if staff_id is not None:
        params["staff_id"] = str(staff_id)
    if now is not None:
        params["now"] = now.isoformat()
    return params


def _parse(build: Callable[[Any], T], data: Any) -> T:
    """Run a parser over an answer; a malformed answer means the system is not usable."""
    try:
        return build(data)
    except (KeyError, TypeError, ValueError, InvalidOperation) as e:
        raise BusinessSystemUnavailable(f"malformed answer from the business system: {e!r}") from e


def _time(value: Any) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError(f"datetime without an offset: {value!r}")
    return parsed.astimezone(dt.UTC)


def _service(d: dict[str, Any]) -> ServiceView:
    return ServiceView(
        code=str(d["code"]),
        name_uk=str(d["name_uk"]),
        name_en=str(d["name_en"]),
        duration_minutes=int(d["duration_minutes"]),
        price=Decimal(str(d["price"])),
    )


def _slot(d: dict[str, Any]) -> SlotView:
    name, _ = _names(d["staff_name"])
    return SlotView(int(d["staff_id"]), name, _time(d["starts_at"]), _time(d["ends_at"]))


def _names(value: Any) -> tuple[str, dict[str, str]]:
    """A name given as a string, or per language (``{"uk": ..., "en": ...}``): the one name
    (English, else any) and the names per language."""
    if not isinstance(value, dict):
        return str(value), {}
    names = {str(k): str(v) for k, v in value.items() if v}
    return names.get("en") or next(iter(names.values()), ""), names


def _booking(d: dict[str, Any]) -> BookingView:
    staff_name, staff_names = _names(d["staff_name"])
    return BookingView(
        reference=str(d["reference"]),
        service_code=str(d["service_code"]),
        service_name_uk=str(d["service_name_uk"]),
        service_name_en=str(d["service_name_en"]),
        staff_id=int(d["staff_id"]),
        staff_name=staff_name,
        staff_names=staff_names,
        starts_at=_time(d["starts_at"]),
        ends_at=_time(d["ends_at"]),
        status=str(d["status"]),
        customer_id=None if d.get("customer_id") is None else int(d["customer_id"]),
        name=d.get("name"),
        phone=d.get("phone"),
    )


def _order(d: dict[str, Any]) -> OrderView:
    return OrderView(
        number=str(d["number"]),
        status=str(d["status"]),
        items=list(d.get("items") or []),
        eta=None if d.get("eta") is None else _time(d["eta"]),
        tracking_number=d.get("tracking_number"),
        status_history=list(d.get("status_history") or []),
        total=None if d.get("total") is None else Decimal(str(d["total"])),
    )
