"""Several schedulers (standing for worker processes: an engine, an outbox and an owner each) on
one database: disjoint claims, each message sent once, and frequency caps that hold when
twenty messages for one customer are due at once."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from typing import Any

from bots.proactive import set_consent
from tests.fakes import wait_until
from tests.proactive.rig import Rig, backend_url, fakes, make_rig, new_chat, rig, telegram_texts

__all__ = ["backend_url", "fakes", "make_rig", "rig"]  # fixtures used by the tests below


async def _tick_all(rig: Rig, done: int) -> None:
    """Every node ticks side by side until ``done`` decisions are recorded."""

    async def decided() -> bool:
        await asyncio.gather(*(node.scheduler.tick() for node in rig.nodes))
        return len(await rig.decisions()) >= done

    await wait_until(decided, timeout=30, what=f"{done} decisions")


async def test_three_schedulers_claim_disjoint_jobs_and_send_each_once(rig: Rig) -> None:
    claims: dict[int, list[int]] = {}

    def recorder(node: int):  # type: ignore[no-untyped-def]
        async def after_claim(ids: list[int]) -> None:
            claims.setdefault(node, []).extend(ids)

        return after_claim

    rig.nodes[0].scheduler._after_claim = recorder(0)
    for i in (1, 2):
        await rig.node(lease=30.0, batch=7, after_claim=recorder(i))
    rig.nodes[0].scheduler.batch = 7
    chats = [new_chat() for _ in range(45)]
    for chat in chats:
        customer = await rig.customer(telegram=chat)
        await rig.trigger("order_shipped", customer, variables={"order": "A", "tracking": "T"})
    await _tick_all(rig, len(chats))
    await rig.fakes.telegram.wait_for(lambda: len(rig.fakes.telegram.sent_messages()) >= 45)

    claimed = [job for ids in claims.values() for job in ids]
    assert len(claimed) == len(set(claimed)) == 45  # nobody claimed a job another one had
    assert len(claims) >= 2  # the work was shared
    per_chat = Counter(str(m["chat_id"]) for m in rig.fakes.telegram.sent_messages())
    assert per_chat == Counter({str(c): 1 for c in chats})
    decisions = await rig.decisions()
    assert Counter(d.job_id for d in decisions) == Counter({j: 1 for j in claimed})
    assert {d.decision for d in decisions} == {"sent"}


async def test_caps_hold_when_twenty_messages_for_one_customer_are_due_at_once(rig: Rig) -> None:
    for _ in (1, 2):
        await rig.node(batch=4)
    rig.nodes[0].scheduler.batch = 4
    chat = new_chat()
    customer = await rig.customer(telegram=chat)
    async with rig.db.transaction() as s:
        await set_consent(
            s,
            customer_id=customer,
            topic="marketing",
            granted=True,
            source="admin",
            text="offers: yes",
            at=rig.clock() - dt.timedelta(days=1),
        )
    anchor = rig.clock() - dt.timedelta(days=90)
    # twenty triggers at once, each in its own transaction (a burst of the business's events)
    inserted = await asyncio.gather(
        *(
            rig.trigger("reengagement", customer, occurrence=f"silence-{i}", anchor=anchor)
            for i in range(20)
        )
    )
    assert sum(inserted) == 20
    await _tick_all(rig, 20)

    decisions = await rig.decisions(customer)
    assert Counter(d.decision for d in decisions) == Counter({"sent": 2, "capped": 18})
    capped = {d.reason for d in decisions if d.decision == "capped"}
    assert capped == {"marketing cap reached: 2 of 2 per 1 d"}
    await rig.fakes.telegram.wait_for(lambda: len(telegram_texts(rig.fakes.telegram, chat)) == 2)
    # a day later the daily cap has room again, the weekly one (5) still counts these two
    rig.clock.advance(dt.timedelta(days=1, minutes=1))
    for i in range(5):
        await rig.trigger("reengagement", customer, occurrence=f"later-{i}", anchor=anchor)
    await _tick_all(rig, 25)
    later = (await rig.decisions(customer))[20:]
    assert Counter(d.decision for d in later) == Counter({"sent": 2, "capped": 3})


async def test_no_new_claims_while_the_outbox_is_full(make_rig: Any) -> None:
    rig: Rig = await make_rig(max_in_flight=3)
    tg = rig.fakes.telegram
    releases = [tg.hold_next("sendMessage") for _ in range(5)]  # a platform that hangs
    for _ in range(5):
        customer = await rig.customer(telegram=new_chat())
        await rig.trigger("order_shipped", customer, variables={"order": "A", "tracking": "T"})
    assert await rig.scheduler.tick() == 3
    await wait_until(lambda: tg.held["sendMessage"] == 3, what="three sends in flight")
    assert await rig.scheduler.tick() == 0  # nothing claimed while the outbox holds three
    for release in releases:
        release.set()
    await wait_until(lambda: rig.nodes[0].outbox.in_flight == 0, what="the outbox drained")
    assert await rig.scheduler.tick() == 2
    await tg.wait_for(lambda: len(tg.sent_messages()) == 5)
