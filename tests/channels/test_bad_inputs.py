"""Each input that once made a webhook answer 500 (or passed it to fail in the worker), per
channel, through the real gateway: the status it gets now, and that nothing of a refused body
was queued."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bots.channels.viber_parse import parse_callback
from tests.channels._app import gateway, gateway_settings, queued, signed
from tests.fakes import instagram as ig
from tests.fakes import viber as vb
from tests.fakes.telegram import FakeTelegram

HOLE = "__HOLE__"  # replaced by raw JSON text after serialising, so any bytes can go there
Client = TestClient[web.Request, web.Application]


def telegram_body(text: Any = "hello", date: Any = 1732280000, chat_id: Any = 42) -> Any:
    return {
        "update_id": 9001,
        "message": {
            "message_id": 1,
            "date": date,
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": 42, "is_bot": False, "first_name": "Olena", "language_code": "uk"},
            "text": text,
        },
    }


def viber_body(text: Any = "hello", timestamp: Any = 1732280000000, token: Any = None) -> Any:
    doc = vb.text_message("x", token=4912661846655238145 if token is None else token)
    doc["message"]["text"] = text
    doc["timestamp"] = timestamp
    return doc


def instagram_body(text: Any = "hello", timestamp: Any = 1732280000000, sender: Any = None) -> Any:
    item = ig.message("x", mid="m-1")
    item["message"]["text"] = text
    item["timestamp"] = timestamp
    if sender is not None:
        item["sender"]["id"] = sender
    return ig.body(ig.entry(item))


def rest_body(text: Any = "hello", sender: Any = "customer-1") -> Any:
    return {"sender": sender, "text": text, "message_id": "m-1"}


BUILDERS: dict[str, Callable[..., Any]] = {
    "telegram": telegram_body,
    "viber": viber_body,
    "instagram": instagram_body,
    "rest": rest_body,
}


def body_of(channel: str, raw: str | None = None, **fields: Any) -> bytes:
    """A body of `channel` whose `HOLE` field (if any) holds the raw JSON text `raw`."""
    encoded = orjson.dumps(BUILDERS[channel](**fields))
    if raw is not None:
        encoded = encoded.replace(f'"{HOLE}"'.encode(), raw.encode())
    return encoded


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


# (case, channel, body, expected status, queued?) -- 200/accepted for what a platform may
# really send (a lone surrogate becomes U+FFFD), 400 for what can never be valid.
REFUSED = 400
CASES: list[tuple[str, str, bytes, int]] = []
for ch in ("telegram", "viber", "instagram", "rest"):
    CASES += [
        ("nesting past the recursion limit", ch, body_of(ch, deep(100_000), text=HOLE), REFUSED),
        ("nesting of 255 levels", ch, body_of(ch, deep(255), text=HOLE), REFUSED),
        ("text is a number", ch, body_of(ch, text=5), REFUSED),
        ("text of 300,000 characters", ch, body_of(ch, text="a" * 300_000), REFUSED),
        ("an integer of 2**64", ch, body_of(ch, str(2**64), text=HOLE), REFUSED),
        ("an integer of 2**70", ch, body_of(ch, str(2**70), text=HOLE), REFUSED),
        ("not JSON", ch, b'{"update_id": 1,', REFUSED),
        ("a JSON array", ch, b"[1, 2, 3]", REFUSED),
    ]
CASES += [
    ("date 1e13", "telegram", body_of("telegram", date=1e13), REFUSED),
    ("date 1e400", "telegram", body_of("telegram", "1e400", date=HOLE), REFUSED),
    ("date 10**13", "telegram", body_of("telegram", date=10**13), REFUSED),
    ("chat id 2**64", "telegram", body_of("telegram", str(2**64), chat_id=HOLE), REFUSED),
    ("chat id 2**63", "telegram", body_of("telegram", chat_id=2**63), REFUSED),
    ("timestamp 1e13", "viber", body_of("viber", timestamp=1e13), REFUSED),
    ("timestamp 1e400", "viber", body_of("viber", "1e400", timestamp=HOLE), REFUSED),
    ("timestamp 10**18", "viber", body_of("viber", timestamp=10**18), REFUSED),
    ("message_token 2**64", "viber", body_of("viber", str(2**64), token=HOLE), REFUSED),
    ("message_token 2**63", "viber", body_of("viber", token=2**63), REFUSED),
    ("timestamp 1e13", "instagram", body_of("instagram", timestamp=1e13), REFUSED),
    ("timestamp 1e400", "instagram", body_of("instagram", "1e400", timestamp=HOLE), REFUSED),
    ("timestamp 10**18", "instagram", body_of("instagram", timestamp=10**18), REFUSED),
    ("sender id 2**64", "instagram", body_of("instagram", str(2**64), sender=HOLE), REFUSED),
    (
        "entry[0].messaging is 5",
        "instagram",
        orjson.dumps({"object": "instagram", "entry": [{"id": "1", "messaging": 5}]}),
        REFUSED,
    ),
    ("sender 2**64", "rest", body_of("rest", str(2**64), sender=HOLE), REFUSED),
]


@pytest.fixture
async def client(_sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Client]:
    async with (
        FakeTelegram() as fake,
        gateway(gateway_settings(_sqlite_template, tmp_path, fake.base_url)) as c,
    ):
        yield c


async def post(client: Client, channel: str, body: bytes) -> tuple[int, Any]:
    path, headers = signed(channel, body)
    response = await client.post(path, data=body, headers=headers)
    text = await response.text()
    return response.status, text


@pytest.mark.parametrize(
    ("channel", "body", "status"),
    [c[1:] for c in CASES],
    ids=[f"{c[1]}: {c[0]}" for c in CASES],
)
async def test_a_bad_body_is_refused_and_nothing_is_queued(
    client: Client, channel: str, body: bytes, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    got, text = await post(client, channel, body)
    assert got == status, text
    assert "error" in orjson.loads(text)
    assert await queued(client) == 0
    warnings = [r for r in caplog.records if r.name.startswith("bots.") and r.levelno >= 30]
    assert len(warnings) == 1 and warnings[0].exc_info is None


# A lone surrogate (a text cut inside an emoji) is no reason to lose a customer's message.
SURROGATE = r'"ok \ud800 then \udfff"'


@pytest.mark.parametrize("channel", ["telegram", "viber", "instagram"])
async def test_a_lone_surrogate_is_replaced_and_the_message_kept(
    client: Client, channel: str
) -> None:
    status, text = await post(client, channel, body_of(channel, SURROGATE, text=HOLE))
    assert status == 200, text
    assert await queued(client) == 1


async def test_a_lone_surrogate_over_rest_is_accepted(client: Client) -> None:
    status, _ = await post(client, "rest", body_of("rest", SURROGATE, text=HOLE))
    assert status == 504  # accepted; no worker runs in this gateway, so nobody answers
    assert await queued(client) == 1


async def test_the_viber_message_token_stays_exact(client: Client) -> None:
    body = body_of("viber", token=2**63 - 1)
    status, _ = await post(client, "viber", body)
    assert status == 200 and await queued(client) == 1
    _doc, events = parse_callback(body, payload_prefix="btn:")
    assert [e.dedup_key for e in events] == [f"viber:{2**63 - 1}"]  # not rounded to a float


@pytest.mark.parametrize("channel", ["telegram", "viber", "instagram"])
async def test_an_event_the_bot_ignores_is_acknowledged_and_dropped(
    client: Client, channel: str, caplog: pytest.LogCaptureFixture
) -> None:
    ignored = {
        "telegram": {"update_id": 5, "poll": {"id": "1", "question": "?"}},
        "viber": {"event": "client_status", "timestamp": 1, "user_id": "u"},
        "instagram": ig.body(ig.entry(ig.reaction("m-1"))),
    }[channel]
    status, _ = await post(client, channel, orjson.dumps(ignored))
    assert status == 200 and await queued(client) == 0
