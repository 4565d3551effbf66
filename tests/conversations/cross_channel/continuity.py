"""Continuity after a channel switch, from a script's turn records.

Definition. A *switch* is a customer turn on a different channel than that customer's previous
turn (or than the channel their profile was known on). What the customer had *given* at a switch
is every slot filled in the session right before it (in the active flow, in a flow suspended by
a digression such as linking, and the saved profile: name, phone). The second channel
*continued without repeating* when, from the switch until the task ends (the session has no
flow) or the next switch, the bot never asked again for a given slot: no turn left the session
at the step that asks for it (booking: service/date/time/name/phone; reschedule: which visit,
date, time; order status: the order number). A script *applies* when it has at least one
switch with something given; a script that failed counts as not continued.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# session step -> the slot the bot is asking for at that step
ASKS = {
    "booking": {s: s for s in ("service", "date", "time", "name", "phone")},
    "manage_booking": {"choose": "booking", "date": "date", "time": "time"},
    "order_status": {"ask_number": "order_number"},
}


@dataclass
class TurnRecord:
    """One customer turn, as the continuity report sees it."""

    index: int
    alias: str
    channel: str
    switched: bool  # a different channel than this customer's previous turn
    given: frozenset[str]  # slots and profile fields known before the turn
    flow_after: str | None
    asked_after: str | None  # the slot the bot asked for after the turn, if any


@dataclass
class Continuity:
    applies: bool
    continued: bool
    switches: int = 0
    repeats: list[str] = field(default_factory=list)  # "turn 7 (telegram): asked for time again"


def continuity(records: list[TurnRecord], failed: bool = False) -> Continuity:
    switches = [r for r in records if r.switched and r.given]
    repeats: list[str] = []
    for switch in switches:
        later = [r for r in records if r.alias == switch.alias and r.index >= switch.index]
        for r in later:
            if r is not switch and r.switched:
                break
            if r.asked_after is not None and r.asked_after in switch.given:
                repeats.append(
                    f"turn {r.index} ({r.channel}): asked for {r.asked_after} again, given "
                    f"before the switch at turn {switch.index}"
                )
            if r.flow_after is None:
                break
    applies = bool(switches)
    return Continuity(applies, applies and not repeats and not failed, len(switches), repeats)


def given_slots(slots: dict[str, Any], data: dict[str, Any]) -> frozenset[str]:
    """Slot names filled in a session: the active flow's, a suspended flow's, the profile's."""
    names = {k for k, v in slots.items() if v not in (None, "") and not k.startswith("_")}
    suspended = data.get("suspended")
    if isinstance(suspended, dict):
        saved = suspended.get("slots") or {}
        names |= {k for k, v in saved.items() if v not in (None, "") and not k.startswith("_")}
    profile = data.get("profile")
    if isinstance(profile, dict):
        names |= {k for k, v in profile.items() if v}
    return frozenset(names)
