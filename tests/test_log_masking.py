"""A whole conversation through the real entry points (a Telegram contact and messages, a booking
over REST with a known phone, an e-mail, a handoff, an agent's answer and close) with every log
line captured by a DEBUG handler that has the service's filter: no line at INFO or above shows
the phone in any format, the e-mail, a token or secret, or what the customer or agent wrote.
Embedded on SQLite, and scale-out on PostgreSQL + Redis."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from bots.log_masking import mask_secrets, said, secrets_of
from bots.logs import TEXT_FORMAT, MaskingFilter, MaskingFormatter, setup_logging
from tests.bots.conftest import TG_SECRET, new_chat_id
from tests.fakes import wait_until
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from tests.fakes.telegram_updates import contact_update, text_update
from tests.handoff import conftest as handoff_suite
from tests.handoff.conftest import ADMIN, Api

# the handoff suite's app (embedded on SQLite, scale-out on PostgreSQL + Redis) and its fixtures
api = handoff_suite.api
handoff_settings, make_settings = handoff_suite.handoff_settings, handoff_suite.make_settings
fake_telegram, mode, pg_e2e_url = (
    handoff_suite.fake_telegram,
    handoff_suite.mode,
    handoff_suite.pg_e2e_url,
)
database_url_for = handoff_suite.database_url_for

PHONES = ("+380501234567", "0501234567", "380 50 123 45 67", "380501234567", "50 123 45 67")
EMAIL = "olena.koval@example.com"
SAID = [
    "book a cleaning tomorrow at 3pm",
    "Olena Koval",
    "+380501234567",
    "yes",
    f"my email is {EMAIL}, or call 0501234567 or 380 50 123 45 67",
    "I want to talk to a person",
]
TELEGRAM_SAID = "my parcel 7731 goes to Khreshchatyk street"
AGENT_SAID = "Olena, I will call you at +380501234567 about the Khreshchatyk parcel"


class Lines(logging.Handler):
    """Every record at DEBUG and above, formatted as the service would write it."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[int, str]] = []
        self.addFilter(MaskingFilter(secrets))
        self.setFormatter(MaskingFormatter(TEXT_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelno, self.format(record)))


@pytest.fixture
def capture(api: Api) -> Iterator[Lines]:
    root = logging.getLogger()
    level = root.level
    handler = Lines(secrets_of(api.settings))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def conversation(api: Api, fake: FakeTelegram) -> str:
    """The agent's token after a full conversation."""
    chat = new_chat_id()
    await api.telegram(contact_update(chat, PHONES[0], user_id=chat, first_name="Olena"))
    await api.telegram(text_update(chat, TELEGRAM_SAID))
    await wait_until(lambda: len(fake.sent_messages(chat_id=chat)) >= 2, timeout=15, what="reply")
    for text in SAID:
        assert await api.rest("olena-web", text), f"no reply to {text!r}"
    # refused bodies are logged as warnings: what they held is not
    resp = await api.client.post("/webhooks/rest", data=f"call me at {PHONES[0]} or {EMAIL}")
    assert resp.status == 400
    broken = {"update_id": 5, "message": {"message_id": 1, "text": TELEGRAM_SAID, "date": "x"}}
    headers = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    resp = await api.client.post("/webhooks/telegram", json=broken, headers=headers)
    assert resp.status == 400
    found = await api.ok("GET", "/api/customers?phone=%2B380501234567")  # in the access log
    assert found["customers"], "the admin finds the customer by phone"
    agent_id, agent = await api.add_agent("Maria", ["general", "booking"], ["en", "uk"])
    tickets = await api.tickets()
    assert tickets, "the customer was handed over"
    ticket = tickets[0]["id"]
    await api.ok("POST", f"/api/tickets/{ticket}/claim", agent)
    await api.ok("POST", f"/api/tickets/{ticket}/messages", agent, {"text": AGENT_SAID})
    await api.ok("POST", f"/api/tickets/{ticket}/close", agent, {"resolution": AGENT_SAID})
    assert agent_id
    return agent


def forbidden(agent_token: str) -> list[str]:
    return [
        *PHONES,
        EMAIL,
        "olena.koval",
        *(text for text in SAID if len(text) > 3),
        TELEGRAM_SAID,
        "Khreshchatyk",
        AGENT_SAID,
        ADMIN,
        TG_SECRET,
        DEFAULT_TOKEN,
        DEFAULT_TOKEN.split(":")[1],
        agent_token,
    ]


async def test_no_line_at_info_or_above_shows_personal_data(
    api: Api, fake_telegram: FakeTelegram, capture: Lines
) -> None:
    agent = await conversation(api, fake_telegram)
    shown = [line for level, line in capture.lines if level >= logging.INFO]
    assert shown, "the service logs at INFO"
    assert any(level == logging.DEBUG for level, _ in capture.lines)
    leaks = [(word, line) for line in shown for word in forbidden(agent) if word in line]
    assert not leaks, "\n".join(f"{word!r} in: {line}" for word, line in leaks[:20])


def test_tokens_of_every_shape_are_masked() -> None:
    lines = {
        "POST https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/getMe": (
            "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
        ),
        "Authorization: Bearer 3f9c0a1b2d4e5f60aa": "3f9c0a1b2d4e5f60aa",
        "{'X-Telegram-Bot-Api-Secret-Token': 'sekret-value-1'}": "sekret-value-1",
        "GET /webhooks/instagram?hub.verify_token=vt-123456&hub.challenge=1": "vt-123456",
        "viber token 4453b6ac12345678-e02c5f12174805f9-daec2ca9b6fd6d28": "4453b6ac12345678",
        "graph: access_token=EAAGm0PX4ZCpsBAxyz1234567890abcdef": "EAAGm0PX4ZCps",
        "1 validation error [type=string_type, input_value='call me 0501234567', input_type=str]": (
            "call me"
        ),
    }
    for line, secret in lines.items():
        masked = mask_secrets(line)
        assert secret not in masked and "***" in masked, masked
    assert mask_secrets("the admin token is exact-secret-42", ["exact-secret-42"]).endswith("***")
    assert (
        mask_secrets("ticket 42 at 12:30:15 for 3 people") == "ticket 42 at 12:30:15 for 3 people"
    )


@pytest.mark.parametrize("level", [logging.DEBUG, logging.INFO, logging.WARNING])
def test_a_marked_text_shows_only_at_debug(level: int) -> None:
    record = logging.LogRecord("t", level, __file__, 1, "said %s to %d", (said("hello"), 7), None)
    MaskingFilter().filter(record)
    masked: Any = record.masked_message  # type: ignore[attr-defined]
    if level == logging.DEBUG:
        assert masked == "said hello to 7"
    else:
        assert masked == "said ‹text, 5 chars› to 7"
    assert record.getMessage() == "said hello to 7"  # the record itself is as logged


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_service_handler_masks_in_both_formats(fmt: str) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    try:
        setup_logging("DEBUG", fmt, secrets=["the-admin-token-42"])
        root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
        log = logging.getLogger("omnirelay.test")
        log.info("admin %s, %s wrote %s", "the-admin-token-42", EMAIL, said(SAID[0]))
        log.debug("at DEBUG: %s", said(SAID[0]))
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    info, debug = stream.getvalue().splitlines()
    for secret in ("the-admin-token-42", EMAIL, SAID[0]):
        assert secret not in info
    assert "‹text, 31 chars›" in info and "o***@example.com" in info
    assert SAID[0] in debug  # a developer's DEBUG run shows the text
