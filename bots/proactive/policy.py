"""The decision about one due proactive message, in the order the contract fixes:

expired (past ``expires_at``) → suppressed (no consent / opted out / the scenario or a
variable is missing / the booking changed) → deferred (quiet hours in the customer's time
zone: due again when they end) → unreachable (no channel may carry it) → capped (the topic's
frequency caps, counted by the caller under the customer's lock) → sent.

`decide` is a pure function of `Facts` (everything read about the job in its transaction);
`over_cap` takes a counting function, so the count runs where the customer is locked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bots.messages import Button, OutboundMessage
from bots.proactive.reach import Identity, choose_channel
from bots.proactive.scenarios import (
    LANGUAGES,
    Scenarios,
    Step,
    TemplateError,
    Topic,
    intent_payload,
)

__all__ = ["ALL_TOPICS", "BookingFacts", "Facts", "Verdict", "decide", "over_cap"]

ALL_TOPICS = "*"  # a consent row for every topic (bots.proactive.optout.ALL_TOPICS)
OPT_OUT_INTENT = "unsubscribe"  # bots.proactive.optout.opt_out_payload's intent


@dataclass(frozen=True, slots=True)
class BookingFacts:
    """The booking a reminder is about, as the database has it now."""

    status: str
    starts_at: datetime


@dataclass(frozen=True, slots=True)
class Facts:
    scenario: str
    step: int
    topic: str
    due_at: datetime
    expires_at: datetime | None
    variables: Mapping[str, Any]
    now: datetime  # the bot's clock
    timezone: str  # the customer's, else the business's
    language: str
    display_name: str | None
    last_channel: str | None
    identities: Sequence[Identity]
    running: Collection[str]  # the channels this process can send on
    consents: Mapping[str, tuple[bool, datetime]] = field(default_factory=dict)  # topic -> latest
    booking: BookingFacts | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """``send`` (subject to the caps) or a final or deferring decision with its reason."""

    decision: str  # send | expired | suppressed | deferred | unreachable
    reason: str
    channel: str | None = None
    external_id: str | None = None
    last_inbound_at: datetime | None = None
    message: OutboundMessage | None = None
    defer_to: datetime | None = None


def decide(scenarios: Scenarios, facts: Facts) -> Verdict:
    """The verdict on a due job, everything but the caps (see the module's docstring)."""
    now = facts.now
    if facts.expires_at is not None and now >= facts.expires_at:
        return Verdict("expired", f"expired at {facts.expires_at.isoformat()}")
    scenario = scenarios.get(facts.scenario)
    if scenario is None or facts.step >= len(scenario.steps):
        return Verdict(
            "suppressed", f"scenario {facts.scenario!r} step {facts.step + 1} is no longer defined"
        )
    topic = scenarios.topic(facts.topic)
    refused = _consent_refused(topic, facts.consents)
    if refused is not None:
        return Verdict("suppressed", refused)
    changed = _booking_changed(facts)
    if changed is not None:
        return Verdict("suppressed", changed)
    try:
        tz = ZoneInfo(facts.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    try:
        message = _render(scenario.steps[facts.step], topic, facts, tz)
    except TemplateError as e:
        return Verdict("suppressed", f"template: {e}")
    quiet = scenarios.quiet_hours
    local = now.astimezone(tz)
    if quiet is not None and topic.quiet_hours and quiet.contains(local.time()):
        until = quiet.end_after(local).astimezone(now.tzinfo)
        if facts.expires_at is not None and until >= facts.expires_at:
            return Verdict("expired", f"quiet hours in {tz.key} end after it expires")
        return Verdict(
            "deferred", f"quiet hours in {tz.key} until {quiet.end:%H:%M}", defer_to=until
        )
    reach = choose_channel(
        facts.identities, last_channel=facts.last_channel, running=facts.running, now=now
    )
    if reach.channel is None:
        return Verdict("unreachable", reach.reason)
    return Verdict(
        "send",
        "; ".join(("due", *reach.passed_over)),
        channel=reach.channel,
        external_id=reach.external_id,
        last_inbound_at=reach.last_inbound_at,
        message=message,
    )


async def over_cap(
    topic: Topic, now: datetime, count_sent: Callable[[datetime], Awaitable[int]]
) -> str | None:
    """The reason a message of ``topic`` may not go out now (a cap is full), or None.
    ``count_sent(since)``: the customer's messages of the topic sent after ``since``."""
    for cap in topic.caps:
        sent = await count_sent(now - cap.per)
        if sent >= cap.max:
            return f"{topic.name} cap reached: {sent} of {cap.max} per {_span(cap.per)}"
    return None


def _consent_refused(topic: Topic, consents: Mapping[str, tuple[bool, datetime]]) -> str | None:
    own, every = consents.get(topic.name), consents.get(ALL_TOPICS)
    latest = max((c for c in (own, every) if c is not None), key=lambda c: c[1], default=None)
    if latest is not None and not latest[0]:
        which = topic.name if latest is own else "all messages"
        return f"the customer opted out of {which} on {latest[1]:%Y-%m-%d}"
    if topic.consent == "required" and (own is None or not own[0]):
        return f"topic {topic.name} needs the customer's consent, which was not given"
    return None


def _booking_changed(facts: Facts) -> str | None:
    booking = facts.booking
    if booking is None:
        return None
    ref = facts.variables.get("booking")
    if booking.status != "confirmed":
        return f"booking {ref} is {booking.status}"
    starts = facts.variables.get("starts_at")
    if starts is not None:
        try:
            planned = datetime.fromisoformat(str(starts))
        except ValueError:
            return None
        if planned != booking.starts_at:
            return f"booking {ref} moved to {booking.starts_at.isoformat()}"
    return None


def _render(step: Step, topic: Topic, facts: Facts, tz: ZoneInfo) -> OutboundMessage:
    language = facts.language if facts.language in LANGUAGES else LANGUAGES[0]
    variables = _variables(facts, tz)
    message = step.render(language, variables)
    if topic.unsubscribe:
        stop = Button(
            topic.unsubscribe[language], intent_payload(OPT_OUT_INTENT, {"topic": topic.name})
        )
        message = OutboundMessage(text=message.text, buttons=(*message.buttons, stop))
    return message


def _variables(facts: Facts, tz: ZoneInfo) -> dict[str, Any]:
    """The job's variables plus ``name``, and ``date``/``time`` of ``starts_at`` in the
    customer's time zone when the trigger gave only the instant."""
    out: dict[str, Any] = {"name": facts.display_name or "", **facts.variables}
    starts = out.get("starts_at")
    if starts is not None and ("date" not in out or "time" not in out):
        try:
            local = datetime.fromisoformat(str(starts)).astimezone(tz)
        except ValueError:
            return out
        out.setdefault("date", f"{local:%d.%m}")
        out.setdefault("time", f"{local:%H:%M}")
    return out


def _span(delta: timedelta) -> str:
    if delta.total_seconds() % 86400 == 0:
        days = int(delta.total_seconds() // 86400)
        return f"{days} d"
    return f"{delta.total_seconds() / 3600:g} h"
