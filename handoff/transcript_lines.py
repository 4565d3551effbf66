"""What a timeline shows of each transcript line (the agent console's, the simulator's).

A customer's message is not always text: a button tap carries a payload (``/inform{"service":
"cleaning"}``), a shared contact a phone. The timeline shows the button's title (the message's
text where the channel reported it; else the title of the bot's button with that payload, from
the bot's messages before it; else the payload made readable) and "shared phone +380…".
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
            out.append(shown_inbound(m.text, m.payload, m.body, titles))
    return out


def shown_inbound(
    text: str | None,
    payload: str | None,
    body: Mapping[str, Any] | None,
    titles: Mapping[str, str] | None = None,
) -> Shown:
    """A customer's message as shown; ``titles`` maps the bot's button payloads to titles."""
    phone = (body or {}).get("contact_phone")
    if isinstance(phone, str) and phone:
        return Shown(f"shared phone {phone}", "contact")
    if not payload:
        return Shown(text)
    title = text or (titles or {}).get(payload)
    return Shown(title or readable_payload(payload), "button")


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
