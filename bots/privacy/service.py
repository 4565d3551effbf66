"""Export and erasure behind one object, shared by the admin API, the chat flow and the CLI.

Erasure jobs run in tracked background tasks (`start`); a job a stopped process left unfinished
is resumed when the next one starts (`resume_unfinished`). A customer's copy of their data in
the chat is a link, ``<OMNIRELAY_PUBLIC_URL>/privacy/export/<token>``, valid for
`LINK_TTL`; the token names the customer and its expiry and is signed with a key derived from
``OMNIRELAY_ADMIN_TOKEN`` (so without both settings no link is offered).
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from bots.config import Settings, secret
from bots.privacy.erasure import Eraser, WebhookTarget
from bots.privacy.export import customer_ids, export_customer, summary
from storage.audit import audit
from storage.backends import Backends
from storage.db import Database
from storage.errors import NotFound
from storage.models import CustomerPhone
from storage.repositories.privacy import ErasureJob, load_job

__all__ = ["LINK_TTL", "PrivacyService"]

log = logging.getLogger(__name__)

LINK_TTL = dt.timedelta(hours=1)
_LINK_KEY_LABEL = b"omnirelay privacy export link"

Resources = Callable[[], tuple[Database, Backends | None]]


class PrivacyService:
    """Exports, erasure jobs and the signed export links of one process."""

    def __init__(
        self, settings: Settings, resources: Resources, clock: Callable[[], dt.datetime]
    ) -> None:
        self._settings = settings
        self._resources = resources
        self.clock = clock
        self._tasks: set[asyncio.Task[Any]] = set()
        admin = secret(settings.admin_token)
        self._link_key = hmac.digest(admin.encode(), _LINK_KEY_LABEL, "sha256") if admin else None

    def eraser(self) -> Eraser:
        db, backends = self._resources()
        s = self._settings
        hook = secret(s.handoff_webhook_secret)
        return Eraser(
            db=db,
            backends=backends,
            review_log=s.nlu_review_log,
            webhook=WebhookTarget(s.handoff_webhook_url, hook) if s.handoff_webhook_url else None,
            clock=self.clock,
            lock_timeout=s.lock_timeout,
        )

    async def export(self, customer_id: int, actor: str, ip: str | None = None) -> dict[str, Any]:
        """The export document (`NotFound` for an unknown id), audited as
        ``customer.exported``."""
        db, _ = self._resources()
        doc = await export_customer(db, customer_id, self.clock())
        await audit(
            db,
            actor=actor,
            action="customer.exported",
            target_type="customer",
            target_id=customer_id,
            ip=ip,
        )
        return doc

    async def summary(self, customer_id: int) -> dict[str, Any]:
        """Counts and channels of what is kept (for the chat; not audited: nothing leaves)."""
        db, _ = self._resources()
        return summary(await export_customer(db, customer_id, self.clock()))

    async def verified_here(self, customer_id: int, channel: str) -> bool:
        """Did this channel vouch for one of the customer's phones (a platform contact of the
        sender's own, or a code sent to the phone and typed back)? Only then does the chat
        hand out a copy of the data."""
        db, _ = self._resources()
        async with db.session() as s:
            ids = await customer_ids(s, customer_id)
            found = await s.scalar(
                select(CustomerPhone.id)
                .where(
                    CustomerPhone.customer_id.in_(ids),
                    CustomerPhone.verified.is_(True),
                    CustomerPhone.verified_via.in_((channel, "code")),
                )
                .limit(1)
            )
        return found is not None

    async def request_erasure(self, customer_id: int, actor: str) -> ErasureJob:
        """The customer's erasure job (see `Eraser.request`); not started."""
        return await self.eraser().request(customer_id, actor)

    async def job(self, job_id: int) -> ErasureJob:
        db, _ = self._resources()
        async with db.session() as s:
            job = await load_job(s, job_id)
        if job is None:
            raise NotFound(f"erasure {job_id} not found")
        return job

    async def run(self, job_id: int) -> ErasureJob:
        return await self.eraser().run(job_id)

    def start(self, job_id: int) -> asyncio.Task[Any]:
        """Run the job in a tracked background task (a chat's job waits for its turn's lock)."""
        # a context of its own: a job started inside a turn must not carry the turn's fence
        task = asyncio.create_task(
            self._run_logged(job_id), name=f"erasure-{job_id}", context=contextvars.Context()
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run_logged(self, job_id: int) -> None:
        try:
            job = await self.run(job_id)
            log.info("erasure %d: %s at step %d", job_id, job.state, job.step)
        except Exception:
            log.exception("erasure %d stopped; it resumes on the next start", job_id)

    async def resume_unfinished(self) -> list[int]:
        """Start every job a stopped process left pending or running."""
        db, _ = self._resources()
        async with db.session() as s:
            ids = list(
                await s.scalars(
                    select(ErasureJob.id).where(ErasureJob.state.in_(("pending", "running")))
                )
            )
        for job_id in ids:
            self.start(job_id)
        return ids

    async def close(self, grace: float = 10.0) -> None:
        """Wait for running jobs; what is still running after ``grace`` is cancelled (and
        resumed by the next process)."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(list(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    # ---- signed export links ----------------------------------------------------------------

    def export_link(self, customer_id: int) -> str | None:
        """A link to the customer's export, valid for `LINK_TTL`; None without a public URL
        or an admin token to sign it with."""
        base = self._settings.public_url
        if self._link_key is None or not base:
            return None
        expires = int((self.clock() + LINK_TTL).timestamp())
        claim = f"{customer_id}.{expires}"
        return f"{base.rstrip('/')}/privacy/export/{claim}.{self._sign(claim)}"

    def link_customer(self, token: str) -> int | None:
        """The customer a link's token names, when its signature holds and it has not
        expired; else None."""
        parts = token.split(".")
        if self._link_key is None or len(parts) != 3 or not all(p for p in parts):
            return None
        claim = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(self._sign(claim), parts[2]):
            return None
        try:
            customer_id, expires = int(parts[0]), int(parts[1])
        except ValueError:
            return None
        return customer_id if self.clock().timestamp() < expires else None

    def _sign(self, claim: str) -> str:
        assert self._link_key is not None
        mac = hmac.digest(self._link_key, claim.encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")
