"""Fuzzing the four webhooks with correctly signed bodies through the real gateway.

Bodies start from valid platform payloads and get a few fields replaced by wrong types, huge
integers, deep nesting, lone surrogates, long strings and odd timestamps. For every body: no 5xx,
nothing queued from a refused one, everything queued decodes as the worker decodes it and fits
the core's limits, and handling it never holds the event loop for 100 ms of CPU.

`make test` runs a bounded number of examples; `make fuzz` raises it with
OMNIRELAY_FUZZ_EXAMPLES.
"""

from __future__ import annotations

import asyncio
import copy
import gc
import io
import json
import os
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bots.channels.edge import check_event
from bots.channels.errors import MalformedPayload
from bots.keys import BACKENDS
from bots.messages import decode_event
from storage.queue import Delivery
from tests.channels._app import gateway, gateway_settings, queued, signed
from tests.channels.test_bad_inputs import instagram_body, rest_body, telegram_body, viber_body
from tests.fakes import instagram as ig
from tests.fakes import viber as vb
from tests.fakes import wait_until
from tests.fakes.telegram import FakeTelegram

EXAMPLES = int(os.environ.get("OMNIRELAY_FUZZ_EXAMPLES", "150"))
MAX_HANDLER_CPU = 0.1  # seconds of this thread's CPU for one request: a loop stall
Client = TestClient[web.Request, web.Application]

# ---- strategies ---------------------------------------------------------------------------------

RAW = "\x00raw:"  # a string standing for raw JSON text, spliced in after serialising
_RAW_LITERAL = re.compile(r'"\\u0000raw:([^"]*)"')


def raw(text: str) -> str:
    return RAW + text


def nested(depth: int) -> str:
    return raw("[" * depth + "]" * depth)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63) - 1, 0, -1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3),  # lone surrogates
    st.builds(
        lambda unit, n: unit * n,
        st.sampled_from(["a", "1", "a@", "1 ", " ", "é", "😀"]),
        st.integers(0, 70_000),
    ),
    st.sampled_from([raw("1e400"), raw("-1e400"), raw("1e13"), raw("1E308"), raw("-0.0")]),
    st.integers(1, 300).map(nested),
    st.sampled_from([1_100, 100_000]).map(nested),  # (mapped: keeps statistics readable)
)
values = st.recursive(
    scalars,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=8,
)

TEMPLATES: dict[str, list[Any]] = {
    "telegram": [
        telegram_body(),
        {"update_id": 11, "edited_message": {**telegram_body()["message"], "edit_date": 1}},
        {
            "update_id": 12,
            "callback_query": {
                "id": "cb1",
                "from": {"id": 42, "is_bot": False, "first_name": "O"},
                "chat_instance": "1",
                "data": "yes",
                "message": {
                    "message_id": 3,
                    "date": 1732280000,
                    "chat": {"id": 42, "type": "private"},
                },
            },
        },
        {
            "update_id": 13,
            "my_chat_member": {
                "chat": {"id": 42, "type": "private"},
                "from": {"id": 42, "is_bot": False, "first_name": "O"},
                "date": 1732280000,
                "old_chat_member": {"status": "member", "user": {"id": 1, "is_bot": True}},
                "new_chat_member": {
                    "status": "kicked",
                    "until_date": 0,
                    "user": {"id": 1, "is_bot": True, "first_name": "bot"},
                },
            },
        },
        {"update_id": 14, "poll": {"id": "p", "question": "?"}},
    ],
    "viber": [
        viber_body(),
        vb.message({"type": "contact", "contact": {"name": "O", "phone_number": "+380671234567"}}),
        vb.message({"type": "location", "location": {"lat": 50.4, "lon": 30.5}}),
        vb.message({"type": "picture", "media": "https://x/y.jpg", "text": "caption"}),
        vb.conversation_started(),
        vb.subscribed(),
        vb.unsubscribed(),
        vb.receipt("delivered", 4912661846655238100),
        vb.receipt("failed", 4912661846655238101, desc="x"),
        vb.webhook(),
    ],
    "instagram": [
        instagram_body(),
        ig.body(ig.entry(ig.postback("Yes", "yes"), ig.read("m-1"))),
        ig.body(ig.entry(ig.referral("ref-1"), ig.reaction("m-1"))),
        ig.body(ig.entry(ig.echo("our own"))),
        ig.dashboard_test(),
    ],
    "rest": [rest_body(), {"sender": 7, "payload": "/greet", "name": "O", "language": "uk"}],
}


