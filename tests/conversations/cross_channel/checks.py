"""What a cross-channel script expects of the bot's state after a turn: the session (`state:`)
and the customer's one timeline (`transcript:`)."""

from __future__ import annotations

from typing import Any

from bots.flows.backends import SqlBookingBackend
from storage.db import Database
from storage.repositories.identity import IdentityRepository
from storage.sessions import Session
from tests.conversations.runner import FROZEN_NOW, KYIV, ScriptFailure, local


async def check_state(db: Database, customer: int, session: Session, want: dict[str, Any]) -> None:
    """`flow`, `step`, `handoff`, `language`, `last_channel`, `slots`; `bookings`: how many
    upcoming, `booking`: one of them (`service`, `at`)."""
    for key in ("flow", "step", "handoff", "language", "last_channel"):
        if key in want and getattr(session, key) != want[key]:
            got = getattr(session, key)
            raise ScriptFailure(f"session.{key} is {got!r}, not {want[key]!r}")
    for key, value in (want.get("slots") or {}).items():
        if session.slots.get(key) != value:
            raise ScriptFailure(f"slot {key} is {session.slots.get(key)!r}, not {value!r}")
    if "bookings" in want or "booking" in want:
        backend = SqlBookingBackend(db, clock=lambda: FROZEN_NOW)
        found = await backend.upcoming_for_customer(customer)
        if "bookings" in want and len(found) != want["bookings"]:
            raise ScriptFailure(f"{len(found)} upcoming bookings, not {want['bookings']}")
        spec = want.get("booking")
        if spec is not None and not any(
            ("at" not in spec or b.starts_at == local(spec["at"]))
            and b.service_code == spec.get("service", b.service_code)
            for b in found
        ):
            shown = [(b.service_code, b.starts_at.astimezone(KYIV).isoformat()) for b in found]
            raise ScriptFailure(f"no booking {spec}; upcoming: {shown}")


async def check_transcript(db: Database, customer: int, want: dict[str, Any]) -> None:
    """`inbound`: the customer's messages in the one timeline (nothing lost or doubled);
    `channels`: the channels they came from."""
    async with db.session() as s:
        timeline = await IdentityRepository(s).timeline(customer)
    inbound = [e for e in timeline if e.sender == "customer"]
    if "inbound" in want and len(inbound) != want["inbound"]:
        shown = [(e.channel, e.text) for e in inbound]
        raise ScriptFailure(f"{len(inbound)} customer messages, not {want['inbound']}: {shown}")
    if "channels" in want and {e.channel for e in inbound} != set(want["channels"]):
        got = sorted({e.channel for e in inbound})
        raise ScriptFailure(f"timeline channels {got}, not {sorted(want['channels'])}")
