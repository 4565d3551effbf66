"""What a timeline shows of each transcript line (the agent console's, the simulator's).

A customer's message is not always text: a button tap carries a payload (``/inform{"service":
"cleaning"}``), a shared contact a phone. The timeline shows the button's title (the message's
text where the channel reported it; else the title of the bot's button with that payload, from
the bot's messages before it; else the payload made readable). A phone says whose word it is:
"shared phone +380… (verified by Telegram)" when the platform vouched it is the sender's own,
"phone typed +380… (not verified)" from the web chat's phone field (anyone can type any
number), "shared contact +380… (not verified)" for a contact card that is someone else's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from storage.models import Message

__all__ = ["Shown", "readable_payload", "shown_inbound", "shown_lines"]

_PAYLOAD = re.compile(r"^/?(?P<intent>[\w.-]{1,100})(?P<entities>\{.*\})?$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Shown:
    """A line as shown: its text, and what the customer did when it is not typed text."""

    text: str | None
    kind: Literal["button", "contact"] | None = None


def shown_lines(rows: Iterable[Message]) -> list[Shown]:
    """The shown form of each of ``rows`` (a transcript in time order)."""
    titles: dict[str, str] = {}
    out = []
    for m in rows:
        if m.direction == "out":
            titles.update(_button_titles(m.body))
            out.append(Shown(m.text))
        else:
            out.append(shown_inbound(m.text, m.payload, m.body, titles, channel=m.channel))
    return out


def shown_inbound(
    text: str | None,
    payload: str | None,
    body: Mapping[str, Any] | None,
    titles: Mapping[str, str] | None = None,
    *,
    channel: str | None = None,
) -> Shown:
    """A customer's message as shown; ``titles`` maps the bot's button payloads to titles,
    ``channel`` is where it was sent (it names who verified a shared phone)."""
    phone = (body or {}).get("contact_phone")
    if isinstance(phone, str) and phone:
        return Shown(_phone_line(phone, (body or {}).get("contact_verified"), channel), "contact")
    if not payload:
        return Shown(text)
    title = text or (titles or {}).get(payload)
    return Shown(title or readable_payload(payload), "button")


def _phone_line(phone: str, verified: object, channel: str | None) -> str:
    """How a phone the customer sent reads: verified by the platform, or only their word."""
    if channel == "webchat":  # the widget's phone field: typed, never vouched for (README)
        return f"phone typed {phone} (not verified)"
    if verified is False:  # a contact card that is not the sender's own
        return f"shared contact {phone} (not verified)"
    if verified is True:
        by = f" by {channel.capitalize()}" if channel else ""
        return f"shared phone {phone} (verified{by})"
    return f"shared phone {phone}"  # stored before the flag was kept: unknown


def readable_payload(payload: str) -> str:
    """``/inform{"service":"cleaning"}`` -> ``inform: service cleaning``; anything else as is."""
    match = _PAYLOAD.match(payload.strip())
    if match is None:
        return payload
    words = match.group("intent").replace("_", " ")
    try:
        entities = json.loads(match.group("entities") or "{}")
    except ValueError:
        return words
    if isinstance(entities, dict) and entities:
        words += ": " + ", ".join(f"{k} {v}" for k, v in entities.items())
    return words


def _button_titles(body: Mapping[str, Any] | None) -> dict[str, str]:
    buttons = (body or {}).get("buttons") or ()
    return {
        str(b["payload"]): str(b["title"])
        for b in buttons
        if isinstance(b, dict) and b.get("payload") and b.get("title")
    }
