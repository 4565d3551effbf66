"""Erasing a customer with data in every store, through the real admin API, on SQLite + memory
and PostgreSQL + Redis: afterwards no table, key or value holds their phone, name, chat ids or
message texts, the analytics rollups and summary are what they were, the future booking is
cancelled with its slots freed, the help desk got a signed ``customer.erased``, and the receipt
counts what each store lost."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bots.config import Settings
from bots.keys import BACKENDS
from storage.analytics.models import AnalyticsRollup
from storage.analytics.rollups import roll_up
from storage.audit import AuditEntry
from storage.db import Database
from storage.models import Booking, BookingSlot
from tests.fakes import wait_until
from tests.fakes.telegram import FakeTelegram
from tests.handoff import conftest as handoff_suite
from tests.handoff.conftest import Api
from tests.privacy.erasure_harness import Person, key_hits, populate, running, table_hits

handoff_settings, make_settings = handoff_suite.handoff_settings, handoff_suite.make_settings
fake_telegram, mode, pg_e2e_url = (
    handoff_suite.fake_telegram,
    handoff_suite.mode,
    handoff_suite.pg_e2e_url,
)
database_url_for = handoff_suite.database_url_for

HOOK_SECRET = "erasure-hook-secret"


@pytest.fixture
async def help_desk() -> AsyncIterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A loopback help desk that records every webhook POST (headers and body)."""
    got: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        got.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = TestServer(app)
    await server.start_server()
    try:
        yield str(server.make_url("/hook")), got
    finally:
        await server.close()


@pytest.fixture
async def shop(
    handoff_settings: Callable[..., Settings],
    help_desk: tuple[str, list[Any]],
) -> AsyncIterator[Api]:
    settings = handoff_settings(
        handoff_webhook_url=help_desk[0], handoff_webhook_secret=HOOK_SECRET
    )
    async with running(settings) as api:
        yield api


async def _rollups(db: Database) -> list[tuple[Any, ...]]:
    await roll_up(db)
    async with db.session() as s:
        rows = await s.scalars(select(AnalyticsRollup).order_by(AnalyticsRollup.id))
        return [
            (r.view, r.period, r.kind, r.channel, r.intent, r.reason, r.count, r.value_milli)
            for r in rows
        ]


async def _summary(api: Api) -> dict[str, Any]:
    """The metrics summary without what reads the phrases themselves (the top fallback
    phrases and the review queue's length: those are the customer's words)."""
    doc = dict(await api.ok("GET", "/api/metrics/summary"))
    doc.pop("top_fallbacks")
    doc["nlu"] = {k: v for k, v in doc["nlu"].items() if k != "review_queue"}
    return doc


async def _everywhere(api: Api, db: Database, person: Person) -> list[str]:
    needles = person.needles + person.texts
    hits = await table_hits(db, needles) + await key_hits(api.client.app[BACKENDS], needles)
    review = api.settings.nlu_review_log
    assert review is not None
    if review.exists():
        text = review.read_text(encoding="utf-8").lower()
        hits += [f"review log: {n}" for n in needles if n.lower() in text]
    return hits


async def test_a_customer_in_every_store_is_erased_everywhere(
    shop: Api, fake_telegram: FakeTelegram, help_desk: tuple[str, list[Any]]
) -> None:
    person = await populate(shop, fake_telegram)
    db = Database(shop.settings.database_url)
    try:
        before = await _everywhere(shop, db, person)
        for place in ("messages.text", "customers.display_name", "review log", "bookings.phone"):
            assert any(hit.startswith(place) for hit in before), (place, before)
        backends = shop.client.app[BACKENDS]
        assert (await backends.sessions.get(person.customer_id)).version > 0
        if backends.redis is not None:  # the per-sender key names the chat
            assert any(str(person.chat) in hit for hit in before), before
        rollups, summary = await _rollups(db), await _summary(shop)

        started = await shop.ok("POST", f"/api/customers/{person.customer_id}/erase")
        assert started["state"] in ("pending", "running", "done")
        job = await wait_until(lambda: _done(shop, started["id"]), timeout=30, what="erasure done")

        assert await _everywhere(shop, db, person) == []
        for customer_id in (person.customer_id, person.rest_customer_id):
            assert (await backends.sessions.get(customer_id)).version == 0
        assert await _rollups(db) == rollups
        assert await _summary(shop) == summary
        receipt = job["receipt"]
        assert receipt["review_log"] >= 1 and receipt["keys"] >= 2
        assert receipt["transcript"] >= 10 and receipt["tickets"] == 1
        assert receipt["bookings"] == 2 and receipt["orders"] == 1
        assert receipt["proactive"] >= 1 and receipt["profile"] == 2  # and the merged one
        assert receipt["inbox"] >= 5 and receipt["analytics"] >= 1 and receipt["webhook"] == 1
        await _bookings_after(db, person)
        _signed_event(help_desk[1], person, job)
        _not_on_disk(shop.settings.database_url, person)
        async with db.session() as s:
            audited = await s.scalars(
                select(AuditEntry).where(AuditEntry.action == "customer.erased")
            )
            assert [a.target_id for a in audited] == [str(person.customer_id)]
    finally:
        await db.dispose()
    again = await shop.ok("GET", f"/api/erasures/{started['id']}")
    assert again == job  # the receipt stays


def _not_on_disk(url: str, person: Person) -> None:
    """SQLite: not in the database file's bytes either (zeroed, not left in free space), nor in
    its write-ahead log (emptied once the erasure is done)."""
    if not url.startswith("sqlite"):
        return
    path = Path(url.split("///", 1)[1])
    raw = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    found = [n for n in [*person.needles[:3], *person.texts] if n.encode() in raw]
    assert found == [], found


async def _done(api: Api, job_id: int) -> dict[str, Any] | None:
    job = await api.ok("GET", f"/api/erasures/{job_id}")
    assert job["state"] != "failed", job["error"]
    return job if job["state"] == "done" else None


async def _bookings_after(db: Database, person: Person) -> None:
    """The rule in the README: the future booking is cancelled and its slots are free; the
    past one stays as anonymous history."""
    async with db.session() as s:
        rows = {
            b.reference: b
            for b in await s.scalars(
                select(Booking).where(Booking.customer_id == person.customer_id)
            )
        }
        slots = list(
            await s.scalars(
                select(BookingSlot.booking_id).where(
                    BookingSlot.booking_id.in_([b.id for b in rows.values()])
                )
            )
        )
    assert rows["ZPFUT1"].status == "cancelled" and rows["ZPPAST"].status == "confirmed"
    assert rows["ZPFUT1"].id not in slots and rows["ZPPAST"].id in slots


def _signed_event(
    got: list[tuple[dict[str, str], bytes]], person: Person, job: dict[str, Any]
) -> None:
    [(headers, body)] = [(h, b) for h, b in got if h.get("X-Omnirelay-Event") == "customer.erased"]
    stamp = headers["X-Omnirelay-Timestamp"]
    mac = hmac.new(HOOK_SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    assert hmac.compare_digest(headers["X-Omnirelay-Signature"], "sha256=" + mac.hexdigest())
    event = json.loads(body)
    assert event["customer_id"] == person.customer_id
    assert event["data"]["erasure_id"] == job["id"]
    assert event["data"]["receipt"]["transcript"] == job["receipt"]["transcript"]
