"""Checking an event of the business's systems field by field (`parse_event`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from bots.proactive.event_input import EventInvalid, parse_event


def test_a_full_event() -> None:
    event = parse_event(
        {
            "id": "evt-1",
            "type": "order_shipped",
            "customer": {"phone": "050 123 45 67", "email": " Olena@Example.COM "},
            "at": "2026-03-10T09:00:00+02:00",
            "variables": {"order": "A1001", "tracking": "TTN 5900", "items": 2, "gift": None},
        }
    )
    assert event.id == "evt-1" and event.type == "order_shipped"
    assert event.customer.phone == "+380501234567"
    assert event.customer.email == "olena@example.com"
    assert event.at == dt.datetime(2026, 3, 10, 7, 0, tzinfo=dt.UTC)
    assert event.variables == {"order": "A1001", "tracking": "TTN 5900", "items": 2, "gift": None}


def test_a_channel_identity_and_a_numeric_id() -> None:
    event = parse_event(
        {"id": 42, "type": "cart_abandoned", "customer": {"channel": "viber", "user_id": "u+1=="}}
    )
    assert event.id == "42" and event.customer.channel == "viber"
    assert event.customer.user_id == "u+1==" and event.at is None and event.variables == {}


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ([], "JSON object"),
        ({"type": "x", "customer": {"phone": "+380501234567"}}, '"id"'),
        ({"id": "1", "type": "Order Shipped!", "customer": {"email": "a@b.cd"}}, '"type"'),
        ({"id": "1", "type": "x"}, '"customer"'),
        ({"id": "1", "type": "x", "customer": {}}, '"customer"'),
        ({"id": "1", "type": "x", "customer": {"phone": "12"}}, "customer.phone"),
        ({"id": "1", "type": "x", "customer": {"email": "nope"}}, "customer.email"),
        ({"id": "1", "type": "x", "customer": {"channel": "fax", "user_id": "1"}}, "channel"),
        ({"id": "1", "type": "x", "customer": {"channel": "telegram"}}, "user_id"),
        ({"id": "1", "type": "x", "customer": {"customer_id": True}}, "customer_id"),
        ({"id": "1", "type": "x", "customer": {"customer_id": 1}, "at": "tomorrow"}, '"at"'),
        (
            {"id": "1", "type": "x", "customer": {"customer_id": 1}, "at": "2026-03-10T09:00"},
            '"at"',
        ),
        ({"id": "1", "type": "x", "customer": {"customer_id": 1}, "variables": [1]}, "variables"),
        ({"id": "1", "type": "x", "customer": {"customer_id": 1}, "variables": {"a b": 1}}, "a b"),
        ({"id": "1", "type": "x", "customer": {"customer_id": 1}, "variables": {"a": [1]}}, '"a"'),
        ({"id": "1", "type": "x", "customer": {"customer_id": 1}, "extra": 1}, "unknown fields"),
    ],
)
def test_malformed_events_name_the_problem(doc: Any, problem: str) -> None:
    with pytest.raises(EventInvalid) as caught:
        parse_event(doc)
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(EventInvalid) as caught:
        parse_event({"id": "", "type": "", "customer": {"phone": "1"}, "at": "soon"})
    assert len(caught.value.problems) == 4
