"""The proactive scheduler on both backends, through the real outbox to the fake platforms:
reminders at their times, each decision a row, quiet hours, expiry, consent, templates."""

from __future__ import annotations

import datetime as dt

from bots.flows.base import payload
from bots.proactive import cancel, set_consent, signal
from bots.proactive.optout import opt_out_payload
from storage.models import Booking, Service, Staff
from tests.proactive.rig import Rig, backend_url, fakes, make_rig, new_chat, rig, telegram_texts

__all__ = ["backend_url", "fakes", "make_rig", "rig"]  # fixtures used by the tests below

H = dt.timedelta(hours=1)


async def test_booking_reminders_go_out_24h_and_2h_before_the_visit_once_each(rig: Rig) -> None:
    chat = new_chat()
    customer = await rig.customer(telegram=chat)
    visit = rig.clock() + 28 * H  # 16:00 Kyiv the next day
    variables = {"booking": "BK-ABC123", "service": "Cleaning", "starts_at": visit.isoformat()}
    occurrence = f"BK-ABC123@{visit.isoformat()}"
    assert (
        await rig.trigger(
            "booking_reminder", customer, occurrence=occurrence, anchor=visit, variables=variables
        )
        == 2
    )
    # the same trigger again (a redelivered booking event) adds nothing
    assert (
        await rig.trigger(
            "booking_reminder", customer, occurrence=occurrence, anchor=visit, variables=variables
        )
        == 0
    )

    assert await rig.scheduler.tick() == 0  # nothing due yet
    rig.clock.advance(4 * H + dt.timedelta(minutes=1))
    await rig.decided(1, customer)
    await rig.fakes.telegram.wait_for(lambda: len(telegram_texts(rig.fakes.telegram, chat)) == 1)
    first = rig.fakes.telegram.sent_messages(chat)[0]
    assert "tomorrow, 21.12, at 16:00" in first["text"] and "Cleaning" in first["text"]
    buttons = [b for row in first["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["callback_data"] for b in buttons] == [
        payload("reschedule_appointment", booking="BK-ABC123"),
        payload("cancel_appointment", booking="BK-ABC123"),
    ]

    rig.clock.advance(22 * H)
    await rig.decided(2, customer)
    await rig.fakes.telegram.wait_for(lambda: len(telegram_texts(rig.fakes.telegram, chat)) == 2)
    assert "In two hours, at 16:00" in telegram_texts(rig.fakes.telegram, chat)[1]

    decisions = await rig.decisions(customer)
    assert [(d.decision, d.channel) for d in decisions] == [("sent", "telegram")] * 2
    jobs = await rig.jobs(customer)
    assert [j.status for j in jobs] == ["done", "done"]
    rows = await rig.outbound(customer)
    assert [r.id for r in rows] == [j.message_id for j in jobs]
    await _all_sent(rig, customer)
    assert rows[0].body is not None and rows[0].body["proactive"]["scenario"] == "booking_reminder"
    session = await rig.backends.sessions.get(customer)
    assert session.data["proactive"]["step"] == 1
    assert session.data["proactive"]["occurrence"] == occurrence
    await rig.scheduler.tick()
    assert len(telegram_texts(rig.fakes.telegram, chat)) == 2  # and nothing more, ever


async def _all_sent(rig: Rig, customer: int) -> None:
    from tests.fakes import wait_until

    async def sent() -> bool:
        return all(r.status == "sent" for r in await rig.outbound(customer))

    await wait_until(sent, timeout=10, what="transcript rows marked sent")


async def test_a_message_due_in_quiet_hours_waits_for_the_morning_in_the_customers_zone(
    rig: Rig,
) -> None:
    kyiv, new_york = new_chat(), new_chat()
    here = await rig.customer(telegram=kyiv)
    there = await rig.customer(telegram=new_york, timezone="America/New_York")
    rig.clock.advance(11 * H)  # 21:00 UTC = 23:00 in Kyiv, 16:00 in New York
    await rig.trigger("order_shipped", here, variables={"order": "A1", "tracking": "T1"})
    await rig.trigger("order_shipped", there, variables={"order": "A2", "tracking": "T2"})
    await rig.decided(2)
    await rig.fakes.telegram.wait_for(
        lambda: len(telegram_texts(rig.fakes.telegram, new_york)) == 1
    )
    assert telegram_texts(rig.fakes.telegram, kyiv) == []
    (deferred,) = await rig.decisions(here)
    assert deferred.decision == "deferred" and "Europe/Kyiv until 09:00" in deferred.reason
    (job,) = await rig.jobs(here)
    assert job.status == "scheduled"
    assert job.due_at == dt.datetime(2026, 12, 21, 7, 0, tzinfo=dt.UTC)  # 09:00 in Kyiv

    rig.clock.advance(8 * H)  # 05:00 UTC: still night in Kyiv
    await rig.scheduler.tick()
    assert telegram_texts(rig.fakes.telegram, kyiv) == []
    rig.clock.advance(2 * H + dt.timedelta(minutes=1))
    await rig.decided(2, here)
    await rig.fakes.telegram.wait_for(lambda: len(telegram_texts(rig.fakes.telegram, kyiv)) == 1)
    assert [d.decision for d in await rig.decisions(here)] == ["deferred", "sent"]


async def test_an_expired_message_is_dropped_with_a_reason(rig: Rig) -> None:
    chat = new_chat()
    customer = await rig.customer(telegram=chat)
    await rig.trigger("order_delayed", customer, variables={"order": "A1", "eta": "23.12"})
    rig.clock.advance(3 * 24 * H)  # the scheduler was down for three days; it expires after 2
    (decision,) = await rig.decided(1, customer)
    assert decision.decision == "expired" and decision.reason.startswith("expired at")
    assert [j.status for j in await rig.jobs(customer)] == ["done"]
    assert telegram_texts(rig.fakes.telegram, chat) == []


async def test_marketing_needs_consent_and_an_opt_out_stops_it_but_not_reminders(
    rig: Rig,
) -> None:
    chat = new_chat()
    customer = await rig.customer(telegram=chat)
    await rig.trigger("reengagement", customer, anchor=rig.clock() - 90 * 24 * H)
    (refused,) = await rig.decided(1, customer)
    assert refused.decision == "suppressed" and "needs the customer's consent" in refused.reason

    async with rig.db.transaction() as s:
        await set_consent(
            s,
            customer_id=customer,
            topic="marketing",
            granted=True,
            source="telegram:button",
            text="Send me offers",
            at=rig.clock(),
        )
    await rig.trigger("reengagement", customer, anchor=rig.clock() - 90 * 24 * H)
    await rig.decided(2, customer)
    await rig.fakes.telegram.wait_for(lambda: len(telegram_texts(rig.fakes.telegram, chat)) == 1)
    offer = rig.fakes.telegram.sent_messages(chat)[0]
    buttons = [b for row in offer["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons[-1]["callback_data"] == opt_out_payload("marketing")

    rig.clock.advance(H)
    async with rig.db.transaction() as s:
        await set_consent(
            s,
            customer_id=customer,
            topic="marketing",
            granted=False,
            source="telegram:text",
            text="відписатися",
            at=rig.clock(),
        )
    await rig.trigger("reengagement", customer, anchor=rig.clock() - 90 * 24 * H)
    visit = rig.clock() + 3 * H
    await rig.trigger("booking_reminder", customer, anchor=visit, variables=_visit(visit))
    rig.clock.advance(H + dt.timedelta(minutes=1))
    rows = await rig.decided(4, customer)
    assert [r.decision for r in rows[2:]] == ["suppressed", "sent"]
    assert "opted out of marketing" in rows[2].reason
    assert rows[3].scenario == "booking_reminder"


def _visit(at: dt.datetime) -> dict[str, str]:
    return {"booking": "BK-XYZ789", "service": "Checkup", "starts_at": at.isoformat()}


async def test_a_missing_variable_suppresses_the_message_with_the_reason(rig: Rig) -> None:
    customer = await rig.customer(telegram=new_chat())
    await rig.trigger("order_shipped", customer, variables={"order": "A1"})  # no tracking
    (decision,) = await rig.decided(1, customer)
    assert decision.decision == "suppressed"
    assert decision.reason == "template: variable {tracking} is missing"


async def test_a_reminder_of_a_cancelled_or_moved_booking_is_not_sent(rig: Rig) -> None:
    chat = new_chat()
    customer = await rig.customer(telegram=chat)
    visit = rig.clock() + 5 * H
    async with rig.db.transaction() as s:
        service = Service(
            code="svc-1", name_uk="Огляд", name_en="Checkup", duration_minutes=30, price=0
        )
        staff = Staff(name="Dr. Who", skills=["svc-1"], working_hours={})
        s.add_all([service, staff])
        await s.flush()
        for ref, status in (("BK-AAA111", "cancelled"), ("BK-BBB222", "confirmed")):
            s.add(
                Booking(
                    reference=ref,
                    customer_id=customer,
                    service_id=service.id,
                    staff_id=staff.id,
                    starts_at=visit if status == "cancelled" else visit + H,
                    ends_at=visit + H,
                    status=status,
                )
            )
    for ref in ("BK-AAA111", "BK-BBB222"):
        await rig.trigger(
            "booking_reminder", customer, anchor=visit, variables={**_visit(visit), "booking": ref}
        )
    rig.clock.advance(3 * H + dt.timedelta(minutes=1))
    rows = await rig.decided(2, customer)
    assert sorted(r.reason for r in rows) == [
        "booking BK-AAA111 is cancelled",
        f"booking BK-BBB222 moved to {(visit + H).isoformat()}",
    ]
    assert {r.decision for r in rows} == {"suppressed"}
    assert telegram_texts(rig.fakes.telegram, chat) == []


async def test_cancel_and_signals_end_pending_jobs_with_a_decision_each(rig: Rig) -> None:
    customer = await rig.customer(telegram=new_chat())
    await rig.trigger("cart_abandoned", customer, occurrence="cart-1")
    await rig.trigger("cart_abandoned", customer, occurrence="cart-2")
    visit = rig.clock() + 30 * H
    await rig.trigger(
        "booking_reminder", customer, occurrence="bk", anchor=visit, variables=_visit(visit)
    )
    async with rig.db.transaction() as s:
        assert (
            await signal(
                s,
                customer_id=customer,
                signal="event:order_placed",
                reason="order placed",
                now=rig.clock(),
            )
            == 4
        )
        assert (
            await signal(
                s,
                customer_id=customer,
                signal="reply",
                reason="the customer wrote",
                now=rig.clock(),
            )
            == 0
        )
        assert (
            await cancel(
                s, customer_id=customer, occurrence="bk", reason="booking moved", now=rig.clock()
            )
            == 2
        )
    jobs = await rig.jobs(customer)
    assert {(j.status, j.decision) for j in jobs} == {("cancelled", "cancelled")}
    reasons = [d.reason for d in await rig.decisions(customer)]
    assert reasons == ["order placed"] * 4 + ["booking moved"] * 2
    rig.clock.advance(40 * H)
    assert await rig.scheduler.tick() == 0
