"""Steady customer traffic through the gateway's real, signed webhooks, delivered the way the
platforms deliver it.

- Many customers on each channel, each sending a numbered sequence of questions
  (`ledger.question`), one every `interval` seconds (jittered).
- Per customer, a message is first delivered only after the previous one was acknowledged
  (the platforms deliver one chat's updates in order).
- Every message is delivered 3 times, with the same update id / message token / mid: a second
  copy right beside the first and a third one later, as platforms do when a webhook answered
  slowly. The gateway must drop the copies.
- Any answer other than 2xx (or no answer within `webhook_timeout`) is retried with the same
  body, with backoff, until it is 2xx, as Telegram, Viber and Meta do.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp

from tests.fakes import instagram as ig
from tests.fakes import viber as vb
from tests.fakes.telegram_updates import text_update
from tests.faults.ledger import Ledger, Message, question
from tests.faults.platforms import CHANNELS, IG_APP_SECRET, TG_SECRET, VIBER_TOKEN

COPIES = 3


@dataclass(frozen=True, slots=True)
class Post:
    """One webhook request, ready to send (and to send again, byte for byte)."""

    path: str
    body: bytes
    headers: dict[str, str]


class Traffic:
    """Drive `customers` customers per channel at `gateway_url` for `duration` seconds."""

    def __init__(
        self,
        gateway_url: str,
        ledger: Ledger,
        *,
        customers: int,
        interval: float = 1.0,
        webhook_timeout: float = 10.0,
        max_backoff: float = 4.0,
        seed: int = 0,
    ) -> None:
        self.url = gateway_url
        self.ledger = ledger
        self.customers = customers
        self.interval = interval
        self.webhook_timeout = webhook_timeout
        self.max_backoff = max_backoff
        self._random = random.Random(seed)
        self._run = uuid.uuid4().int % 10**6
        self._ids = itertools.count(self._run * 10**4)
        self._copies: set[asyncio.Task[None]] = set()
        self._give_up = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None

    async def run(self, duration: float, grace: float) -> None:
        """Send for `duration` seconds; return when every customer's last message was
        acknowledged, or `grace` seconds later (then the platforms give up on the rest; copies
        may still be in flight: see `settle`)."""
        timeout = aiohttp.ClientTimeout(total=self.webhook_timeout)
        self._session = aiohttp.ClientSession(timeout=timeout)
        loop = asyncio.get_running_loop()
        stop_at = loop.time() + duration
        customers = {
            asyncio.create_task(self._customer(channel, self._customer_id(channel, i), stop_at))
            for channel in CHANNELS
            for i in range(self.customers)
        }
        _done, pending = await asyncio.wait(customers, timeout=duration + grace)
        if pending:
            self._give_up.set()
        await asyncio.gather(*customers)

    async def settle(self, timeout: float) -> None:  # noqa: ASYNC109 (a deadline, as named)
        """Let the remaining copies reach a 2xx; after `timeout` the platforms give up."""
        if self._copies:
            await asyncio.wait(set(self._copies), timeout=timeout)
        self._give_up.set()
        if self._copies:
            await asyncio.gather(*self._copies, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    # ---- customers ---------------------------------------------------------------------------

    def _customer_id(self, channel: str, i: int) -> str:
        if channel == "telegram":
            return str(7_000_000_000 + self._run * 1000 + i)
        if channel == "viber":
            return f"flt{self._run:06d}c{i:04d}+/="
        return str(9_100_000_000_000_000 + self._run * 1000 + i)  # an IGSID

    async def _customer(self, channel: str, customer: str, stop_at: float) -> None:
        loop = asyncio.get_running_loop()
        # customers start spread over one interval, not all in the same millisecond
        await asyncio.sleep(self._random.uniform(0, self.interval))
        seq = 0
        while loop.time() < stop_at and not self._give_up.is_set():
            seq += 1
            message = self.ledger.new_message(channel, customer, seq)
            post = self._build(message)
            self._copy(message, post, delay=0.0)
            self._copy(message, post, delay=self._random.uniform(0.0, 0.05))
            self._copy(message, post, delay=self.interval * self._random.uniform(0.5, 2.5))
            # in order per chat: the next message only after this one is acknowledged
            waiter = asyncio.ensure_future(message.accepted.wait())
            give_up = asyncio.ensure_future(self._give_up.wait())
            await asyncio.wait({waiter, give_up}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            give_up.cancel()
            await asyncio.sleep(self.interval * self._random.uniform(0.5, 1.5))

    def _copy(self, message: Message, post: Post, delay: float) -> None:
        task = asyncio.create_task(self._deliver(message, post, delay))
        self._copies.add(task)
        task.add_done_callback(self._copies.discard)

    async def _deliver(self, message: Message, post: Post, delay: float) -> None:
        """Post until 2xx, backing off between tries; stop when the platform gives up."""
        if delay:
            await asyncio.sleep(delay)
        backoff = 0.25
        while not self._give_up.is_set():
            status = await self._post(post)
            self.ledger.posted(message, status)
            if 200 <= status < 300:
                return
            await asyncio.sleep(backoff * self._random.uniform(0.8, 1.2))
            backoff = min(backoff * 2, self.max_backoff)

    async def _post(self, post: Post) -> int:
        assert self._session is not None
        try:
            async with self._session.post(
                self.url + post.path, data=post.body, headers=post.headers
            ) as response:
                await response.read()
                return response.status
        except (aiohttp.ClientError, TimeoutError):
            return 0

    # ---- webhook bodies, signed as each platform signs them ----------------------------------

    def _build(self, message: Message) -> Post:
        text = question(message.seq)
        if message.channel == "telegram":
            update = text_update(int(message.customer), text, update_id=next(self._ids))
            body = json.dumps(update).encode()
            headers = {
                "Content-Type": "application/json",
                "X-Telegram-Bot-Api-Secret-Token": TG_SECRET,
            }
            return Post("/webhooks/telegram", body, headers)
        if message.channel == "viber":
            sender = vb.user(message.customer, name="Fault Tester", language="en")
            doc = vb.text_message(text, sender=sender, token=next(self._ids))
            signed = vb.sign_callback(VIBER_TOKEN, doc)
            return Post("/webhooks/viber" + signed.query, signed.body, signed.headers)
        mid = f"flt-{self._run}-{next(self._ids)}"
        doc: dict[str, Any] = ig.body(ig.entry(ig.message(text, mid=mid, sender=message.customer)))
        signed_ig = ig.sign(IG_APP_SECRET, doc)
        return Post("/webhooks/instagram", signed_ig.body, signed_ig.headers)
