"""Rendering of outbound messages into Viber send_message JSON (keyboards, attachments)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import orjson
from viberbot.api.messages import LocationMessage, PictureMessage, URLMessage
from viberbot.api.messages.data_types.location import Location

from bots.messages import Attachment, Button

log = logging.getLogger(__name__)

DEFAULT_PAYLOAD_PREFIX = "btn:"
MAX_TRACKING_DATA = 4000
MAX_ROWS = 12  # portrait keyboards show at most 12 rows
_TITLES_KEY = "omnirelay_buttons"


def keyboard_capacity(request_phone: bool) -> int:
    """Reply buttons that fit: two per row in 12 rows, one row less for share-phone."""
    return (MAX_ROWS - (1 if request_phone else 0)) * 2


def render_keyboard(
    buttons: Sequence[Button], *, request_phone: bool, prefix: str, share_phone_label: str
) -> tuple[dict[str, Any] | None, str | None]:
    """A `Type: keyboard` object and the `tracking_data` that maps payloads to titles.

    Up to six buttons are full width; more go two to a row. The share-phone button (API
    level 3: the caller sets `min_api_version`) takes a full row at the bottom.
    """
    if not buttons and not request_phone:
        return None, None
    columns = 6 if len(buttons) <= MAX_ROWS // 2 else 3
    rendered: list[dict[str, Any]] = [_button(b, columns, prefix) for b in buttons]
    if request_phone:
        rendered.append(
            {
                "Columns": 6,
                "Rows": 1,
                "ActionType": "share-phone",
                "ActionBody": "share-phone",
                "Text": share_phone_label,
                "TextSize": "regular",
            }
        )
    keyboard = {"Type": "keyboard", "DefaultHeight": False, "Buttons": rendered}
    return keyboard, encode_button_titles(buttons)


def _button(button: Button, columns: int, prefix: str) -> dict[str, Any]:
    """A reply button, or an `open-url` one for a link (a web page or a messenger's deep link,
    opened outside Viber; nothing comes back to the webhook)."""
    if button.url is not None:
        return {
            "Columns": columns,
            "Rows": 1,
            "ActionType": "open-url",
            "ActionBody": button.url,
            "OpenURLType": "external",
            "Text": button.title,
            "TextSize": "regular",
        }
    return {
        "Columns": columns,
        "Rows": 1,
        "ActionType": "reply",
        "ActionBody": prefix + button.payload,
        "Text": button.title,
        "TextSize": "regular",
    }


def encode_button_titles(buttons: Sequence[Button]) -> str | None:
    """`tracking_data` that lets the webhook turn a tapped payload back into its title (link
    buttons send nothing back, so they are left out)."""
    buttons = [b for b in buttons if b.url is None]
    if not buttons:
        return None
    data = json.dumps(
        {_TITLES_KEY: {b.payload: b.title for b in buttons}},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return data if len(data) <= MAX_TRACKING_DATA else None


def decode_button_titles(tracking_data: Any) -> dict[str, str]:
    """The payload -> title map from a message's `tracking_data`, or {} if it holds none."""
    if not isinstance(tracking_data, str) or _TITLES_KEY not in tracking_data:
        return {}
    try:
        doc = orjson.loads(tracking_data)  # nesting-bounded: the customer's client sends it back
    except orjson.JSONDecodeError:
        return {}
    titles = doc.get(_TITLES_KEY) if isinstance(doc, dict) else None
    if not isinstance(titles, dict):
        return {}
    return {str(k): str(v) for k, v in titles.items()}


def render_attachment(attachment: Attachment) -> dict[str, Any] | None:
    """A picture, location or URL message for an attachment; None when it has nothing to send.

    Viber's file and video messages need the size in bytes, which we do not know, so those
    go as URL messages.
    """
    message: Any
    if attachment.kind == "location":
        if attachment.latitude is None or attachment.longitude is None:
            return None
        message = LocationMessage(location=Location(attachment.latitude, attachment.longitude))
    elif attachment.url is None:
        log.warning("viber: dropping %s attachment without a url", attachment.kind)
        return None
    elif attachment.kind == "image":
        message = PictureMessage(media=attachment.url, text=attachment.name or "")
    else:
        message = URLMessage(media=attachment.url)
    return {k: v for k, v in message.to_dict().items() if v is not None}
