"""Merging two customer profiles and undoing a merge, with their sessions.

Locking: a merge holds the customer locks of both profiles (in id order), so no message of
either is processed meanwhile. The absorbed profile's session becomes a tombstone
(``data["merged_into"]``): a worker that cached the old identity -> customer mapping sees it
right after taking the (old) customer's lock, looks the identity up again and takes the
survivor's lock instead (`TurnSteps.customer_locked`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from bots.identity.sessions import (
    adopt,
    merge_snapshot,
    prefer,
    restored,
    resume_interrupted,
    tombstone,
)
from storage.errors import NotFound
from storage.repositories.identity import IdentityRepository
from storage.sessions import Session

if TYPE_CHECKING:
    from storage.backends import Backends
    from storage.db import Database
    from storage.models import CustomerMerge

log = logging.getLogger(__name__)


class Merges:
    """Merges and undos of profiles, each under the customer locks of both."""

    def __init__(self, db: Database, backends: Backends, *, lock_timeout: float = 30.0) -> None:
        self.db = db
        self.backends = backends
        self.lock_timeout = lock_timeout

    async def merge(
        self, survivor: int, absorbed: int, *, actor: str, reason: str, now: datetime
    ) -> CustomerMerge:
        """Merge two profiles (both locks held meanwhile); the survivor keeps the session with
        an unfinished task, else the newer one; the absorbed session becomes a tombstone."""
        async with self.locked([survivor, absorbed]):
            kept = await self.backends.sessions.get(survivor)
            gone = await self.backends.sessions.get(absorbed)
            adopted = prefer(gone, kept)
            merge = await self._merge_db(survivor, absorbed, actor, reason, now, gone, adopted)
            if adopted:
                await self.backends.sessions.save(adopt(kept, gone))
            await self._tombstone(gone, survivor, merge.id)
        log.info("customer %s merged into %s (%s, merge %s)", absorbed, survivor, reason, merge.id)
        return merge

    async def merge_into_turn(
        self,
        requester: int,
        owner: int,
        *,
        actor: str,
        reason: str,
        now: datetime,
        adopts: Callable[[Session], bool],
    ) -> tuple[CustomerMerge, Session]:
        """Merge ``owner`` into ``requester``, whose turn holds its lock and saves its session
        (taking over the absorbed session's task when ``adopts`` says so); the absorbed
        session."""
        async with self.locked([owner], held=[requester]):
            absorbed = await self.backends.sessions.get(owner)
            adopted = adopts(absorbed)
            merge = await self._merge_db(requester, owner, actor, reason, now, absorbed, adopted)
            await self._tombstone(absorbed, requester, merge.id)
        log.info("customer %s merged into %s (%s, merge %s)", owner, requester, reason, merge.id)
        return merge, absorbed

    async def undo(self, merge_id: int, *, actor: str, now: datetime) -> CustomerMerge:
        """Undo a merge: rows back, the absorbed profile's session restored (but for a task
        finished meanwhile), and the survivor's identities re-checked by every worker (its
        session marks the change)."""
        async with self.db.session() as s:
            record = await IdentityRepository(s).get_merge(merge_id)
            if record is None:
                raise NotFound(f"merge {merge_id} does not exist")
            ids = [record.survivor_id, record.absorbed_id]
        async with self.locked(ids):
            async with self.db.transaction() as s:
                record = await IdentityRepository(s).undo(merge_id, actor=actor, now=now)
            stored = await self.backends.sessions.get(record.absorbed_id)
            kept = await self.backends.sessions.get(record.survivor_id)
            back = restored(record.absorbed_session, record.absorbed_id, stored.version, kept)
            back.data["identities_changed_at"] = time.time()
            await self.backends.sessions.save(back)
            kept.data["identities_changed_at"] = time.time()
            await self.backends.sessions.save(kept)
        log.info("merge %s undone by %s", merge_id, actor)
        return record

    async def resume_after_link(self, customer_id: int) -> None:
        """After a link made by an event: the linking flow that offered the link is over, and
        the task it interrupted is where the customer's next message, on any channel, goes on."""
        async with self.locked([customer_id]):
            session = await self.backends.sessions.get(customer_id)
            if not resume_interrupted(session):
                return
            await self.backends.sessions.save(session)
        log.info("customer %s: linked by an event; the interrupted task goes on", customer_id)

    async def moved_since(
        self, customer_id: int, resolved_at: float, *, cached: bool = False
    ) -> bool:
        """True when identities of ``customer_id`` may have changed owner after ``resolved_at``
        (wall-clock seconds): merged away, or a merge of it undone; or, for a mapping taken
        from a cache (``cached``), when the customer's session is gone (an erasure removes it,
        and the identity with it: the chat is a new customer's now; an expired session only
        costs one more lookup). Caller holds its lock."""
        session = await self.backends.sessions.get(customer_id)
        if cached and session.version == 0:
            return True
        data = session.data
        if data.get("merged_into") is not None:
            return True
        changed = data.get("identities_changed_at")
        return isinstance(changed, int | float) and changed >= resolved_at

    async def active(self, repo: IdentityRepository, customer_id: int) -> int:
        """Follow merged_into links to the profile that is live now."""
        seen: set[int] = set()
        while customer_id not in seen:
            seen.add(customer_id)
            customer = (await repo.profile(customer_id)).customer
            if customer.merged_into_id is None:
                return customer_id
            customer_id = customer.merged_into_id
        return customer_id

    @contextlib.asynccontextmanager
    async def locked(self, ids: Iterable[int], held: Iterable[int] = ()) -> AsyncIterator[None]:
        """Hold the customer locks of ``ids`` (in id order) except those the caller holds."""
        async with contextlib.AsyncExitStack() as stack:
            for customer_id in sorted(set(ids) - set(held)):
                await stack.enter_async_context(
                    self.backends.locks.hold(customer_id, self.lock_timeout)
                )
            yield

    async def _merge_db(
        self,
        survivor: int,
        absorbed: int,
        actor: str,
        reason: str,
        now: datetime,
        gone: Session,
        adopted: bool,
    ) -> CustomerMerge:
        async with self.db.transaction() as s:
            return await IdentityRepository(s).merge(
                survivor,
                absorbed,
                actor=actor,
                reason=reason,
                now=now,
                absorbed_session=merge_snapshot(gone, adopted=adopted),
            )

    async def _tombstone(self, gone: Session, survivor: int, merge_id: int) -> None:
        stored = await self.backends.sessions.get(gone.customer_id)
        await self.backends.sessions.save(
            tombstone(gone.customer_id, stored.version, survivor, merge_id)
        )
