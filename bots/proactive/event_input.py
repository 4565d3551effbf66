"""An event from the business's systems (`POST /api/events`), checked field by field.

    {"id": "evt-1042", "type": "cart_abandoned",
     "customer": {"phone": "+380501234567"},      # or "email", or "channel" + "user_id",
                                                   # or omnirelay's "customer_id"
     "at": "2026-03-10T09:00:00+02:00",            # optional: when it happened (default now)
     "variables": {"cart_url": "https://...", "items": "2"}}   # optional, for the texts

`parse_event(doc)` returns a `BusinessEvent` or raises `EventInvalid` listing every problem,
so the business's developer fixes them in one go.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from bots.identity.service import normalise_phone

__all__ = ["BusinessEvent", "CustomerRef", "EventInvalid", "parse_event"]

CHANNELS = ("telegram", "viber", "instagram", "webchat")  # webchat: "u:<the site's id>"
MAX_ID = 100
MAX_VARIABLES = 50
MAX_VALUE = 1000
_TYPE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")
_FIELDS = frozenset({"id", "type", "customer", "at", "variables"})
_CUSTOMER_FIELDS = frozenset({"phone", "email", "channel", "user_id", "customer_id"})

Scalar = str | int | float | bool | None


class EventInvalid(ValueError):
    """The event cannot be used; `problems` names each wrong field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class CustomerRef:
    """How the business names the customer; at least one way is given."""

    phone: str | None = None  # E.164 (normalised)
    email: str | None = None  # lower case
    channel: str | None = None
    user_id: str | None = None  # the customer's id on `channel`
    customer_id: int | None = None

    def describe(self) -> str:
        """The reference in words, for a 404's body."""
        parts = []
        if self.customer_id is not None:
            parts.append(f"customer_id {self.customer_id}")
        if self.phone:
            parts.append(f"verified phone {self.phone}")
        if self.email:
            parts.append(f"e-mail {self.email}")
        if self.channel:
            parts.append(f"{self.channel} user {self.user_id}")
        return " or ".join(parts)


@dataclass(frozen=True, slots=True)
class BusinessEvent:
    id: str
    type: str
    customer: CustomerRef
    at: dt.datetime | None = None
    variables: dict[str, Scalar] = field(default_factory=dict)

    def fingerprint(self) -> dict[str, Any]:
        """What makes two posts of one id the same event (a redelivery, not a clash)."""
        return {"type": self.type, "customer": self.customer.describe()}


def parse_event(doc: Any) -> BusinessEvent:
    """The event in ``doc`` (parsed JSON); `EventInvalid` with every problem found."""
    if not isinstance(doc, dict):
        raise EventInvalid(["the body must be a JSON object"])
    problems: list[str] = []
    unknown = sorted(set(doc) - _FIELDS)
    if unknown:
        problems.append(f"unknown fields {unknown}; the fields are {sorted(_FIELDS)}")
    event_id = _event_id(doc.get("id"), problems)
    kind = doc.get("type")
    if not isinstance(kind, str) or not _TYPE.match(kind):
        problems.append('"type" must be an event type such as "order_shipped" (a-z, 0-9, _)')
    customer = _customer(doc.get("customer"), problems)
    at = _at(doc.get("at"), problems)
    variables = _variables(doc.get("variables"), problems)
    if problems:
        raise EventInvalid(problems)
    assert isinstance(kind, str) and customer is not None
    return BusinessEvent(event_id, kind, customer, at, variables)


def _event_id(value: Any, problems: list[str]) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID:
        problems.append(f'"id" must be the event\'s unique id (a string of 1-{MAX_ID} characters)')
        return ""
    return value.strip()


def _customer(value: Any, problems: list[str]) -> CustomerRef | None:
    if not isinstance(value, dict) or not (set(value) & _CUSTOMER_FIELDS):
        problems.append(
            '"customer" must be an object with "phone", "email", "channel" + "user_id" '
            'or "customer_id"'
        )
        return None
    unknown = sorted(set(value) - _CUSTOMER_FIELDS)
    if unknown:
        problems.append(f'unknown "customer" fields {unknown}')
    phone = email = channel = user_id = None
    customer_id: int | None = None
    if "phone" in value:
        phone = normalise_phone(str(value["phone"])) if isinstance(value["phone"], str) else None
        if phone is None:
            problems.append('"customer.phone" must be a valid phone number, e.g. +380501234567')
    if "email" in value:
        raw = value["email"]
        email = raw.strip().lower() if isinstance(raw, str) else None
        if email is None or not _EMAIL.match(email):
            problems.append('"customer.email" must be an e-mail address')
    if "channel" in value or "user_id" in value:
        channel, user_id = value.get("channel"), value.get("user_id")
        if channel not in CHANNELS:
            problems.append(f'"customer.channel" must be one of {list(CHANNELS)}')
        if isinstance(user_id, int) and not isinstance(user_id, bool):
            user_id = str(user_id)
        if not isinstance(user_id, str) or not user_id or len(user_id) > 128:
            problems.append('"customer.user_id" must be the customer\'s id on that channel')
    if "customer_id" in value:
        raw_id = value["customer_id"]
        if not isinstance(raw_id, int) or isinstance(raw_id, bool) or raw_id <= 0:
            problems.append('"customer.customer_id" must be a positive integer')
        else:
            customer_id = raw_id
    return CustomerRef(phone, email, channel, user_id, customer_id)


def _at(value: Any, problems: list[str]) -> dt.datetime | None:
    if value is None:
        return None
    try:
        at = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        problems.append('"at" must be an ISO 8601 time with its offset, e.g. 2026-03-10T09:00Z')
        return None
    return at.astimezone(dt.UTC)


def _variables(value: Any, problems: list[str]) -> dict[str, Scalar]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_VARIABLES:
        problems.append(f'"variables" must be an object of at most {MAX_VARIABLES} values')
        return {}
    out: dict[str, Scalar] = {}
    for key, item in value.items():
        if not _VARIABLE.match(key):
            problems.append(f"variable name {key[:70]!r} must be letters, digits and _")
        elif item is not None and not isinstance(item, str | int | float | bool):
            problems.append(f'variable "{key}" must be a string, number, boolean or null')
        elif isinstance(item, str) and len(item) > MAX_VALUE:
            problems.append(f'variable "{key}" is longer than {MAX_VALUE} characters')
        else:
            out[key] = item
    return out