def _slots(node: Any) -> Iterator[tuple[Any, Any]]:
    """(container, key) of every value below the root."""
    stack = [node]
    while stack:
        parent = stack.pop()
        keys = list(parent) if isinstance(parent, dict) else range(len(parent))
        for key in keys:
            yield parent, key
            if isinstance(parent[key], dict | list):
                stack.append(parent[key])


@st.composite
def bodies(draw: st.DrawFn, channel: str) -> bytes:
    """A valid payload of `channel` with up to three values replaced (or keys added)."""
    doc = copy.deepcopy(draw(st.sampled_from(TEMPLATES[channel])))
    for _ in range(draw(st.integers(0, 3))):
        parent, key = draw(st.sampled_from(list(_slots(doc))))
        if isinstance(parent, dict) and draw(st.booleans()):
            key = draw(st.text(max_size=8))
        parent[key] = draw(values)
    text = json.dumps(doc, ensure_ascii=True, separators=(",", ":"))
    return _RAW_LITERAL.sub(lambda m: m.group(1), text).encode()


# ---- the gateway under test ---------------------------------------------------------------------


@dataclass(repr=False)  # a failing example prints the test's arguments: keep them short
class Observed:
    """What the gateway did: CPU per request, and every message that reached the queue."""

    cpu: list[float] = field(default_factory=list)
    queued_ids: set[str] = field(default_factory=set)
    invalid: list[str] = field(default_factory=list)

    gc_time: float = 0.0  # thread CPU spent in the garbage collector so far
    _gc_started: float = 0.0

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.thread_time()
        else:
            self.gc_time += time.thread_time() - self._gc_started

    @web.middleware
    async def measure(self, request: web.Request, handler: Any) -> web.StreamResponse:
        # Thread CPU time, not wall time: the machine may be busy, but what the handler spent
        # on this thread between its awaits is what holds the event loop. Collections of the
        # test process's own heap (Hypothesis keeps a lot alive; the service freezes its heap
        # at start) are not the handler's doing and are left out.
        started, gc_before = time.thread_time(), self.gc_time
        try:
            return await handler(request)  # type: ignore[no-any-return]
        finally:
            self.cpu.append(time.thread_time() - started - (self.gc_time - gc_before))

    async def consume(self, delivery: Delivery) -> None:
        """Decode what was queued the way the worker does, and check it against the core's
        limits; then it is acknowledged."""
        self.queued_ids.add(delivery.id)
        try:
            check_event(decode_event(delivery.body))
        except (MalformedPayload, KeyError, TypeError, ValueError) as e:
            self.invalid.append(f"{e!r}: {delivery.body[:300]!r}")


@pytest.fixture
async def fuzzed(_sqlite_template: Path, tmp_path: Path) -> AsyncIterator[tuple[Client, Observed]]:
    observed = Observed()
    async with (
        FakeTelegram() as fake,
        gateway(
            gateway_settings(_sqlite_template, tmp_path, fake.base_url), observed.measure
        ) as client,
    ):
        gc.callbacks.append(observed.on_gc)
        stop = asyncio.Event()
        queue = client.app[BACKENDS].queue
        consumer = asyncio.create_task(queue.consume(observed.consume, concurrency=4, stop=stop))
        try:
            yield client, observed
        finally:
            stop.set()
            await consumer
            gc.callbacks.remove(observed.on_gc)


async def _settled(client: Client) -> None:
    await wait_until(lambda: _empty(client), timeout=30, what="the queue drained")


async def _empty(client: Client) -> bool:
    return await queued(client) == 0


@pytest.mark.parametrize("channel", ["telegram", "viber", "instagram", "rest"])
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one gateway serves every example, on purpose
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
@given(data=st.data())
async def test_no_signed_body_hurts_the_gateway(
    fuzzed: tuple[Client, Observed], channel: str, data: st.DataObject
) -> None:
    client, observed = fuzzed
    body = data.draw(bodies(channel), label="body")
    before = len(observed.queued_ids)
    path, headers = signed(channel, body)
    # a stream, not bytes: aiohttp's client warns about bodies over 1 MiB given as bytes
    response = await client.post(path, data=io.BytesIO(body), headers=headers)
    text = await response.text()
    await _settled(client)
    added = len(observed.queued_ids) - before
    event(f"{response.status}, {added} queued")
    if channel == "rest" and response.status == 504:
        # accepted and queued, but no worker runs in this gateway to answer
        assert added == 1, text
    else:
        assert response.status < 500, text
    if response.status >= 400 and response.status != 504:
        assert added == 0, f"a refused body was queued: {text}"
    assert not observed.invalid, observed.invalid
    assert observed.cpu and observed.cpu[-1] < MAX_HANDLER_CPU, (
        f"the handler held the loop for {observed.cpu[-1]:.3f} s of CPU"
    )
