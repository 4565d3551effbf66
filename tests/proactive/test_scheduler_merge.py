"""Two profiles of one person merged: their scheduled messages, decisions and consents follow
the survivor (a message both had is sent once), and undo gives back what moved."""

from __future__ import annotations

import datetime as dt

from bots.proactive import consents, set_consent
from storage.models import Customer
from storage.repositories.identity import IdentityRepository
from tests.proactive.rig import Rig, backend_url, fakes, make_rig, new_chat, rig, telegram_texts

__all__ = ["backend_url", "fakes", "make_rig", "rig"]  # fixtures used by the tests below

H = dt.timedelta(hours=1)


async def test_a_merge_moves_jobs_decisions_and_consents_and_undo_gives_them_back(
    rig: Rig,
) -> None:
    chat = new_chat()
    survivor = await rig.customer(telegram=chat)
    absorbed = await rig.customer(viber="vTwin+1==")
    visit = rig.clock() + 30 * H
    booking = {"booking": "BK-TWIN01", "service": "Checkup", "starts_at": visit.isoformat()}
    for customer in (survivor, absorbed):  # both profiles got the same booking's reminders
        await rig.trigger(
            "booking_reminder", customer, occurrence="BK-TWIN01", anchor=visit, variables=booking
        )
    await rig.trigger("cart_abandoned", absorbed, occurrence="cart-9")
    await rig.trigger("order_shipped", absorbed, variables={"order": "A1", "tracking": "T1"})
    await rig.decided(1, absorbed)  # sent on Viber before the merge
    async with rig.db.transaction() as s:
        for customer, granted, hours_ago in ((survivor, True, 5), (absorbed, False, 1)):
            await set_consent(
                s,
                customer_id=customer,
                topic="marketing",
                granted=granted,
                source="admin",
                text="test",
                at=rig.clock() - hours_ago * H,
            )

    async with rig.db.transaction() as s:
        record = await IdentityRepository(s).merge(
            survivor, absorbed, actor="test", reason="admin", now=rig.clock()
        )
        merge_id = record.id
    mine = await rig.jobs(survivor)
    assert sorted((j.scenario, j.occurrence, j.step) for j in mine if j.status != "done") == [
        ("booking_reminder", "BK-TWIN01", 0),
        ("booking_reminder", "BK-TWIN01", 1),
        ("cart_abandoned", "cart-9", 0),
        ("cart_abandoned", "cart-9", 1),
    ]
    left = await rig.jobs(absorbed)
    assert {(j.status, j.decision) for j in left} == {("cancelled", "cancelled")}
    assert all("same message scheduled" in (j.reason or "") for j in left)
    decisions = await rig.decisions(survivor)
    assert [d.decision for d in decisions] == ["sent", "cancelled", "cancelled"]
    async with rig.db.session() as s:
        assert {t: c.granted for t, c in (await consents(s, survivor)).items()} == {
            "marketing": False  # the newer word, said on the absorbed profile
        }
        merged = await s.get(Customer, survivor)
        assert merged is not None and merged.consent["marketing"] is False

    # the twin reminder goes out once, on the survivor's channel, beside the cart's first nudge
    rig.clock.advance(7 * H)
    await rig.decided(5, survivor)
    await rig.fakes.telegram.wait_for(lambda: len(telegram_texts(rig.fakes.telegram, chat)) == 2)
    texts = telegram_texts(rig.fakes.telegram, chat)
    assert sum(t.startswith("A reminder: tomorrow") for t in texts) == 1
    assert sum("cart" in t for t in texts) == 1

    async with rig.db.transaction() as s:
        await IdentityRepository(s).undo(merge_id, actor="test", now=rig.clock())
    back = await rig.jobs(absorbed)
    assert {(j.scenario, j.status) for j in back} >= {("cart_abandoned", "scheduled")}
    assert all(j.scenario != "cart_abandoned" for j in await rig.jobs(survivor))
