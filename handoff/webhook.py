"""The outbound webhook: every ticket event POSTed to a help desk, HMAC-signed, with retries.

Headers (see handoff/README.md): ``X-Omnirelay-Event``, ``X-Omnirelay-Delivery`` (unique id,
the same on every retry), ``X-Omnirelay-Timestamp`` (unix seconds) and
``X-Omnirelay-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import time
import uuid

import aiohttp

from handoff.events import HandoffEvent

__all__ = ["WebhookSender", "sign"]

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookSender:
    """Posts events in background tasks; `drain` waits for them at shutdown."""

    def __init__(
        self,
        url: str,
        secret: str | None,
        *,
        max_attempts: int = 6,
        base_backoff: float = 0.5,
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self._secret = secret or ""
        self._max_attempts = max_attempts
        self._base_backoff = base_backoff
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[bool]] = set()

    def submit(self, event: HandoffEvent) -> asyncio.Task[bool]:
        task = asyncio.create_task(self.deliver(event), name=f"handoff-webhook-{event.kind}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def deliver(self, event: HandoffEvent) -> bool:
        """POST with retries and exponential backoff; True once the receiver answered 2xx."""
        body = event.to_json()
        delivery = event.id or uuid.uuid4().hex
        for attempt in range(1, self._max_attempts + 1):
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-Omnirelay-Event": event.kind,
                "X-Omnirelay-Delivery": delivery,
                "X-Omnirelay-Timestamp": timestamp,
                "X-Omnirelay-Signature": sign(self._secret, timestamp, body),
            }
            try:
                async with self._client().post(self.url, data=body, headers=headers) as resp:
                    if 200 <= resp.status < 300:
                        return True
                    if resp.status not in RETRY_STATUSES:
                        log.error(
                            "handoff webhook refused %s (HTTP %d); not retried",
                            event.kind,
                            resp.status,
                        )
                        return False
                    problem = f"HTTP {resp.status}"
            except (aiohttp.ClientError, TimeoutError) as e:
                problem = repr(e)
            if attempt == self._max_attempts:
                break
            wait = self._base_backoff * 2 ** (attempt - 1) * (1 + random.random() / 4)
            log.warning(
                "handoff webhook %s failed (%s), attempt %d; retry in %.1fs",
                event.kind,
                problem,
                attempt,
                wait,
            )
            await asyncio.sleep(wait)
        log.error("handoff webhook gave up on %s for ticket %s", event.kind, event.ticket_id)
        return False

    async def drain(self, grace: float = 10.0) -> None:
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session
