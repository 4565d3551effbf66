"""Group commit of turns on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from storage.db import Database
from storage.errors import StorageError
from storage.models import Customer
from storage.repositories.messages import MessageRepository
from storage.turns import Reply, Turn, TurnWriter


async def _customer(db: Database) -> int:
    async with db.transaction() as s:
        c = Customer(display_name="T")
        s.add(c)
        await s.flush()
        return c.id


def _turn(customer_id: int, mid: str, replies: int = 1, **kw: object) -> Turn:
    now = dt.datetime.now(dt.UTC)
    return Turn(
        customer_id=customer_id,
        conversation_id=None,
        channel="telegram",
        external_user_id=f"u{customer_id}",
        platform_message_id=mid,
        text=f"text {mid}",
        payload=None,
        intent="greet",
        session_snapshot={"version": 1, "mid": mid},
        now=now,
        replies=[
            Reply("bot", f"reply {mid}.{i}", {"text": f"reply {mid}.{i}"}) for i in range(replies)
        ],
        **kw,  # type: ignore[arg-type]
    )


async def test_concurrent_turns_are_batched_and_each_gets_its_own_ids(db: Database) -> None:
    customer = await _customer(db)
    writer = TurnWriter(db)
    try:
        results = await asyncio.gather(
            *(writer.write(_turn(customer, f"m{i}", replies=i % 3)) for i in range(60))
        )
    finally:
        await writer.close()
    async with db.session() as s:
        repo = MessageRepository(s)
        for i, written in enumerate(results):
            assert written.inbound_id is not None
            row = await repo.find_inbound("telegram", f"m{i}")
            assert row is not None and row.id == written.inbound_id
            assert row.session_snapshot == {"version": 1, "mid": f"m{i}"}
            replies = await repo.replies_to(written.inbound_id)
            assert [r.id for r in replies] == list(written.reply_ids)
            assert [r.text for r in replies] == [f"reply m{i}.{k}" for k in range(i % 3)]
            assert all(r.status == "pending" for r in replies)


async def test_duplicates_in_and_across_batches_are_reported(db: Database) -> None:
    customer = await _customer(db)
    writer = TurnWriter(db)
    try:
        first = await writer.write(_turn(customer, "dup"))
        again, twin_a, twin_b = await asyncio.gather(
            writer.write(_turn(customer, "dup")),
            writer.write(_turn(customer, "twin")),
            writer.write(_turn(customer, "twin")),
        )
    finally:
        await writer.close()
    assert first.inbound_id is not None and len(first.reply_ids) == 1
    assert again.inbound_id is None and again.reply_ids == ()
    assert [twin_a.inbound_id is None, twin_b.inbound_id is None].count(True) == 1
    async with db.session() as s:
        dup = await MessageRepository(s).find_inbound("telegram", "dup")
        assert dup is not None
        assert len(await MessageRepository(s).replies_to(dup.id)) == 1  # no second reply


async def test_one_bad_turn_does_not_fail_the_batch(db: Database) -> None:
    customer = await _customer(db)
    writer = TurnWriter(db)
    try:
        results = await asyncio.gather(
            writer.write(_turn(customer, "good-1")),
            writer.write(_turn(999_999_999, "orphan")),  # no such customer: a foreign key error
            writer.write(_turn(customer, "good-2")),
            return_exceptions=True,
        )
    finally:
        await writer.close()
    assert isinstance(results[1], StorageError)
    assert all(not isinstance(r, BaseException) and r.inbound_id for r in (results[0], results[2]))


async def test_sent_replies_are_not_left_for_the_outbox(db: Database) -> None:
    customer = await _customer(db)
    writer = TurnWriter(db)
    turn = _turn(customer, "rest-1", replies=0)
    turn.replies = [Reply("bot", "hi", {"text": "hi"}, status="sent")]
    try:
        written = await writer.write(turn)
    finally:
        await writer.close()
    async with db.session() as s:
        (reply,) = await MessageRepository(s).replies_to(written.inbound_id or 0)
        assert reply.status == "sent" and reply.sent_at is not None
        assert reply.next_attempt_at is None


def test_reply_status_is_checked() -> None:
    with pytest.raises(ValueError, match="pending or sent"):
        from storage.turns import _reply_row

        _reply_row(_turn(1, "x"), Reply("bot", "t", None, status="failed"), 1)


async def test_outbound_platform_ids_may_repeat_across_chats(db: Database) -> None:
    """Telegram numbers messages per chat: two chats' replies can both be message 7."""
    customer = await _customer(db)
    writer = TurnWriter(db)
    try:
        first = await writer.write(_turn(customer, "in-1"))
        second = await writer.write(_turn(customer, "in-2"))
    finally:
        await writer.close()
    now = dt.datetime.now(dt.UTC)
    async with db.transaction() as s:
        repo = MessageRepository(s)
        await repo.mark_sent(first.reply_ids[0], "7", now)
        await repo.mark_sent(second.reply_ids[0], "7", now)
    async with db.session() as s:
        replies = await MessageRepository(s).replies_to(second.inbound_id or 0)
        assert replies[0].status == "sent" and replies[0].platform_message_id == "7"


async def test_many_single_turns_in_a_row(db: Database) -> None:
    """PostgreSQL re-plans a prepared statement generically after five runs; the ON CONFLICT
    target of the partial inbound index must still be inferred then (a bound `direction = $1`
    predicate was not, and every later single-turn write failed)."""
    customer = await _customer(db)
    writer = TurnWriter(db)
    try:
        results = [await writer.write(_turn(customer, f"seq-{i}")) for i in range(12)]
        again = await writer.write(_turn(customer, "seq-3"))
    finally:
        await writer.close()
    assert all(r.inbound_id is not None and len(r.reply_ids) == 1 for r in results)
    assert again.inbound_id is None


async def test_a_turn_learns_of_older_unsent_replies_to_its_chat(db: Database) -> None:
    """Replies a dead or stalled process left pending must go out before the new turn's."""
    customer = await _customer(db)
    writer = TurnWriter(db)
    try:
        first = await writer.write(_turn(customer, "old", replies=2))
        async with db.transaction() as s:  # the first reply was sent; the second never was
            await MessageRepository(s).mark_sent(first.reply_ids[0], "1", dt.datetime.now(dt.UTC))
        other = await writer.write(_turn(await _customer(db), "elsewhere", replies=1))
        new = await writer.write(_turn(customer, "new", replies=1))
    finally:
        await writer.close()
    assert [row_id for row_id, _ in new.earlier] == [first.reply_ids[1]]
    assert new.earlier[0][1] == {"text": "reply old.1"}
    assert other.earlier == ()
