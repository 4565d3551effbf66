"""Sending to Viber against the loopback fake: rendering, status mapping, set_webhook."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bots.channels.base import SendContext
from bots.channels.errors import (
    PermanentSendError,
    RateLimited,
    RecipientUnreachable,
    TransientSendError,
)
from bots.channels.viber import ViberChannel
from bots.messages import Attachment, Button, OutboundMessage
from tests.channels._vi_helpers import RecordingIngress, webhook_client
from tests.fakes import viber as vb
from tests.fakes.viber import FIRST_TOKEN, FakeViber

TOKEN = "4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f"
USER = "01234567890A+/="
CTX = SendContext()


@pytest.fixture
async def fake() -> AsyncIterator[FakeViber]:
    async with FakeViber(TOKEN) as f:
        yield f


@pytest.fixture
async def viber(fake: FakeViber) -> AsyncIterator[ViberChannel]:
    channel = ViberChannel(
        auth_token=TOKEN,
        bot_name="A very long bot name that Viber would refuse",
        api_base=fake.base_url,
    )
    await channel.start()
    yield channel
    await channel.close()


def buttons(n: int) -> tuple[Button, ...]:
    return tuple(Button(f"Варіант {i}", f"opt:{i}") for i in range(1, n + 1))


async def test_text_send_returns_the_exact_token(viber: ViberChannel, fake: FakeViber) -> None:
    sent = await viber.send(USER, OutboundMessage(text="Привіт!"), CTX)
    assert sent.platform_message_id == str(FIRST_TOKEN)
    assert sent.parts == 1
    [call] = fake.calls
    assert call.headers["X-Viber-Auth-Token"] == TOKEN
    body = call.body
    assert (body["receiver"], body["type"], body["text"]) == (USER, "text", "Привіт!")
    assert body["sender"]["name"] == "A very long bot name that Vi"  # 28 characters
    assert "keyboard" not in body and "min_api_version" not in body


async def test_few_buttons_are_full_width_reply_buttons(
    viber: ViberChannel, fake: FakeViber
) -> None:
    await viber.send(USER, OutboundMessage(text="Оберіть", buttons=buttons(3)), CTX)
    [body] = fake.sent()
    keyboard = body["keyboard"]
    assert keyboard["Type"] == "keyboard"
    assert [
        (b["ActionType"], b["ActionBody"], b["Text"], b["Columns"]) for b in keyboard["Buttons"]
    ] == [("reply", f"btn:opt:{i}", f"Варіант {i}", 6) for i in (1, 2, 3)]
    assert body["text"] == "Оберіть"
    assert "Варіант 1" in body["tracking_data"]


async def test_many_buttons_go_two_per_row_and_surplus_is_a_numbered_list(
    viber: ViberChannel, fake: FakeViber
) -> None:
    await viber.send(USER, OutboundMessage(text="Час?", buttons=buttons(30)), CTX)
    [body] = fake.sent()  # the fake rejects more than 12 rows
    rendered = body["keyboard"]["Buttons"]
    assert len(rendered) == 24
    assert {b["Columns"] for b in rendered} == {3}
    listed = "\n".join(f"{i}. Варіант {i}" for i in range(25, 31))
    assert body["text"].endswith(listed)


async def test_request_phone_adds_share_phone_with_api_level_3(
    viber: ViberChannel, fake: FakeViber
) -> None:
    await viber.send(
        USER, OutboundMessage(text="Ваш номер?", buttons=buttons(24), request_phone=True), CTX
    )
    [body] = fake.sent()
    rendered = body["keyboard"]["Buttons"]
    assert rendered[-1]["ActionType"] == "share-phone"
    assert rendered[-1]["Columns"] == 6
    assert len(rendered) == 23  # 22 two to a row + the phone row = 12 rows
    assert body["min_api_version"] == 3
    assert "23. Варіант 23" in body["text"]


async def test_long_text_is_split_keyboard_on_last_part(
    viber: ViberChannel, fake: FakeViber
) -> None:
    paragraph = "Дуже довгий опис послуги. " * 300  # ~7800 characters
    sent = await viber.send(USER, OutboundMessage(text=paragraph * 2, buttons=buttons(2)), CTX)
    bodies = fake.sent()
    assert sent.parts == len(bodies) == 3
    assert all(len(b["text"]) <= 7000 for b in bodies)
    assert ["keyboard" in b for b in bodies] == [False, False, True]
    assert sent.platform_message_id == str(FIRST_TOKEN + 2)
    assert "".join(b["text"] for b in bodies).replace(" ", "") == (paragraph * 2).replace(" ", "")


async def test_attachments(viber: ViberChannel, fake: FakeViber) -> None:
    image = Attachment(kind="image", url="https://example.com/map.png")
    place = Attachment(kind="location", latitude=50.45, longitude=30.52)
    await viber.send(USER, OutboundMessage(text="Ми тут", attachment=image), CTX)
    await viber.send(USER, OutboundMessage(text="", attachment=place, buttons=buttons(1)), CTX)
    kinds = [(b["type"], "keyboard" in b) for b in fake.sent()]
    assert kinds == [("picture", False), ("text", False), ("location", True)]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (12, RateLimited),
        (5, RecipientUnreachable),
        (6, RecipientUnreachable),
        (99, TransientSendError),
        (3, PermanentSendError),
    ],
)
async def test_non_zero_status_is_an_error(
    viber: ViberChannel, fake: FakeViber, status: int, error: type[Exception]
) -> None:
    fake.fail_next(status=status)
    with pytest.raises(error, match=f"status {status}"):
        await viber.send(USER, OutboundMessage(text="x"), CTX)
    # the next send goes through
    assert (await viber.send(USER, OutboundMessage(text="y"), CTX)).platform_message_id


async def test_unsubscribed_user_is_unreachable(viber: ViberChannel, fake: FakeViber) -> None:
    fake.unsubscribed.add(USER)
    with pytest.raises(RecipientUnreachable):
        await viber.send(USER, OutboundMessage(text="x"), CTX)


async def test_wrong_token_is_permanent(fake: FakeViber) -> None:
    channel = ViberChannel(auth_token="wrong", bot_name="Bot", api_base=fake.base_url)
    try:
        with pytest.raises(PermanentSendError, match="status 2"):
            await channel.send(USER, OutboundMessage(text="x"), CTX)
    finally:
        await channel.close()


async def test_network_failure_is_transient() -> None:
    channel = ViberChannel(auth_token=TOKEN, bot_name="Bot", api_base="http://127.0.0.1:9/pa")
    try:
        with pytest.raises(TransientSendError):
            await channel.send(USER, OutboundMessage(text="x"), CTX)
    finally:
        await channel.close()


async def test_start_sets_the_webhook_which_viber_checks(fake: FakeViber) -> None:
    ingress = RecordingIngress()
    probe = ViberChannel(auth_token=TOKEN, bot_name="Bot", api_base=fake.base_url)
    async with webhook_client(probe, ingress) as client:
        public_url = str(client.make_url("/")).rstrip("/")
        channel = ViberChannel(
            auth_token=TOKEN, bot_name="Bot", api_base=fake.base_url, public_url=public_url + "/"
        )
        try:
            await channel.start()
            assert channel.webhook_registration is not None
            events = await channel.webhook_registration
        finally:
            await channel.close()
    [call] = await fake.wait_for("set_webhook")
    assert call.status == 0
    assert call.body["url"] == public_url + "/webhooks/viber"
    assert set(call.body["event_types"]) == {"delivered", "seen", "failed", "conversation_started"}
    assert "subscribed" in events
    assert fake.webhook_url == public_url + "/webhooks/viber"
    assert ingress.accepted == []  # the check callback carries no event
    await probe.close()


async def test_set_webhook_fails_when_our_url_does_not_answer(fake: FakeViber) -> None:
    channel = ViberChannel(auth_token=TOKEN, bot_name="Bot", api_base=fake.base_url)
    try:
        with pytest.raises(PermanentSendError, match="status 1"):
            await channel.set_webhook("http://127.0.0.1:9/webhooks/viber")
    finally:
        await channel.close()


async def test_no_webhook_without_public_url(viber: ViberChannel, fake: FakeViber) -> None:
    assert viber.webhook_registration is None
    assert fake.calls == []


async def test_text_is_split_by_bytes_too(viber: ViberChannel, fake: FakeViber) -> None:
    text = "😀 " * 3500  # 7000 characters, 17.5 KB of UTF-8
    hearts = "❤️" * 3500  # 7000 characters, 21 KB
    wide = "𝔸" * 6999  # 4 bytes each: 28 KB, over our 24 KB per part
    for t in (text, hearts, wide):
        await viber.send(USER, OutboundMessage(text=t), CTX)
    assert [len(b["text"]) for b in fake.sent()][:2] == [len(text.strip()), 7000]
    assert len(fake.sent()) == 4


def test_render_has_no_receiver() -> None:
    channel = ViberChannel(auth_token=TOKEN, bot_name="Bot")
    [body] = channel.render(OutboundMessage(text="a", buttons=buttons(1)))
    assert "receiver" not in body and body["sender"] == {"name": "Bot"}


async def test_phone_request_alone_and_receipt_round_trip(
    viber: ViberChannel, fake: FakeViber
) -> None:
    sent = await viber.send(USER, OutboundMessage(text="Ваш номер?", request_phone=True), CTX)
    [body] = fake.sent()
    assert [b["ActionType"] for b in body["keyboard"]["Buttons"]] == ["share-phone"]
    assert body["min_api_version"] == 3 and "tracking_data" not in body
    ingress = RecordingIngress()
    assert sent.platform_message_id is not None
    receipt = vb.receipt("delivered", int(sent.platform_message_id), user_id=USER)
    signed = vb.sign_callback(TOKEN, receipt)
    async with webhook_client(viber, ingress) as client:
        response = await client.post("/webhooks/viber", data=signed.body, headers=signed.headers)
    assert response.status == 200
    assert ingress.channel_events[0].message_id == sent.platform_message_id
