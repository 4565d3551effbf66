"""An erasure reaches the web chat: the visitor's event log (what their page would show again
on a reload or another device) goes with the transcript, on both backends."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bots.channels.webchat_auth import identity_hash
from storage.db import Database
from storage.models import ChannelIdentity
from tests.fakes import wait_until
from tests.webchat.conftest import IDENTITY_SECRET, Service


async def _customer_id(service: Service, visitor: str) -> int:
    db = Database(service.settings.database_url)
    try:
        async with db.session() as s:
            found = await s.scalar(
                select(ChannelIdentity.customer_id).where(
                    ChannelIdentity.channel == "webchat", ChannelIdentity.external_id == visitor
                )
            )
    finally:
        await db.dispose()
    assert found is not None
    return int(found)


async def test_an_erased_visitors_page_shows_nothing_of_before(webchat: Service) -> None:
    signed = {"user_id": "cust-9", "user_hash": identity_hash(IDENTITY_SECRET, "cust-9")}
    visitor = webchat.visitor()
    await visitor.start(**signed)
    stream = await visitor.stream()
    await visitor.say("my name is Iryna Koval, where is my order A1001")
    await stream.wait_for(lambda ev: any(e["kind"] == "message" for e in ev))
    await stream.close()

    customer_id = await _customer_id(webchat, "u:cust-9")
    job = await webchat.api("POST", f"/api/customers/{customer_id}/erase")

    async def done() -> dict[str, Any] | None:
        state = await webchat.api("GET", f"/api/erasures/{job['id']}")
        assert state["state"] != "failed", state
        return state if state["state"] == "done" else None

    finished = await wait_until(done, timeout=30, what="the erasure done")
    assert finished["receipt"]["keys"] >= 1

    elsewhere = webchat.visitor()  # another device of the same signed-in customer
    await elsewhere.start(**signed)
    fresh = await elsewhere.stream()
    await elsewhere.say("hello")
    events = await fresh.wait_for(lambda ev: len(ev) >= 1)
    assert events[0]["data"]["text"] == "hello"  # nothing from before the erasure
    assert not any("Iryna" in str(e["data"]) for e in fresh.events)
    await fresh.close()
