"""Which platform a proactive message goes out on, through the real outbox and the fakes."""

from __future__ import annotations

import datetime as dt

from tests.fakes import wait_until
from tests.proactive.rig import Rig, backend_url, fakes, make_rig, new_chat, rig, telegram_texts

__all__ = ["backend_url", "fakes", "make_rig", "rig"]  # fixtures used by the tests below

H = dt.timedelta(hours=1)
SHIPPED = {"order": "A7", "tracking": "TTN 59"}


async def test_a_customer_who_blocked_telegram_gets_it_on_viber(rig: Rig) -> None:
    chat = new_chat()
    customer = await rig.customer(
        telegram=chat, viber="vUser+1==", last_channel="telegram", unreachable=("telegram",)
    )
    await rig.trigger("order_shipped", customer, variables=SHIPPED)
    (decision,) = await rig.decided(1, customer)
    assert (decision.decision, decision.channel) == ("sent", "viber")
    assert "telegram: the customer blocked the bot" in decision.reason
    (sent,) = await rig.fakes.viber.wait_for("send_message")
    assert sent.body["receiver"] == "vUser+1==" and "A7" in sent.body["text"]
    assert telegram_texts(rig.fakes.telegram, chat) == []


async def test_a_telegram_block_found_while_sending_moves_the_next_message_to_viber(
    rig: Rig,
) -> None:
    chat = new_chat()
    customer = await rig.customer(telegram=chat, viber="vUser+2==", last_channel="telegram")
    rig.fakes.telegram.fail_next(
        "sendMessage", status=403, description="Forbidden: bot was blocked by the user"
    )
    await rig.trigger("order_shipped", customer, variables=SHIPPED)
    await rig.decided(1, customer)

    async def undeliverable() -> bool:
        return [r.status for r in await rig.outbound(customer)] == ["undeliverable"]

    await wait_until(undeliverable, timeout=10, what="the blocked send settled")
    await rig.trigger("order_delayed", customer, variables={"order": "A7", "eta": "24.12"})
    rows = await rig.decided(2, customer)
    assert [(r.decision, r.channel) for r in rows] == [("sent", "telegram"), ("sent", "viber")]
    await rig.fakes.viber.wait_for("send_message")


async def test_instagram_only_inside_its_24_hour_window(rig: Rig) -> None:
    fresh = await rig.customer(instagram="ig-fresh", last_inbound=rig.clock() - 3 * H)
    stale = await rig.customer(instagram="ig-stale", last_inbound=rig.clock() - 30 * H)
    await rig.trigger("order_shipped", fresh, variables=SHIPPED)
    await rig.trigger("order_shipped", stale, variables=SHIPPED)
    await rig.decided(2)
    (sent,) = await rig.decisions(fresh)
    assert (sent.decision, sent.channel) == ("sent", "instagram")
    (refused,) = await rig.decisions(stale)
    assert refused.decision == "unreachable"
    assert refused.reason == (
        "instagram: outside Instagram's 24-hour window since the customer's last message"
    )
    calls = await rig.fakes.instagram.wait_for(1)
    assert [c.body["recipient"]["id"] for c in calls] == ["ig-fresh"]
    (job,) = await rig.jobs(stale)
    assert (job.status, job.decision) == ("done", "unreachable")
