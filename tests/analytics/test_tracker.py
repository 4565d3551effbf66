"""The task tracker of a turn (`bots.worker.analytics.TurnAnalytics`), turn by turn over one
customer's session: every task ends exactly once, whatever the dialogue does, so the outcomes
never outnumber the starts. A property test drives it with random turns."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bots.flows.engine import SUSPENDED
from bots.messages import InboundMessage
from bots.worker.analytics import TurnAnalytics, message_key
from bots.worker.turn import TurnContext
from nlu.types import ParseResult
from storage.analytics.events import Event
from storage.sessions import EscalationRequest, Session

T0 = dt.datetime(2026, 3, 10, 7, 0, tzinfo=dt.UTC)
_ids = itertools.count(1)


class Customer:
    """One customer's session carried from turn to turn, as the worker saves it."""

    def __init__(self, gap_hours: float = 24.0) -> None:
        self.session = Session(customer_id=7, language="en")
        self.analytics = TurnAnalytics(gap_hours, lambda flow, intent: f"team-{flow}")
        self.now = T0
        self.events: list[Event] = []

    def turn(
        self,
        *,
        channel: str = "telegram",
        started: tuple[str, ...] = (),
        stopped: bool = False,
        flow: str | None = None,
        suspended: str | None = None,
        escalation: str | None = None,
        ticket: int | None = None,
        intent: str = "inform",
        after: dt.timedelta = dt.timedelta(minutes=1),
    ) -> list[Event]:
        self.now += after
        message = InboundMessage(channel, "u1", str(next(_ids)), self.now, text="hi")
        ctx = TurnContext(message=message, attempt=1, now=self.now, customer_id=7)
        ctx.session = self.session
        ctx.parse = ParseResult(text="hi", intent=intent, confidence=0.9)
        for name in started:
            ctx.tasks.start(name)
        if stopped:
            ctx.tasks.stop()
        self.session.flow = flow
        if suspended:
            self.session.data[SUSPENDED] = {"flow": suspended, "step": "x", "slots": {}}
        else:
            self.session.data.pop(SUSPENDED, None)
        ctx.escalation = escalation
        self.session.escalation = EscalationRequest(escalation) if escalation else None
        self.session.ticket_id = ticket
        events = self.analytics.facts(ctx)
        self.events += events
        return events


def kinds(events: list[Event]) -> list[tuple[str, str | None, str | None]]:
    return [(e.kind, e.intent, e.reason) for e in events if e.kind.startswith(("task", "cont"))]


def test_a_one_turn_flow_is_started_and_completed_in_its_turn() -> None:
    who = Customer()
    assert kinds(who.turn(started=("faq",))) == [
        ("task.started", "faq", None),
        ("task.ended", "faq", "completed"),
    ]


def test_a_digression_suspends_and_both_end_on_their_own() -> None:
    who = Customer()
    who.turn(started=("booking",), flow="booking")
    # order status starts while booking waits under it, then ends; booking goes on
    assert kinds(who.turn(started=("order_status",), flow="booking")) == [
        ("task.started", "order_status", None),
        ("task.ended", "order_status", "completed"),
    ]
    who.turn(started=("linking",), flow="linking", suspended="booking")
    assert kinds(who.turn(flow="booking")) == [("task.ended", "linking", "completed")]
    ended = who.turn(flow=None, channel="viber")  # booked, on another channel
    assert kinds(ended) == [
        ("task.ended", "booking", "completed"),
        ("continuation", "booking", None),
    ]
    (end,) = [e for e in ended if e.kind == "task.ended"]
    assert end.channel == "telegram" and end.at == T0 + dt.timedelta(minutes=1)  # its cohort


def test_one_switch_of_channel_mid_booking_is_one_continuation() -> None:
    who = Customer()
    who.turn(started=("booking",), flow="booking")
    who.turn(started=("linking",), flow="linking", suspended="booking")  # "continue in Viber"
    # the link is opened on Viber: the linking completes there, then the booking does
    assert kinds(who.turn(flow="booking", channel="viber")) == [
        ("task.ended", "linking", "completed")
    ]
    assert kinds(who.turn(flow=None, channel="viber")) == [
        ("task.ended", "booking", "completed"),
        ("continuation", "booking", None),
    ]
    assert sum(1 for e in who.events if e.kind == "continuation") == 1


