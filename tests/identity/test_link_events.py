"""Links made by a platform event rather than a message (a Viber `conversation_started` with
`context`, an Instagram referral with `ref`): the task the link offer interrupted goes on; and a
used code opened by another chat is "used", not "already linked". Both backends."""

from __future__ import annotations

import datetime as dt
import uuid

from bots.identity.service import LINKING_FLOW, SUSPENDED, IdentityService
from bots.messages import ChannelEvent, EventKind, now_utc
from storage.repositories.customers import CustomerRepository
from storage.repositories.identity import IdentityRepository
from storage.sessions import Session
from tests.identity.conftest import Stack

BOOKING = {
    "flow": "booking",
    "step": "time",
    "slots": {"service": "cleaning", "date": "2026-03-11"},
}


async def customer(stack: Stack, channel: str) -> int:
    async with stack.db.transaction() as s:
        found, _ = await CustomerRepository(s).resolve_identity(
            channel, f"{channel}-{uuid.uuid4().hex[:10]}", now=now_utc()
        )
        return found.id


async def deep_link_code(stack: Stack, customer_id: int) -> str:
    async with stack.db.transaction() as s:
        return await IdentityRepository(s).issue_code(
            "deep_link", customer_id, now=now_utc(), ttl=dt.timedelta(minutes=30)
        )


def opened(channel: str, user_id: str, code: str) -> ChannelEvent:
    return ChannelEvent(
        channel=channel,
        user_id=user_id,
        kind=EventKind.CONVERSATION_STARTED,
        event_id=uuid.uuid4().hex,
        timestamp=now_utc(),
        detail=code,
        raw={"user": {"id": user_id, "name": "Olena"}},
    )


async def offered_link_during_booking(service: IdentityService, customer_id: int) -> None:
    """The session as the linking flow leaves it: asking for a phone, the booking suspended."""
    session = await service.backends.sessions.get(customer_id)
    session.flow, session.step, session.slots = LINKING_FLOW, "ask_phone", {}
    session.data[SUSPENDED] = BOOKING
    await service.backends.sessions.save(session)


async def test_a_link_by_event_resumes_the_interrupted_booking(stack: Stack) -> None:
    owner = await customer(stack, "telegram")
    await offered_link_during_booking(stack.identity, owner)
    code = await deep_link_code(stack, owner)
    viber_user = uuid.uuid4().hex[:16] + "+/A=="
    result = await stack.identity.link_event(opened("viber", viber_user, code), now_utc())
    assert (result.status, result.customer_id) == ("linked", owner)
    session = await stack.backends.sessions.get(owner)
    assert (session.flow, session.step, session.slots) == (
        "booking",
        "time",
        BOOKING["slots"],
    )
    assert SUSPENDED not in session.data


async def test_a_link_by_event_merging_a_known_chat_keeps_the_interrupted_booking(
    stack: Stack,
) -> None:
    owner = await customer(stack, "telegram")
    await offered_link_during_booking(stack.identity, owner)
    other = await customer(stack, "instagram")  # a chat that wrote before: a newer session
    newer = Session(other)
    newer.data["note"] = "fresh"
    await stack.backends.sessions.save(newer)
    async with stack.db.session() as s:
        identity = (await IdentityRepository(s).profile(other)).identities[0]
    code = await deep_link_code(stack, owner)
    event = opened("instagram", identity.external_id, code)
    result = await stack.identity.link_event(event, now_utc())
    assert (result.status, result.customer_id) == ("linked", owner)
    session = await stack.backends.sessions.get(owner)
    assert (session.flow, session.step) == ("booking", "time")


async def test_a_used_code_opened_by_another_known_chat_is_used_not_already(stack: Stack) -> None:
    owner = await customer(stack, "instagram")
    code = await deep_link_code(stack, owner)
    first = f"{uuid.uuid4().int % 10**9}"
    now = now_utc()
    linked = await stack.identity.link_by_code("telegram", first, code, now)
    assert linked.status == "linked"
    # the same message delivered again: nothing to do, and said so
    again = await stack.identity.link_by_code("telegram", first, code, now)
    assert (again.status, again.customer_id) == ("already", owner)
    # another chat with a profile of its own opens the used link: refused, nothing linked
    stranger = await customer(stack, "telegram")
    async with stack.db.session() as s:
        chat = (await IdentityRepository(s).profile(stranger)).identities[0].external_id
    refused = await stack.identity.link_by_code("telegram", chat, code, now)
    assert refused.status == "used"
    async with stack.db.session() as s:
        still = await CustomerRepository(s).find_by_identity("telegram", chat)
    assert still is not None and still.id == stranger
