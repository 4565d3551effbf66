"""Transcript and outbox (MessageRepository), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from storage.db import Database
from storage.models import Message
from storage.repositories import ConversationRepository, CustomerRepository, MessageRepository

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


async def _customer(db: Database, external_id: str = "u1") -> tuple[int, int]:
    async with db.transaction() as s:
        customer, _ = await CustomerRepository(s).resolve_identity("telegram", external_id, now=NOW)
        conversation = await ConversationRepository(s).current_or_new(customer.id, NOW)
        return customer.id, conversation.id


async def _inbound(
    db: Database, customer_id: int, pmid: str, at: dt.datetime = NOW
) -> Message | None:
    async with db.transaction() as s:
        return await MessageRepository(s).add_inbound(
            customer_id=customer_id,
            conversation_id=None,
            channel="telegram",
            external_user_id="u1",
            platform_message_id=pmid,
            text=f"text {pmid}",
            now=at,
        )


async def _outbound(
    db: Database, customer_id: int, n: int, reply_to: int | None = None
) -> list[int]:
    ids = []
    async with db.transaction() as s:
        repo = MessageRepository(s)
        for i in range(n):
            msg = await repo.add_outbound(
                customer_id,
                None,
                "telegram",
                "u1",
                "bot",
                f"reply {i}",
                {"text": f"reply {i}"},
                reply_to,
                NOW,
            )
            ids.append(msg.id)
    return ids


async def test_add_inbound_is_idempotent(db: Database) -> None:
    customer_id, _ = await _customer(db)
    first = await _inbound(db, customer_id, "m-1")
    assert first is not None and first.status == "received" and first.direction == "in"
    assert await _inbound(db, customer_id, "m-1") is None
    async with db.session() as s:
        found = await MessageRepository(s).find_inbound("telegram", "m-1")
        assert found is not None and found.id == first.id
        assert await MessageRepository(s).find_inbound("viber", "m-1") is None


async def test_add_inbound_concurrently_stores_one_row(db: Database) -> None:
    customer_id, _ = await _customer(db)
    results = await asyncio.gather(*(_inbound(db, customer_id, "dup") for _ in range(5)))
    assert sum(r is not None for r in results) == 1


async def test_outbound_replies_and_statuses(db: Database) -> None:
    customer_id, _conversation_id = await _customer(db)
    inbound = await _inbound(db, customer_id, "m-2")
    assert inbound is not None
    first, second = await _outbound(db, customer_id, 2, reply_to=inbound.id)
    async with db.transaction() as s:
        repo = MessageRepository(s)
        replies = await repo.replies_to(inbound.id)
        assert [m.id for m in replies] == [first, second]
        assert replies[0].status == "pending" and replies[0].body == {"text": "reply 0"}
        await repo.mark_sent(first, "tg-500", NOW)
        await repo.schedule_retry(second, NOW + dt.timedelta(seconds=30), "429 too many requests")
    async with db.transaction() as s:
        repo = MessageRepository(s)
        assert await repo.set_delivery_status("telegram", "tg-500", "seen")
        assert not await repo.set_delivery_status("telegram", "tg-500", "delivered")  # no regress
        assert not await repo.set_delivery_status("telegram", "unknown", "seen")
        await repo.mark_failed(second, "undeliverable", "403 bot was blocked by the user")
        with pytest.raises(ValueError):
            await repo.mark_failed(second, "sent", "nope")
    async with db.session() as s:
        sent, failed = await MessageRepository(s).replies_to(inbound.id)
        assert (sent.status, sent.platform_message_id, sent.sent_at) == ("seen", "tg-500", NOW)
        assert failed.status == "undeliverable" and failed.error is not None
        assert failed.next_attempt_at is None


async def test_claim_due_outbound_leases_rows(db: Database) -> None:
    customer_id, _ = await _customer(db)
    ids = await _outbound(db, customer_id, 3)
    async with db.transaction() as s:
        claimed = await MessageRepository(s).claim_due_outbound(NOW, lease_seconds=60, limit=2)
        assert [m.id for m in claimed] == ids[:2]
        assert all(m.attempts == 1 for m in claimed)
        assert all(m.next_attempt_at == NOW + dt.timedelta(seconds=60) for m in claimed)
    async with db.transaction() as s:
        repo = MessageRepository(s)
        assert [m.id for m in await repo.claim_due_outbound(NOW, 60, 10)] == ids[2:]
        assert await repo.claim_due_outbound(NOW, 60, 10) == []
        # The lease ran out (sender crashed): the rows are due again.
        later = NOW + dt.timedelta(seconds=61)
        again = await repo.claim_due_outbound(later, 60, 10)
        assert [m.id for m in again] == ids
        assert all(m.attempts == 2 for m in again)
        await repo.mark_sent(ids[0], "x", later)
    async with db.transaction() as s:
        far = NOW + dt.timedelta(hours=1)
        assert [m.id for m in await MessageRepository(s).claim_due_outbound(far, 60, 10)] == ids[1:]


async def test_concurrent_claimers_never_share_a_row(db: Database) -> None:
    customer_id, _ = await _customer(db)
    ids = await _outbound(db, customer_id, 40)

    async def claimer() -> list[int]:
        got: list[int] = []
        while True:
            async with db.transaction() as s:
                batch = await MessageRepository(s).claim_due_outbound(NOW, 60, 3)
            if not batch:
                return got
            got.extend(m.id for m in batch)
            await asyncio.sleep(0)

    results = await asyncio.gather(*(claimer() for _ in range(4)))
    flat = [i for r in results for i in r]
    assert sorted(flat) == sorted(ids)  # every row once, none twice
    assert len(flat) == len(set(flat))


async def test_transcript_in_time_order(db: Database) -> None:
    customer_id, _ = await _customer(db)
    for i in range(5):
        await _inbound(db, customer_id, f"t-{i}", NOW + dt.timedelta(seconds=i))
    async with db.session() as s:
        repo = MessageRepository(s)
        full = await repo.transcript(customer_id)
        assert [m.platform_message_id for m in full] == [f"t-{i}" for i in range(5)]
        last = await repo.transcript(customer_id, limit=2)
        assert [m.platform_message_id for m in last] == ["t-3", "t-4"]
