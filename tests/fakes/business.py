"""A loopback imitation of a business's own booking and shop system.

`FakeBusiness` serves the JSON contract documented in `bots.flows.http_backends` on 127.0.0.1,
from memory: services, staff, a fixed list of bookable start times per service, bookings and
orders. Overlapping bookings of one staff member are refused with 409 ``slot_taken``, like a
real system would. ``mode`` switches failure behaviour for every request: ``"ok"``, ``"error"``
(HTTP 500), ``"garbage"`` (200 with a body that is not JSON), ``"hang"`` (never answers until
the server closes, to exercise client timeouts). ``calls`` records ``(method, path_qs, body)``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

KYIV_SUMMER = dt.timezone(dt.timedelta(hours=3))


def _iso(at: dt.datetime) -> str:
    return at.isoformat()


def _time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value).astimezone(dt.UTC)


def default_services() -> list[dict[str, Any]]:
    return [
        {"code": "cleaning", "name_uk": "Чистка", "name_en": "Cleaning",
         "duration_minutes": 60, "price": "1200.00"},
        {"code": "consultation", "name_uk": "Консультація", "name_en": "Consultation",
         "duration_minutes": 30, "price": "450.00"},
    ]  # fmt: skip


@dataclass
class FakeBusiness:
    """The fake server; use as ``async with FakeBusiness() as biz: biz.base_url``."""

    token: str | None = None
    mode: str = "ok"
    services: list[dict[str, Any]] = field(default_factory=default_services)
    staff: dict[int, str] = field(default_factory=lambda: {1: "Olena", 2: "Taras"})
    # service code -> bookable start times (aware); every staff member may take each one
    times: dict[str, list[dt.datetime]] = field(default_factory=dict)
    bookings: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    base_url: str = ""
    _runner: web.AppRunner | None = None
    _closing: asyncio.Event = field(default_factory=asyncio.Event)
    _refs: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def __aenter__(self) -> FakeBusiness:
        app = web.Application(middlewares=[self._gate])
        r = app.router
        r.add_get("/api/services", self._services)
        r.add_get("/api/services/{code}/slots", self._slots)
        r.add_get("/api/services/{code}/nearest", self._nearest)
        r.add_post("/api/bookings", self._book)
        r.add_get("/api/bookings", self._bookings)
        r.add_get("/api/bookings/{ref}", self._booking)
        r.add_post("/api/bookings/{ref}/cancel", self._cancel)
        r.add_post("/api/bookings/{ref}/reschedule", self._reschedule)
        r.add_get("/api/orders", self._orders)
        r.add_get("/api/orders/{number}", self._order)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/api"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- plumbing ------------------------------------------------------------------------------

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.json() if request.can_read_body else None
        self.calls.append((request.method, request.path_qs, body))
        if self.token is not None:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                return _err(401, "unauthorized", "bad token")
        if self.mode == "error":
            return _err(500, "internal", "the database of the business is down")
        if self.mode == "garbage":
            return web.Response(text="<html>502 Bad Gateway</html>", content_type="text/html")
        if self.mode == "hang":
            await self._closing.wait()
            return _err(503, "closing", "closing")
        response: web.StreamResponse = await handler(request)
        return response

    def _service(self, code: str) -> dict[str, Any] | None:
        return next((s for s in self.services if s["code"] == code), None)

    def _busy(self, staff_id: int, start: dt.datetime, end: dt.datetime, skip: str = "") -> bool:
        return any(
            b["staff_id"] == staff_id
            and b["status"] == "confirmed"
            and b["reference"] != skip
            and _time(b["starts_at"]) < end
            and start < _time(b["ends_at"])
            for b in self.bookings.values()
        )

    def _free(self, code: str, request: web.Request) -> list[dict[str, Any]] | None:
        service = self._service(code)
        if service is None:
            return None
        now = _time(request.query.get("now") or dt.datetime.now(dt.UTC).isoformat())
        length = dt.timedelta(minutes=int(service["duration_minutes"]))
        wanted = request.query.get("staff_id")
        return [
            {"staff_id": sid, "staff_name": name, "starts_at": _iso(at),
             "ends_at": _iso(at + length)}
            for at in sorted(self.times.get(code, []))
            for sid, name in self.staff.items()
            if at >= now and (wanted is None or int(wanted) == sid)
            and not self._busy(sid, at, at + length)
        ]  # fmt: skip

    # ---- the contract --------------------------------------------------------------------------

    async def _services(self, request: web.Request) -> web.Response:
        return web.json_response({"services": self.services})

    async def _slots(self, request: web.Request) -> web.Response:
        lo = dt.date.fromisoformat(request.query["from"])
        hi = dt.date.fromisoformat(request.query["to"])
        slots = self._free(request.match_info["code"], request)
        if slots is None:
            return _err(404, "unknown_service", request.match_info["code"])
        chosen = [s for s in slots if lo <= _time(s["starts_at"]).date() <= hi]
        return web.json_response({"slots": chosen})

    async def _nearest(self, request: web.Request) -> web.Response:
        after = _time(request.query["after"])
        limit = int(request.query.get("limit", "3"))
        free = self._free(request.match_info["code"], request)
        if free is None:
            return _err(404, "unknown_service", request.match_info["code"])
        slots, seen = [], set()
        for slot in free:
            if _time(slot["starts_at"]) >= after and slot["starts_at"] not in seen:
                seen.add(slot["starts_at"])
                slots.append(slot)
        return web.json_response({"slots": slots[:limit]})

    async def _book(self, request: web.Request) -> web.Response:
        body = await request.json()
        service = self._service(body["service"])
        if service is None:
            return _err(404, "unknown_service", body["service"])
        at = _time(body["starts_at"])
        if at not in self.times.get(service["code"], []):
            return _err(422, "invalid_slot", "not a bookable time")
        end = at + dt.timedelta(minutes=int(service["duration_minutes"]))
        candidates = [body["staff_id"]] if body.get("staff_id") else list(self.staff)
        free = [sid for sid in candidates if not self._busy(sid, at, end)]
        if not free:
            return _err(409, "slot_taken", "that time is taken")
        ref = f"EXT-{next(self._refs):04d}"
        self.bookings[ref] = {
            "reference": ref, "service_code": service["code"],
            "service_name_uk": service["name_uk"], "service_name_en": service["name_en"],
            "staff_id": free[0], "staff_name": self.staff[free[0]],
            "starts_at": _iso(at.astimezone(KYIV_SUMMER)), "ends_at": _iso(end),
            "status": "confirmed", "customer_id": body.get("customer_id"),
            "name": body.get("name"), "phone": body.get("phone"),
        }  # fmt: skip
        return web.json_response(self.bookings[ref], status=201)

    async def _bookings(self, request: web.Request) -> web.Response:
        customer = int(request.query["customer_id"])
        after = _time(request.query["after"])
        mine = [
            b for b in self.bookings.values()
            if b["customer_id"] == customer and b["status"] == "confirmed"
            and _time(b["starts_at"]) >= after
        ]  # fmt: skip
        return web.json_response({"bookings": sorted(mine, key=lambda b: _time(b["starts_at"]))})

    async def _booking(self, request: web.Request) -> web.Response:
        booking = self.bookings.get(request.match_info["ref"])
        return web.json_response(booking) if booking else _err(404, "not_found", "no booking")

    async def _cancel(self, request: web.Request) -> web.Response:
        booking = self.bookings.get(request.match_info["ref"])
        if booking is None:
            return _err(404, "not_found", "no booking")
        booking["status"] = "cancelled"
        return web.json_response(booking)

    async def _reschedule(self, request: web.Request) -> web.Response:
        booking = self.bookings.get(request.match_info["ref"])
        if booking is None:
            return _err(404, "not_found", "no booking")
        if booking["status"] != "confirmed":
            return _err(409, "booking_cancelled", "the booking is cancelled")
        at = _time((await request.json())["starts_at"])
        length = _time(booking["ends_at"]) - _time(booking["starts_at"])
        if self._busy(booking["staff_id"], at, at + length, skip=booking["reference"]):
            return _err(409, "slot_taken", "that time is taken")
        booking["starts_at"], booking["ends_at"] = _iso(at), _iso(at + length)
        return web.json_response(booking)

    async def _orders(self, request: web.Request) -> web.Response:
        customer = int(request.query["customer_id"])
        mine = [o for o in self.orders.values() if o.get("customer_id") == customer]
        return web.json_response({"orders": mine})

    async def _order(self, request: web.Request) -> web.Response:
        order = self.orders.get(request.match_info["number"].upper())
        return web.json_response(order) if order else _err(404, "not_found", "no order")


def _err(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)
