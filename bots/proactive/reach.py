"""Which channel may carry a message the customer did not ask for.

The channel the customer used last comes first, then their other identities, most recently
heard from first. A channel is passed over when this deployment does not run it, when it can
only answer (REST), when the customer blocked the bot or unsubscribed (``reachable`` false),
for Instagram outside 24 hours of the customer's last message there (outside that window only a
human agent's reply may go out, with the HUMAN_AGENT tag, never an automated one), or for the web
chat a day after the visitor's last message (what it pushes is seen on the open page, or on
coming back while the visitor's event log lives). The reasons of
every channel passed over are kept, for the ``unreachable`` decision.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

__all__ = ["INSTAGRAM_WINDOW", "NO_PUSH", "Identity", "Reach", "choose_channel"]

INSTAGRAM_WINDOW = timedelta(hours=24)
#: A web-chat visitor sees what is pushed while their page is open or when they come back to it
#: within the day their event log lives (`bots.channels.webchat_log`); later, another channel.
WEBCHAT_WINDOW = timedelta(hours=24)
#: Channels that only answer requests and cannot send first.
NO_PUSH = frozenset({"rest"})


class Identity(Protocol):
    """What the choice reads of a channel identity (`storage.models.ChannelIdentity`)."""

    @property
    def channel(self) -> str: ...
    @property
    def external_id(self) -> str: ...
    @property
    def reachable(self) -> bool: ...
    @property
    def last_inbound_at(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class Reach:
    """The chosen identity (None: nowhere), and why each other one was passed over."""

    channel: str | None
    external_id: str | None
    last_inbound_at: datetime | None
    passed_over: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        if not self.passed_over:
            return "the customer has no channel identity"
        return "; ".join(self.passed_over)


def choose_channel(
    identities: Sequence[Identity],
    *,
    last_channel: str | None,
    running: Collection[str],
    now: datetime,
) -> Reach:
    """The identity to send on: see the module's docstring for the order and the rules."""
    passed: list[str] = []
    for identity in _ordered(identities, last_channel):
        why = _why_not(identity, running, now)
        if why is None:
            return Reach(
                identity.channel, identity.external_id, identity.last_inbound_at, tuple(passed)
            )
        passed.append(f"{identity.channel}: {why}")
    return Reach(None, None, None, tuple(passed))


def _ordered(identities: Sequence[Identity], last_channel: str | None) -> list[Identity]:
    def key(identity: Identity) -> tuple[int, float]:
        seen = identity.last_inbound_at.timestamp() if identity.last_inbound_at else float("-inf")
        return (0 if identity.channel == last_channel else 1, -seen)

    return sorted(identities, key=key)


def _why_not(identity: Identity, running: Collection[str], now: datetime) -> str | None:
    if identity.channel in NO_PUSH:
        return "only answers requests, cannot send first"
    if identity.channel not in running:
        return "not set up in this deployment"
    if not identity.reachable:
        return "the customer blocked the bot or unsubscribed"
    if identity.channel == "instagram":
        last = identity.last_inbound_at
        if last is None or now - last > INSTAGRAM_WINDOW:
            return "outside Instagram's 24-hour window since the customer's last message"
    if identity.channel == "webchat":
        last = identity.last_inbound_at
        if last is None or now - last > WEBCHAT_WINDOW:
            return "the web chat visitor has not written for a day: the page is likely closed"
    return None
