"""Undoing a merge gives the absorbed profile its session back, but its unfinished task only
while that task is still unfinished: taken over by the survivor and completed (or dropped)
during the merge, it must not come back. Both backends; the end-to-end case is the
cross-channel script merge_and_undo_en."""

from __future__ import annotations

import uuid

from bots.identity.service import SUSPENDED
from bots.messages import now_utc
from storage.repositories.customers import CustomerRepository
from storage.sessions import Session
from tests.identity.conftest import Stack

BOOKING = {"service": "facial", "date": "2026-03-14"}


async def profile(stack: Stack, flow: str | None = None, language: str = "uk") -> int:
    """A customer whose session is in ``flow`` (at step "time") or idle."""
    async with stack.db.transaction() as s:
        found, _ = await CustomerRepository(s).resolve_identity(
            "viber", uuid.uuid4().hex, now=now_utc()
        )
    session = Session(found.id, language=language)
    if flow is not None:
        session.flow, session.step, session.slots = flow, "time", dict(BOOKING)
    await stack.backends.sessions.save(session)
    return found.id


async def merged(stack: Stack, survivor: int, absorbed: int) -> int:
    merge = await stack.identity.merge(
        survivor, absorbed, actor="test", reason="admin", now=now_utc()
    )
    return merge.id


async def finish_task(stack: Stack, customer_id: int) -> None:
    """What the dialogue does when the booking is confirmed: no flow, no slots."""
    session = await stack.backends.sessions.get(customer_id)
    session.flow, session.step, session.slots = None, None, {}
    await stack.backends.sessions.save(session)


async def test_a_task_completed_during_the_merge_is_not_given_back(stack: Stack) -> None:
    survivor, absorbed = await profile(stack), await profile(stack, "booking", language="en")
    merge_id = await merged(stack, survivor, absorbed)
    taken = await stack.backends.sessions.get(survivor)
    assert (taken.flow, taken.slots) == ("booking", BOOKING)  # the survivor took it over
    await finish_task(stack, survivor)
    await stack.identity.undo(merge_id, actor="admin", now=now_utc())
    back = await stack.backends.sessions.get(absorbed)
    assert (back.flow, back.step, back.slots) == (None, None, {})
    assert back.language == "en"  # the rest of the session is restored
    assert "merged_into" not in back.data


async def test_a_task_still_open_is_given_back(stack: Stack) -> None:
    survivor, absorbed = await profile(stack), await profile(stack, "booking")
    merge_id = await merged(stack, survivor, absorbed)
    # the survivor digressed into another flow: the booking waits, suspended
    session = await stack.backends.sessions.get(survivor)
    session.data[SUSPENDED] = {"flow": "booking", "step": "time", "slots": dict(BOOKING)}
    session.flow, session.step, session.slots = "order_status", "ask_number", {}
    await stack.backends.sessions.save(session)
    await stack.identity.undo(merge_id, actor="admin", now=now_utc())
    back = await stack.backends.sessions.get(absorbed)
    assert (back.flow, back.step, back.slots) == ("booking", "time", BOOKING)


async def test_a_task_the_survivor_did_not_take_is_given_back(stack: Stack) -> None:
    # the survivor was busy with a booking of its own, newer: the absorbed one waited in the
    # merge record
    absorbed = await profile(stack, "booking")
    survivor = await profile(stack, "booking")
    merge_id = await merged(stack, survivor, absorbed)
    await finish_task(stack, survivor)  # the survivor's own booking is done
    await stack.identity.undo(merge_id, actor="admin", now=now_utc())
    back = await stack.backends.sessions.get(absorbed)
    assert (back.flow, back.step, back.slots) == ("booking", "time", BOOKING)
