"""Phones, link codes, merges and their undo, reply routing: on SQLite+memory and
PostgreSQL+Redis."""

from __future__ import annotations

import datetime as dt

import pytest

from bots.messages import now_utc
from storage.models import Conversation, Message, Order
from storage.repositories.customers import CustomerRepository
from storage.repositories.identity import IdentityRepository, LinkCodeError, MergeRefused
from tests.identity.conftest import Stack

PHONE = "+380501112233"


async def new_customer(stack: Stack, channel: str, external_id: str) -> int:
    async with stack.db.transaction() as s:
        customer, _ = await CustomerRepository(s).resolve_identity(
            channel, external_id, now=now_utc()
        )
        return customer.id


async def test_verified_phone_owner_and_search(stack: Stack) -> None:
    now = now_utc()
    a = await new_customer(stack, "telegram", "1001")
    b = await new_customer(stack, "viber", "v1001")
    async with stack.db.transaction() as s:
        repo = IdentityRepository(s)
        await repo.add_phone(b, PHONE, verified=False, via=None, now=now)
        assert await repo.verified_owner(PHONE) is None  # typed numbers are not trusted
        await repo.add_phone(a, PHONE, verified=True, via="telegram", now=now)
    async with stack.db.session() as s:
        repo = IdentityRepository(s)
        owner = await repo.verified_owner(PHONE)
        assert owner is not None and owner.id == a and owner.phone == PHONE
        assert await repo.verified_owner(PHONE, exclude=a) is None
        assert {c.id for c in await repo.find_by_phone(PHONE)} == {a, b}


async def test_deep_link_code_single_use_and_expiry(stack: Stack) -> None:
    now = now_utc()
    a = await new_customer(stack, "instagram", "ig-1")
    async with stack.db.transaction() as s:
        repo = IdentityRepository(s)
        code = await repo.issue_code("deep_link", a, now=now, ttl=dt.timedelta(minutes=30))
        old = await repo.issue_code(
            "deep_link", a, now=now - dt.timedelta(hours=1), ttl=dt.timedelta(minutes=30)
        )
    assert len(code) == 10
    async with stack.db.transaction() as s:
        row = await IdentityRepository(s).redeem(
            code.lower(), kind="deep_link", by="telegram:1", now=now
        )
        assert row.customer_id == a and row.used_by == "telegram:1"
    for given, reason in ((code, "used"), (old, "expired"), ("NOSUCHCODE", "invalid")):
        async with stack.db.transaction() as s:
            with pytest.raises(LinkCodeError) as e:
                await IdentityRepository(s).redeem(given, kind="deep_link", by="x:1", now=now)
        assert e.value.reason == reason


async def test_phone_code_counts_only_for_its_requester(stack: Stack) -> None:
    now = now_utc()
    owner = await new_customer(stack, "telegram", "2001")
    requester = await new_customer(stack, "viber", "v2001")
    stranger = await new_customer(stack, "viber", "v2002")
    async with stack.db.transaction() as s:
        code = await IdentityRepository(s).issue_code(
            "phone", owner, now=now, ttl=dt.timedelta(minutes=10), requester_id=requester
        )
    assert code.isdigit() and len(code) == 6
    async with stack.db.transaction() as s:
        with pytest.raises(LinkCodeError):
            await IdentityRepository(s).redeem(
                code, kind="phone", by="viber:v2002", now=now, requester_id=stranger
            )
    async with stack.db.transaction() as s:
        row = await IdentityRepository(s).redeem(
            code, kind="phone", by="viber:v2001", now=now, requester_id=requester
        )
        assert row.customer_id == owner


async def test_failed_attempts_are_counted_in_a_window(stack: Stack) -> None:
    now = now_utc()
    async with stack.db.transaction() as s:
        repo = IdentityRepository(s)
        await repo.record_attempt("viber", "u", False, now - dt.timedelta(hours=1))
        for _ in range(3):
            await repo.record_attempt("viber", "u", False, now)
        await repo.record_attempt("viber", "u", True, now)
        await repo.record_attempt("viber", "other", False, now)
        assert await repo.failed_attempts("viber", "u", now - dt.timedelta(minutes=15)) == 3


