"""What the agent console's timeline shows of a web chat visitor's taps and phone (newcomer
trial, issue 17): the header's "continue in a messenger" by the title the visitor saw (it was
"link account", the payload's intent), and a phone typed into the widget's phone field as typed
and not verified (it read "shared phone", the words of a contact a platform vouched for).
Through the real widget API and the console's API, both backends."""

from __future__ import annotations

from typing import Any

from handoff.transcript_lines import shown_inbound
from tests.webchat.conftest import Service, Stream

CARRY = "Продовжити в месенджері"  # the widget's header button, as the visitor saw it


async def _answered(stream: Stream, before: int, needle: str) -> None:
    """Wait until the bot, after its first ``before`` messages, said something with ``needle``."""
    await stream.wait_for(lambda _: any(needle in t for t in stream.texts()[before:]))


async def _customer_lines(webchat: Service) -> list[tuple[Any, Any]]:
    (ticket,) = (await webchat.api("GET", "/api/tickets"))["tickets"]
    doc = await webchat.api("GET", f"/api/tickets/{ticket['id']}")
    return [(m["shown"], m["kind"]) for m in doc["transcript"] if m["from"] == "customer"]


async def test_the_console_shows_the_tapped_title_and_a_typed_phone(webchat: Service) -> None:
    visitor = webchat.visitor()
    await visitor.start()
    stream = await visitor.stream()
    try:
        steps: list[tuple[dict[str, Any], str]] = [
            ({"payload": "/link_account", "title": CARRY}, "another messenger"),
            ({"phone": "+380671234567"}, "linked"),
            ({"text": "i want to talk to a human"}, "colleague"),
        ]
        for body, needle in steps:
            before = len(stream.texts())
            await visitor.say(**body)
            await _answered(stream, before, needle)
        lines = await _customer_lines(webchat)
    finally:
        await stream.close()
    assert lines == [
        (CARRY, "button"),
        ("phone typed +380671234567 (not verified)", "contact"),
        ("i want to talk to a human", None),
    ]


def test_a_phone_says_whose_word_it_is() -> None:
    def shown(verified: object, channel: str) -> str | None:
        body = {"contact_phone": "+380671112233", "contact_verified": verified}
        return shown_inbound(None, None, body, channel=channel).text

    assert shown(True, "viber") == "shared phone +380671112233 (verified by Viber)"
    # a Telegram contact card of someone else: the platform does not vouch for it
    assert shown(False, "telegram") == "shared contact +380671112233 (not verified)"
    assert shown(False, "webchat") == "phone typed +380671112233 (not verified)"
