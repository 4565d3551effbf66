"""The decision about one due message and the channel choice, as pure functions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from bots.proactive import load_scenarios
from bots.proactive.optout import opt_out_payload
from bots.proactive.policy import BookingFacts, Facts, decide, over_cap
from bots.proactive.reach import choose_channel

H = dt.timedelta(hours=1)
NOW = dt.datetime(2026, 12, 20, 10, 0, tzinfo=dt.UTC)  # 12:00 in Kyiv
SCENARIOS = load_scenarios()
RUNNING = ("rest", "telegram", "viber", "instagram")


@dataclass(frozen=True)
class Ident:
    channel: str
    external_id: str
    reachable: bool = True
    last_inbound_at: dt.datetime | None = NOW - H


def facts(**over: Any) -> Facts:
    base = Facts(
        scenario="order_shipped",
        step=0,
        topic="orders",
        due_at=NOW,
        expires_at=NOW + 48 * H,
        variables={"order": "A1", "tracking": "T1"},
        now=NOW,
        timezone="Europe/Kyiv",
        language="uk",
        display_name="Olena",
        last_channel="telegram",
        identities=(Ident("telegram", "1"), Ident("viber", "v1")),
        running=RUNNING,
    )
    return replace(base, **over)


# ---- channels -------------------------------------------------------------------------------


def test_the_last_used_channel_first() -> None:
    ids = (Ident("telegram", "1"), Ident("viber", "v1", last_inbound_at=NOW))
    reach = choose_channel(ids, last_channel="telegram", running=RUNNING, now=NOW)
    assert (reach.channel, reach.external_id, reach.passed_over) == ("telegram", "1", ())


def test_a_blocked_channel_gives_way_to_the_next_most_recent() -> None:
    ids = (
        Ident("telegram", "1", reachable=False),
        Ident("viber", "v-old", last_inbound_at=NOW - 50 * H),
        Ident("viber", "v-new", last_inbound_at=NOW - 2 * H),
    )
    reach = choose_channel(ids, last_channel="telegram", running=RUNNING, now=NOW)
    assert (reach.channel, reach.external_id) == ("viber", "v-new")
    assert reach.passed_over == ("telegram: the customer blocked the bot or unsubscribed",)


def test_instagram_only_within_24_hours_of_the_customers_last_message() -> None:
    inside = Ident("instagram", "ig", last_inbound_at=NOW - 23 * H)
    outside = Ident("instagram", "ig", last_inbound_at=NOW - 25 * H)
    assert (
        choose_channel((inside,), last_channel="instagram", running=RUNNING, now=NOW).channel
        == "instagram"
    )
    reach = choose_channel(
        (outside, Ident("viber", "v")), last_channel="instagram", running=RUNNING, now=NOW
    )
    assert reach.channel == "viber"
    nowhere = choose_channel((outside,), last_channel="instagram", running=RUNNING, now=NOW)
    assert nowhere.channel is None
    assert (
        nowhere.reason
        == "instagram: outside Instagram's 24-hour window since the customer's last message"
    )


def test_unreachable_everywhere_names_each_reason() -> None:
    ids = (Ident("rest", "r"), Ident("telegram", "1", reachable=False), Ident("viber", "v"))
    reach = choose_channel(ids, last_channel="rest", running=("rest", "telegram"), now=NOW)
    assert reach.channel is None
    assert reach.reason == (
        "rest: only answers requests, cannot send first; "
        "telegram: the customer blocked the bot or unsubscribed; "
        "viber: not set up in this deployment"
    )
    assert choose_channel((), last_channel=None, running=RUNNING, now=NOW).reason == (
        "the customer has no channel identity"
    )


# ---- decisions ------------------------------------------------------------------------------


def test_a_due_message_is_sent_in_the_customers_language() -> None:
    verdict = decide(SCENARIOS, facts())
    assert verdict.decision == "send" and verdict.channel == "telegram"
    assert verdict.message is not None and verdict.message.text.startswith("Ваше замовлення A1")


def test_expiry_comes_before_everything_else() -> None:
    verdict = decide(SCENARIOS, facts(now=NOW + 49 * H, identities=()))
    assert verdict.decision == "expired"


def test_quiet_hours_defer_to_the_end_of_the_night_unless_that_is_past_the_expiry() -> None:
    late = NOW + 11 * H  # 23:00 in Kyiv
    verdict = decide(SCENARIOS, facts(now=late))
    assert verdict.decision == "deferred"
    assert verdict.defer_to == dt.datetime(2026, 12, 21, 7, 0, tzinfo=dt.UTC)
    assert verdict.reason == "quiet hours in Europe/Kyiv until 09:00"
    expiring = decide(SCENARIOS, facts(now=late, expires_at=late + H))
    assert expiring.decision == "expired" and "quiet hours" in expiring.reason
    # 04:30 in Kyiv: the same morning
    early = decide(SCENARIOS, facts(now=dt.datetime(2026, 12, 21, 2, 30, tzinfo=dt.UTC)))
    assert early.defer_to == dt.datetime(2026, 12, 21, 7, 0, tzinfo=dt.UTC)


def test_consent_and_opt_outs() -> None:
    marketing = facts(scenario="reengagement", topic="marketing", variables={})
    assert "needs the customer's consent" in decide(SCENARIOS, marketing).reason
    yes = {"marketing": (True, NOW - 5 * H)}
    verdict = decide(SCENARIOS, replace(marketing, consents=yes))
    assert verdict.decision == "send" and verdict.message is not None
    assert verdict.message.buttons[-1].payload == opt_out_payload("marketing")
    assert verdict.message.buttons[-1].title == "Не надсилати акції"
    # an opt-out of everything after the yes wins; a yes after it wins again
    everything_no = {**yes, "*": (False, NOW - H)}
    refused = decide(SCENARIOS, replace(marketing, consents=everything_no))
    assert refused.decision == "suppressed" and "opted out of all messages" in refused.reason
    again = {"marketing": (True, NOW), "*": (False, NOW - H)}
    assert decide(SCENARIOS, replace(marketing, consents=again)).decision == "send"
    # an implied topic is sent until the customer says no to it
    assert decide(SCENARIOS, facts(consents={"orders": (False, NOW)})).decision == "suppressed"
    assert decide(SCENARIOS, facts(consents={"marketing": (False, NOW)})).decision == "send"


def test_a_reminder_of_a_changed_booking_and_a_vanished_scenario_are_suppressed() -> None:
    starts = NOW + 2 * H
    reminder = facts(
        scenario="booking_reminder",
        step=1,
        topic="reminders",
        variables={"booking": "BK-1", "service": "x", "starts_at": starts.isoformat()},
    )
    assert (
        decide(SCENARIOS, replace(reminder, booking=BookingFacts("confirmed", starts))).decision
        == "send"
    )
    sent = decide(SCENARIOS, reminder)  # a booking kept by the business's own system
    assert sent.message is not None and "at 14:00" not in sent.message.text  # uk text
    assert "о 14:00" in sent.message.text  # starts_at shown in the customer's zone
    moved = decide(SCENARIOS, replace(reminder, booking=BookingFacts("confirmed", starts + H)))
    assert moved.decision == "suppressed" and moved.reason.startswith("booking BK-1 moved to")
    gone = decide(SCENARIOS, replace(reminder, booking=BookingFacts("cancelled", starts)))
    assert gone.reason == "booking BK-1 is cancelled"
    assert "no longer defined" in decide(SCENARIOS, facts(scenario="gone")).reason
    assert "no longer defined" in decide(SCENARIOS, facts(step=5)).reason


def test_unreachable_when_no_channel_may_carry_it() -> None:
    verdict = decide(SCENARIOS, facts(identities=(Ident("telegram", "1", reachable=False),)))
    assert verdict.decision == "unreachable"
    assert verdict.reason == "telegram: the customer blocked the bot or unsubscribed"


async def test_caps_count_every_window() -> None:
    topic = SCENARIOS.topic("marketing")
    counts = {24 * H: 1, 7 * 24 * H: 5}

    async def sent_since(since: dt.datetime) -> int:
        return counts[NOW - since]

    assert await over_cap(topic, NOW, sent_since) == "marketing cap reached: 5 of 5 per 7 d"
    counts[7 * 24 * H] = 4
    assert await over_cap(topic, NOW, sent_since) is None
    counts[24 * H] = 2
    assert await over_cap(topic, NOW, sent_since) == "marketing cap reached: 2 of 2 per 1 d"
