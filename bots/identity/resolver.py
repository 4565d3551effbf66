"""Who wrote a message: the worker's identity -> customer cache, linking on the way in, and the
re-lookup after a merge moved the identity (`bots.worker.steps.TurnSteps.customer_locked`)."""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from bots.identity.service import link_result_payload, wants_result
from storage.repositories.customers import CustomerRepository

if TYPE_CHECKING:
    from bots.identity.service import IdentityService
    from bots.messages import InboundMessage
    from storage.db import Database

IDENTITY_CACHE_TTL = timedelta(seconds=60)  # identity -> customer changes only on linking
IDENTITY_CACHE_SIZE = 50_000


class TurnIdentity(Protocol):
    """What the identity step reads and writes of a turn (the worker's
    `bots.worker.turn.TurnContext`): the message (given a link outcome's payload) and the
    customer behind it."""

    message: InboundMessage
    customer_id: int | None
    customer_name: str | None
    customer_phone: str | None
    last_inbound_at: datetime | None

    @property
    def now(self) -> datetime: ...


@dataclass(slots=True)
class _KnownIdentity:
    customer_id: int
    name: str | None
    phone: str | None
    last_inbound_at: datetime | None
    seen: datetime
    resolved: float = 0.0  # wall clock of the lookup (see `IdentityService.moved_since`)
    cached: bool = False  # a later turn took it from the cache instead of looking it up


class Identities:
    """The turn's identity step (`identify`) and the cache behind it."""

    def __init__(self, db: Database, identity: IdentityService | None) -> None:
        self.db = db
        self.identity = identity  # linking by deep link / verified phone; None: off
        self._identities: OrderedDict[tuple[str, str], _KnownIdentity] = OrderedDict()

    def forget(self, channel: str, user_id: str) -> None:
        """Drop a cached mapping (the identity was just linked to another customer)."""
        self._identities.pop((channel, user_id), None)

    async def identify(self, ctx: TurnIdentity) -> None:
        """The customer behind the message's identity (linking it first when the message
        carries a link code or a verified phone): the key of the turn's lock."""
        msg = ctx.message
        key = (msg.channel, msg.user_id)
        if self.identity is not None and (msg.deep_link or msg.contact_verified):
            # A link code or a platform-verified phone may join this identity to another
            # customer: done before the customer (and so the lock key) is looked up.
            result = await self.identity.link_inbound(msg, ctx.now)
            self._identities.pop(key, None)
            if wants_result(result):
                assert result is not None
                ctx.message = msg = dataclasses.replace(
                    msg, payload=link_result_payload(result.status)
                )
        known = self._identities.get(key)
        if known is None or ctx.now - known.seen > IDENTITY_CACHE_TTL:
            known = await self._resolve(ctx)
            self._identities[key] = known
            if len(self._identities) > IDENTITY_CACHE_SIZE:
                self._identities.popitem(last=False)
        else:
            known.cached = True
            self._identities.move_to_end(key)
        ctx.customer_id = known.customer_id
        ctx.customer_name = known.name
        ctx.customer_phone = known.phone
        ctx.last_inbound_at = known.last_inbound_at

    async def _resolve(self, ctx: TurnIdentity) -> _KnownIdentity:
        """Read the identity; create customer and identity (a write) only when new."""
        msg = ctx.message
        async with self.db.session() as s:
            found = await CustomerRepository(s).lookup(msg.channel, msg.user_id)
        if found is None:
            async with self.db.transaction() as s:
                found = await CustomerRepository(s).resolve_identity(
                    msg.channel,
                    msg.user_id,
                    display_name=msg.user_name,
                    language=msg.language_hint,
                    now=ctx.now,
                )
        customer, identity = found
        return _KnownIdentity(
            customer.id,
            customer.display_name,
            customer.phone,
            identity.last_inbound_at,
            ctx.now,
            time.time(),
        )

    async def relookup(self, ctx: TurnIdentity) -> None:
        """Look the identity up again (its lock key changed) and update the turn's customer."""
        key = (ctx.message.channel, ctx.message.user_id)
        known = self._identities[key] = await self._resolve(ctx)
        ctx.customer_id, ctx.customer_name = known.customer_id, known.name
        ctx.customer_phone, ctx.last_inbound_at = known.phone, known.last_inbound_at

    async def moved(self, ctx: TurnIdentity) -> bool:
        """Whether a merge (or an undone merge) moved the identity since it was looked up."""
        if self.identity is None or ctx.customer_id is None:
            return False
        known = self._identities.get((ctx.message.channel, ctx.message.user_id))
        resolved = known.resolved if known is not None else 0.0
        cached = known is not None and known.cached
        return await self.identity.moved_since(ctx.customer_id, resolved, cached=cached)
