"""What the widget is given to draw, and the visitor cookie's attributes."""

from __future__ import annotations

import base64

import pytest
from aiohttp import web

from bots.channels.errors import PermanentSendError
from bots.channels.webchat_auth import COOKIE, Signer, identity_hash, verified_customer
from bots.channels.webchat_render import render
from bots.messages import Attachment, Button, OutboundMessage


def test_buttons_links_and_the_phone_field() -> None:
    message = OutboundMessage(
        "Pick one",
        buttons=(
            Button("Cleaning", '/inform{"service": "cleaning"}'),
            Button("Continue in Telegram", url="https://t.me/demo_bot?start=ABC123"),
            Button("Our site", url="https://clinic.example.com/"),
            Button("Sneaky", url="javascript:alert(1)"),
        ),
        request_phone=True,
        phone_label="Share my phone number",
        sender="agent",
    )
    drawn = render(message)
    assert drawn["sender"] == "agent" and drawn["phone"] == {"label": "Share my phone number"}
    chip, telegram, site = drawn["buttons"]  # a javascript: link is never drawn
    assert chip == {"title": "Cleaning", "payload": '/inform{"service": "cleaning"}'}
    assert telegram["qr"].startswith("data:image/svg+xml;base64,")  # a messenger: a QR code
    svg = base64.b64decode(telegram["qr"].split(",", 1)[1]).decode()
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')  # an <img> needs it
    assert "qr" not in site


def test_what_does_not_fit_becomes_a_numbered_list_and_media_a_link() -> None:
    buttons = tuple(Button(f"Slot {i}", f"/slot{i}") for i in range(12))
    drawn = render(
        OutboundMessage(
            "Times:", buttons=buttons, attachment=Attachment("image", url="https://x/y.png")
        )
    )
    assert len(drawn["buttons"]) == 10
    assert "https://x/y.png" in drawn["text"]
    assert "11. Slot 10" in drawn["text"] and "12. Slot 11" in drawn["text"]
    with pytest.raises(PermanentSendError):
        render(OutboundMessage("  "))


@pytest.mark.parametrize(("secure", "same_site"), [(True, "None"), (False, "Lax")])
def test_the_cookie_is_http_only_and_cross_site_only_when_secure(
    secure: bool, same_site: str
) -> None:
    response = web.Response()
    Signer(b"k" * 32, secure=secure).set(response, "v:abc")
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] is True and cookie["samesite"] == same_site
    assert bool(cookie["secure"]) is secure and cookie["path"] == "/webchat"


def test_a_customer_id_is_verified_only_with_its_own_hash() -> None:
    good = identity_hash("s3cret", "cust-1")
    assert verified_customer("s3cret", "cust-1", good) == "u:cust-1"
    assert verified_customer("s3cret", "cust-1", good.upper()) == "u:cust-1"
    assert verified_customer("s3cret", "cust-2", good) is None
    assert verified_customer(None, "cust-1", good) is None  # no secret: no identities
    assert verified_customer("s3cret", "a b", identity_hash("s3cret", "a b")) is None
    assert verified_customer("s3cret", 5, good) is None
