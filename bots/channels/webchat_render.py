"""OutboundMessage -> the event the web-chat widget draws (`bots/static/widget.js`).

The widget draws what the other channels draw: the text, payload buttons as quick-reply chips
(tapped: their payload comes back, their title is shown as the visitor's message), link buttons
as links (a messenger's deep link with a QR code, so a conversation started on a laptop goes on
on the phone) and, when the flow asks for the phone, a phone field with the flow's label. The
text is plain text: the widget puts it in `textContent`, never in HTML.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import segno

from bots.channels.base import ChannelLimits, fit_buttons
from bots.channels.errors import PermanentSendError
from bots.messages import Button, OutboundMessage

__all__ = ["LIMITS", "qr_data_uri", "render"]

LIMITS = ChannelLimits(max_text=8_192, max_buttons=10, max_button_title=64)
# links that continue the conversation in a messenger: shown with a QR code for the phone
MESSENGER_LINKS = ("https://t.me/", "tg://", "viber://", "https://ig.me/")
_SAFE_SCHEMES = ("https://", "http://", "tg://", "viber://")


def render(message: OutboundMessage, limits: ChannelLimits = LIMITS) -> dict[str, Any]:
    """The widget's `message` event for ``message``."""
    text = message.text
    if message.attachment is not None and message.attachment.url:
        text = f"{text}\n{message.attachment.url}" if text else message.attachment.url
    text, buttons = fit_buttons(text, message.buttons, limits)
    if not text.strip() and not buttons:
        raise PermanentSendError("webchat: cannot send a message without text or buttons")
    event: dict[str, Any] = {
        "kind": "message",
        "sender": message.sender,
        "text": text[: limits.max_text],
        "buttons": [_button(b) for b in buttons if b.url is None or _safe(b.url)],
    }
    if message.request_phone:
        event["phone"] = {"label": message.phone_label}
    return event


def _button(button: Button) -> dict[str, str]:
    if button.url is None:
        return {"title": button.title, "payload": button.payload}
    drawn = {"title": button.title, "url": button.url}
    if button.url.lower().startswith(MESSENGER_LINKS):
        drawn["qr"] = qr_data_uri(button.url)
    return drawn


def _safe(url: str) -> bool:
    """Only addresses a link may open (never `javascript:` or `data:`)."""
    return url.lower().startswith(_SAFE_SCHEMES)


def qr_data_uri(url: str) -> str:
    """A QR code of ``url`` as an SVG `data:` URI (drawn in an `<img>`, where no script runs)."""
    svg = io.BytesIO()  # a standalone SVG (with its namespace: an <img> shows no other)
    segno.make(url, error="m").save(
        svg, kind="svg", xmldecl=False, scale=4, border=2, dark="#111", light="#fff"
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.getvalue()).decode()
