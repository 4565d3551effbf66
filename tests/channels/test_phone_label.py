"""The share-phone button's title comes with the message (`OutboundMessage.phone_label`, a
template in the customer's language); a channel's own default only when it has none."""

from __future__ import annotations

from bots.channels.telegram_render import DEFAULT_PHONE_BUTTON, render
from bots.channels.viber import ViberChannel
from bots.messages import Button, OutboundMessage, decode_outbound, encode_outbound

LABEL = "📱 Поділитися номером"


def test_telegram_contact_button_takes_the_label_and_keeps_every_button() -> None:
    message = OutboundMessage(
        "Ваш номер?",
        buttons=(Button("Пропустити", "/skip"),),
        request_phone=True,
        phone_label=LABEL,
    )
    markup = render(message).markup
    assert markup is not None
    rows = [[(b.text, b.request_contact) for b in row] for row in markup.keyboard]  # type: ignore[union-attr]
    assert rows == [[(LABEL, True)], [("Пропустити", None)]]
    # without a label: the first button titles it (as before), else the default
    unlabelled = render(OutboundMessage("Ваш номер?", request_phone=True)).markup
    assert unlabelled.keyboard[0][0].text == DEFAULT_PHONE_BUTTON  # type: ignore[union-attr]


def test_viber_share_phone_key_takes_the_label() -> None:
    channel = ViberChannel(auth_token="t", bot_name="b", share_phone_label="Share phone number")
    labelled = OutboundMessage("Ваш номер?", request_phone=True, phone_label=LABEL)
    (body,) = channel.render(labelled)
    assert body["keyboard"]["Buttons"][-1]["Text"] == LABEL
    (plain,) = channel.render(OutboundMessage("Your number?", request_phone=True))
    assert plain["keyboard"]["Buttons"][-1]["Text"] == "Share phone number"


def test_the_label_survives_the_outbox() -> None:
    message = OutboundMessage("Ваш номер?", request_phone=True, phone_label=LABEL)
    assert decode_outbound(encode_outbound(message)) == message
    assert decode_outbound({"text": "old row"}).phone_label is None