async def test_merge_moves_everything_and_undo_moves_it_back(stack: Stack) -> None:
    now = now_utc()
    survivor = await new_customer(stack, "telegram", "3001")
    absorbed = await new_customer(stack, "viber", "v3001")
    async with stack.db.transaction() as s:
        repo = IdentityRepository(s)
        await repo.add_phone(absorbed, PHONE, verified=True, via="viber", now=now)
        conversation = Conversation(customer_id=absorbed, started_at=now)
        s.add(conversation)
        await s.flush()
        s.add(
            Message(
                customer_id=absorbed,
                conversation_id=conversation.id,
                channel="viber",
                external_user_id="v3001",
                direction="in",
                sender_kind="customer",
                text="hello from viber",
                status="received",
                created_at=now,
            )
        )
        s.add(Order(number="Z3001", customer_id=absorbed, phone=PHONE, items=[]))
    async with stack.db.transaction() as s:
        record = await IdentityRepository(s).merge(
            survivor, absorbed, actor="test", reason="admin", now=now
        )
        merge_id = record.id
        assert set(record.moved) >= {
            "channel_identities.customer_id",
            "messages.customer_id",
            "conversations.customer_id",
            "orders.customer_id",
            "customer_phones.customer_id",
        }
    async with stack.db.session() as s:
        repo = IdentityRepository(s)
        profile = await repo.profile(survivor)
        assert {i.channel for i in profile.identities} == {"telegram", "viber"}
        assert profile.customer.phone == PHONE
        assert [e.text for e in await repo.timeline(survivor)] == ["hello from viber"]
        assert (await repo.profile(absorbed)).customer.merged_into_id == survivor
        assert await repo.verified_owner(PHONE) is not None
    async with stack.db.transaction() as s:
        with pytest.raises(MergeRefused):  # merged-away profiles cannot take part again
            await IdentityRepository(s).merge(absorbed, survivor, actor="t", reason="t", now=now)
    async with stack.db.transaction() as s:
        await IdentityRepository(s).undo(merge_id, actor="admin", now=now)
    async with stack.db.session() as s:
        repo = IdentityRepository(s)
        back = await repo.profile(absorbed)
        assert [i.channel for i in back.identities] == ["viber"]
        assert back.customer.merged_into_id is None
        assert [p.phone for p in back.phones] == [PHONE]
        mine = await repo.profile(survivor)
        assert [i.channel for i in mine.identities] == ["telegram"]
        assert mine.customer.phone is None and mine.phones == []
        assert await repo.timeline(survivor) == []
    async with stack.db.transaction() as s:
        with pytest.raises(MergeRefused):
            await IdentityRepository(s).undo(merge_id, actor="admin", now=now)


async def test_reply_target_is_the_last_channel_that_can_receive(stack: Stack) -> None:
    now = now_utc()
    customer = await new_customer(stack, "telegram", "4001")
    async with stack.db.transaction() as s:
        repo = IdentityRepository(s)
        for channel, external, ago in (("viber", "v4001", 5), ("instagram", "ig4001", 1)):
            await repo.attach_identity(customer, channel, external, display_name=None, now=now)
            await CustomerRepository(s).touch(
                customer, channel, now - dt.timedelta(minutes=ago), external_id=external
            )
        await CustomerRepository(s).touch(
            customer, "telegram", now - dt.timedelta(minutes=10), external_id="4001"
        )
    async with stack.db.session() as s:
        target = await IdentityRepository(s).reply_target(customer, now=now)
        assert target is not None and target.channel == "instagram"
        # a day later Instagram's 24 h window is closed for the bot, open for an agent
        later = now + dt.timedelta(hours=30)
        bot = await IdentityRepository(s).reply_target(customer, now=later, purpose="bot")
        agent = await IdentityRepository(s).reply_target(customer, now=later, purpose="agent")
        assert bot is not None and bot.channel == "viber"
        assert agent is not None and agent.channel == "instagram"
    async with stack.db.transaction() as s:
        await CustomerRepository(s).set_reachable("viber", "v4001", False)  # unsubscribed
    async with stack.db.session() as s:
        target = await IdentityRepository(s).reply_target(
            customer, now=now + dt.timedelta(hours=30), purpose="bot"
        )
        assert target is not None and (target.channel, target.external_id) == ("telegram", "4001")