def test_a_stop_a_restart_and_a_handoff() -> None:
    who = Customer()
    who.turn(started=("booking",), flow="booking")
    restarted = who.turn(started=("booking",), flow="booking")
    assert kinds(restarted) == [
        ("task.ended", "booking", "abandoned"),
        ("task.started", "booking", None),
    ]
    assert kinds(who.turn(stopped=True)) == [("task.ended", "booking", "abandoned")]
    # a person asked for outside any flow is a task of its own, handed off at once
    asked = who.turn(escalation="customer_asked_for_a_person", ticket=5, intent="request_human")
    assert kinds(asked) == [
        ("task.started", None, None),
        ("task.ended", None, "handoff:request"),
    ]
    assert kinds(who.turn(ticket=5)) == []  # the same ticket: nothing new
    # an agent takes over a customer mid-booking: noticed on their next message
    who.turn(started=("booking",), flow="booking", ticket=None)
    taken = who.turn(flow="booking", ticket=6)
    assert kinds(taken) == [("task.ended", "booking", "handoff:take_over")]


def test_a_new_conversation_after_the_gap() -> None:
    who = Customer(gap_hours=24)
    first = who.turn()
    again = who.turn(after=dt.timedelta(hours=23))
    later = who.turn(after=dt.timedelta(hours=25))
    started = [e.key for e in who.events if e.kind == "conversation.started"]
    assert started == [first[0].key, later[0].key]
    assert {e.conversation_key for e in again} == {first[0].key}


FLOWS = ("booking", "faq", "order_status")


@st.composite
def turns(draw: Any) -> dict[str, Any]:
    return {
        "started": tuple(draw(st.lists(st.sampled_from(FLOWS), max_size=2))),
        "stopped": draw(st.booleans()),
        "flow": draw(st.sampled_from((None, *FLOWS))),
        "suspended": draw(st.sampled_from((None, *FLOWS))),
        "escalation": draw(st.sampled_from((None, None, None, "complaint"))),
        "ticket": draw(st.sampled_from(("none", "none", "same", "new"))),
        "channel": draw(st.sampled_from(("telegram", "viber"))),
    }


@settings(max_examples=200, deadline=None)
@given(st.lists(turns(), max_size=12))
def test_every_task_ends_at_most_once(script: list[dict[str, Any]]) -> None:
    who = Customer()
    ticket = 0
    for turn in script:
        ticket += turn["ticket"] == "new"
        who.turn(**{**turn, "ticket": None if turn["ticket"] == "none" else ticket or None})
    started = [e.key for e in who.events if e.kind == "task.started"]
    ended = [e.key for e in who.events if e.kind == "task.ended"]
    assert len(set(started)) == len(started)
    assert len(set(ended)) == len(ended)
    assert set(ended) <= set(started)
    handoffs = [e for e in who.events if (e.reason or "").startswith("handoff")]
    escalations = sum(1 for t in script if t["escalation"])
    assert len(handoffs) <= escalations + ticket  # one per escalation or new ticket at most


def test_event_keys_follow_the_messages_time_and_stay_the_same_on_a_rerun() -> None:
    """Random platform ids (a REST message's UUID) sort nowhere; the keys of later messages
    sort after earlier ones, so the unique index takes them at its end."""
    ids = ["f3a1", "07bc", "c9d2", "1e55"]  # out of order on purpose
    keys = []
    for minutes, message_id in enumerate(ids):
        at = T0 + dt.timedelta(minutes=minutes)
        message = InboundMessage("rest", "u1", message_id, at, text="hi")
        keys.append(message_key(message))
        same = InboundMessage("rest", "u1", message_id, at, text="hi")
        assert message_key(same) == keys[-1]  # a turn run again writes the same keys
    assert keys == sorted(keys)
    assert keys[0] == "20260310T070000Z:rest:f3a1"
    who = Customer()
    events = who.turn(started=("faq",))
    started = next(e for e in events if e.kind == "conversation.started")
    assert started.key == started.conversation_key == message_key_of(who, events)


def message_key_of(who: Customer, events: list[Event]) -> str:
    inbound = next(e for e in events if e.kind == "message.in")
    assert inbound.key.startswith(f"{who.now:%Y%m%dT%H%M%SZ}:telegram:")
    return inbound.key
