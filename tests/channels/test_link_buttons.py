"""Link buttons (`Button.url`, "continue in Telegram"): stored and decoded, fitted within each
platform's limits, and sent through the real clients to the loopback fakes as each platform's
own link button: a Telegram inline `url` button, a Viber `open-url` button, an Instagram button
template with `web_url` buttons, and `url` in the REST reply."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from bots.channels.base import ChannelLimits, SendContext, fit_buttons
from bots.channels.instagram import InstagramChannel
from bots.channels.rest import encode_replies
from bots.channels.telegram import TelegramChannel
from bots.channels.viber import ViberChannel
from bots.channels.viber_render import decode_button_titles
from bots.messages import Button, OutboundMessage, decode_outbound, encode_outbound
from tests.fakes.instagram import ACCOUNT_ID, CUSTOMER, FakeInstagram
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from tests.fakes.viber import FakeViber

CTX = SendContext()
TG_LINK = "https://t.me/omnirelay_bot?start=AB23CD45"
VIBER_LINK = "viber://pa?chatURI=omnirelay&context=AB23CD45"
IG_LINK = "https://ig.me/m/omnirelay?ref=AB23CD45"
TELEGRAM = Button("Continue in Telegram", url=TG_LINK)
VIBER = Button("Continue in Viber", url=VIBER_LINK)
INSTAGRAM = Button("Continue in Instagram", url=IG_LINK)
CHAT = 380_501_777
VIBER_TOKEN = "4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f"
VIBER_USER = "01234567890A+/="
IG_TOKEN = "IGAAJ-long-lived-token"


# ---- the message model -----------------------------------------------------------------------


def test_url_survives_the_outbox_and_old_rows_still_decode() -> None:
    message = OutboundMessage("Continue elsewhere", buttons=(TELEGRAM, Button("Stop", "/stop")))
    stored = orjson.loads(orjson.dumps(encode_outbound(message)))
    assert decode_outbound(stored) == message
    assert decode_outbound(stored).buttons[0].is_link
    # a row written before buttons had a url
    old = {"text": "Pick one", "buttons": [{"title": "Yes", "payload": "/affirm"}]}
    assert decode_outbound(old).buttons == (Button("Yes", "/affirm"),)
    assert not decode_outbound(old).buttons[0].is_link


def test_fit_buttons_keeps_urls_and_lists_surplus_links_with_their_address() -> None:
    limits = ChannelLimits(max_text=100, max_buttons=1, max_button_title=12)
    text, kept = fit_buttons("Where next?", (TELEGRAM, VIBER), limits)
    assert kept == [Button("Continue in…", url=TG_LINK)]
    assert text == f"Where next?\n\nContinue in Viber: {VIBER_LINK}"


def test_rest_replies_carry_the_url_instead_of_a_payload() -> None:
    body = orjson.loads(
        encode_replies([OutboundMessage("Go", buttons=(TELEGRAM, Button("No", "/deny")))])
    )
    assert body["replies"][0]["buttons"] == [
        {"title": "Continue in Telegram", "url": TG_LINK},
        {"title": "No", "payload": "/deny"},
    ]


# ---- Telegram --------------------------------------------------------------------------------


def _keyboard(params: dict[str, Any]) -> Any:
    markup = params.get("reply_markup")
    return json.loads(markup) if isinstance(markup, str) else markup


async def test_telegram_url_buttons_and_links_it_cannot_open(
    telegram: TelegramChannel, fake_telegram: FakeTelegram
) -> None:
    message = OutboundMessage(
        "Continue elsewhere:", buttons=(VIBER, INSTAGRAM, Button("Stop", "/stop"))
    )
    await telegram.send(str(CHAT), message, CTX)
    [sent] = fake_telegram.sent_messages(CHAT)
    # an inline url button for the https link, a callback button as before; viber:// is not an
    # address Telegram's buttons open (BUTTON_URL_INVALID), so it is in the text
    assert _keyboard(sent)["inline_keyboard"] == [
        [{"text": "Continue in Instagram", "url": IG_LINK}],
        [{"text": "Stop", "callback_data": "/stop"}],
    ]
    assert sent["text"] == f"Continue elsewhere:\n\nContinue in Viber: {VIBER_LINK}"


async def test_telegram_phone_keyboard_cannot_hold_links_so_they_go_in_the_text(
    telegram: TelegramChannel, fake_telegram: FakeTelegram
) -> None:
    message = OutboundMessage(
        "Share your phone", buttons=(Button("📱 Share", "/share"), TELEGRAM), request_phone=True
    )
    await telegram.send(str(CHAT), message, CTX)
    [sent] = fake_telegram.sent_messages(CHAT)
    assert _keyboard(sent)["keyboard"] == [[{"text": "📱 Share", "request_contact": True}]]
    assert sent["text"].endswith(f"Continue in Telegram: {TG_LINK}")


async def test_the_fake_refuses_what_telegram_refuses(fake_telegram: FakeTelegram) -> None:
    # the fake checks link buttons as Telegram does, so the tests above prove something
    bad = {"inline_keyboard": [[{"text": "Viber", "url": VIBER_LINK}]]}
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{fake_telegram.base_url}/bot{DEFAULT_TOKEN}/sendMessage",
            json={"chat_id": CHAT, "text": "x", "reply_markup": bad},
        ) as r,
    ):
        assert r.status == 400
        assert (await r.json())["description"] == "Bad Request: BUTTON_URL_INVALID"


# ---- Viber -----------------------------------------------------------------------------------


@pytest.fixture
async def fake_viber() -> AsyncIterator[FakeViber]:
    async with FakeViber(VIBER_TOKEN) as f:
        yield f


@pytest.fixture
async def viber(fake_viber: FakeViber) -> AsyncIterator[ViberChannel]:
    channel = ViberChannel(
        auth_token=VIBER_TOKEN, bot_name="Omnirelay", api_base=fake_viber.base_url
    )
    await channel.start()
    yield channel
    await channel.close()


async def test_viber_open_url_buttons(viber: ViberChannel, fake_viber: FakeViber) -> None:
    message = OutboundMessage("Continue elsewhere:", buttons=(TELEGRAM, Button("Stop", "/stop")))
    await viber.send(VIBER_USER, message, CTX)
    [body] = fake_viber.sent()
    link, stop = body["keyboard"]["Buttons"]
    assert link["ActionType"] == "open-url"
    assert link["ActionBody"] == TG_LINK
    assert link["Text"] == "Continue in Telegram"
    assert stop["ActionType"] == "reply"
    # only buttons that come back are in the payload -> title map
    assert decode_button_titles(body["tracking_data"]) == {"/stop": "Stop"}


async def test_viber_link_only_keyboard_has_no_tracking_data(
    viber: ViberChannel, fake_viber: FakeViber
) -> None:
    await viber.send(VIBER_USER, OutboundMessage("Go on:", buttons=(TELEGRAM, INSTAGRAM)), CTX)
    [body] = fake_viber.sent()
    assert [b["ActionType"] for b in body["keyboard"]["Buttons"]] == ["open-url", "open-url"]
    assert "tracking_data" not in body


# ---- Instagram -------------------------------------------------------------------------------


@pytest.fixture
async def fake_instagram() -> AsyncIterator[FakeInstagram]:
    async with FakeInstagram(IG_TOKEN, ACCOUNT_ID) as f:
        yield f


@pytest.fixture
async def insta(fake_instagram: FakeInstagram) -> AsyncIterator[InstagramChannel]:
    channel = InstagramChannel(
        app_secret="s",
        verify_token="v",
        access_token=IG_TOKEN,
        account_id=ACCOUNT_ID,
        api_base=fake_instagram.base_url,
    )
    await channel.start()
    yield channel
    await channel.close()


def _template(body: dict[str, Any]) -> dict[str, Any]:
    attachment = body["message"]["attachment"]
    assert attachment["type"] == "template"
    payload: dict[str, Any] = attachment["payload"]
    assert payload["template_type"] == "button"
    return payload


async def test_instagram_links_go_in_a_button_template(
    insta: InstagramChannel, fake_instagram: FakeInstagram
) -> None:
    message = OutboundMessage("Continue elsewhere:", buttons=(TELEGRAM, VIBER))
    await insta.send(CUSTOMER, message, CTX)
    [body] = fake_instagram.sent()
    template = _template(body)
    # web_url takes http(s) only: the viber:// link is listed in the template's text
    assert template["buttons"] == [
        {"type": "web_url", "url": TG_LINK, "title": "Continue in Telegram"}
    ]
    assert template["text"] == f"Continue elsewhere:\n\nContinue in Viber: {VIBER_LINK}"
    assert "quick_replies" not in body["message"]


async def test_instagram_template_mixes_postbacks_and_keeps_three_buttons(
    insta: InstagramChannel, fake_instagram: FakeInstagram
) -> None:
    extra = tuple(Button(f"Option {i}", f"/opt{i}") for i in range(1, 4))
    await insta.send(CUSTOMER, OutboundMessage("Choose:", buttons=(*extra, TELEGRAM)), CTX)
    [body] = fake_instagram.sent()
    template = _template(body)
    assert template["buttons"] == [
        {"type": "web_url", "url": TG_LINK, "title": "Continue in Telegram"},
        {"type": "postback", "title": "Option 1", "payload": "/opt1"},
        {"type": "postback", "title": "Option 2", "payload": "/opt2"},
    ]
    assert template["text"] == "Choose:\n\n4. Option 3"


async def test_instagram_long_text_goes_before_the_template(
    insta: InstagramChannel, fake_instagram: FakeInstagram
) -> None:
    text = " ".join(["Слово"] * 300)  # 1799 characters: more than a template's 640
    await insta.send(CUSTOMER, OutboundMessage(text, buttons=(TELEGRAM,)), CTX)
    bodies = fake_instagram.sent()
    assert len(bodies) >= 3
    *texts, last = bodies
    assert all("text" in b["message"] for b in texts)
    template = _template(last)
    assert len(template["text"]) <= 640
    joined = " ".join([*(b["message"]["text"] for b in texts), template["text"]])
    assert joined.split() == text.split()


async def test_instagram_without_links_still_uses_quick_replies(
    insta: InstagramChannel, fake_instagram: FakeInstagram
) -> None:
    await insta.send(CUSTOMER, OutboundMessage("Yes?", buttons=(Button("Yes", "/affirm"),)), CTX)
    [body] = fake_instagram.sent()
    assert body["message"]["quick_replies"] == [
        {"content_type": "text", "title": "Yes", "payload": "/affirm"}
    ]
