"""Customer sessions: one JSON document per customer, with TTL and optimistic concurrency.

A session belongs to the customer, not to the channel. Every save states the version it was
loaded at; when somebody else saved in between, `StaleSession` is raised and the caller
reloads and re-applies its change.

Neither Redis without persistence nor process memory survives a restart, so a store may be
given a *recovery loader* (`recover_with`): when `get` finds nothing, it asks the loader (in
practice the newest session snapshot in the transcript, `storage.session_snapshots`) and puts
what it found back, at its version, unless somebody stored a session meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from storage.errors import BackendUnavailable, StaleSession, StorageError
from storage.keys import SESSION_TTL_SECONDS, Keys

__all__ = [
    "RESUME_OFFERED",
    "EscalationRequest",
    "MemorySessionStore",
    "RecoveryLoader",
    "RedisSessionStore",
    "Session",
    "SessionStore",
    "reads_kept",
]

#: `Session.data`: an unfinished task was offered again, so a typed "yes" continues it and a
#: "no" drops it. Written by the dialogue (`bots.flows.engine`), the proactive replies and the
#: handoff's rating (`handoff.csat`): one name, here, where all of them may import it.
RESUME_OFFERED = "resume_offered"
_FIELDS: frozenset[str] = frozenset()
# Fields that were keys of `Session.data` in sessions saved before they became fields.
_ONCE_IN_DATA = ("conversation_id", "ticket_id", "escalation")


@dataclass
class EscalationRequest:
    """A customer to be handed to a person, and where the dialogue was when that was decided:
    written by the dialogue (`bots.flows.base.Turn.escalate`), a business rule or a failed turn;
    read by the handoff package, which opens the ticket from it."""

    reason: str  # "request_human", "fallback", "complaint", "processing_error", ...
    at: str | None = None  # ISO time of the decision
    intent: str | None = None
    flow: str | None = None
    step: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "slots": dict(self.slots)}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> EscalationRequest:
        return cls(
            reason=str(doc.get("reason") or "unknown"),
            at=doc.get("at"),
            intent=doc.get("intent"),
            flow=doc.get("flow"),
            step=doc.get("step"),
            slots=dict(doc.get("slots") or {}),
        )


@dataclass
class Session:
    """Dialogue state of one customer, shared by all their channels.

    What other packages read of it are typed fields (the open conversation, the open handoff
    ticket, a pending escalation); ``data`` is free-form state that one package keeps for itself.
    """

    customer_id: int
    version: int = 0  # optimistic concurrency; 0 = never saved
    language: str | None = None
    flow: str | None = None
    step: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    fallback_count: int = 0
    handoff: str | None = None  # None | "pending" | "agent"
    last_channel: str | None = None
    last_inbound_id: int | None = None  # db id of the last processed inbound message
    data: dict[str, Any] = field(default_factory=dict)  # free-form (unfinished task etc.)
    updated_at: float = 0.0
    conversation_id: int | None = None  # the transcript's open conversation (bots.worker.store)
    ticket_id: int | None = None  # the customer's open handoff ticket
    escalation: EscalationRequest | None = None  # a person asked for (kept until the close)

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of the fields (slots and data copied one level deep, not recursively:
        `dataclasses.asdict`'s deep copy was a hot spot of every turn)."""
        d = {f: getattr(self, f) for f in _field_names()}
        d["slots"] = dict(self.slots)
        d["data"] = dict(self.data)
        d["escalation"] = self.escalation.to_dict() if self.escalation is not None else None
        return d

    def to_json(self) -> bytes:
        """Serialise to JSON bytes (slots and data must be JSON-compatible)."""
        try:
            return orjson.dumps(self.to_dict())
        except TypeError as e:
            raise StorageError(f"session of customer {self.customer_id} is not JSON: {e}") from e

    @classmethod
    def from_json(cls, raw: bytes) -> Session:
        """Parse `to_json` output (see `from_dict`)."""
        doc = orjson.loads(raw)
        if not isinstance(doc, dict):
            raise StorageError("session JSON is not an object")
        return cls.from_dict(doc)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Session:
        """A session from `to_dict`'s shape (also a snapshot in the transcript or a merge
        record). Unknown fields (from a newer release) are ignored; a document saved before
        the conversation id, the ticket id and the escalation were fields, when they were keys
        of ``data``, has them moved into the fields."""
        values = {k: v for k, v in doc.items() if k in _field_names()}
        data = dict(values.get("data") or {})
        for name in _ONCE_IN_DATA:
            if name in data:
                old = data.pop(name)
                if values.get(name) is None:
                    values[name] = old
        escalation = values.get("escalation")
        if isinstance(escalation, Mapping):
            values["escalation"] = EscalationRequest.from_dict(escalation)
        elif not isinstance(escalation, EscalationRequest):
            values["escalation"] = None
        for name in ("conversation_id", "ticket_id"):
            if values.get(name) is not None:
                values[name] = int(values[name])
        values["data"] = data
        values["slots"] = dict(values.get("slots") or {})
        return cls(**values)


def _field_names() -> frozenset[str]:
    global _FIELDS
    if not _FIELDS:
        _FIELDS = frozenset(f.name for f in dataclasses.fields(Session))
    return _FIELDS


class SessionStore(Protocol):
    """Where sessions live between messages."""

    async def get(self, customer_id: int) -> Session:
        """The stored session, or a fresh ``Session(customer_id)`` when absent or expired."""
        ...

    async def save(self, session: Session) -> Session:
        """Store ``session`` if the stored version still equals ``session.version``.

        Returns a copy with ``version + 1`` and ``updated_at`` set; refreshes the TTL.
        Raises `StaleSession` when the stored version differs.
        """
        ...

    async def delete(self, customer_id: int) -> None:
        """Forget the customer's session."""
        ...


#: Finds a customer's lost session elsewhere (None: nothing there).
RecoveryLoader = Callable[[int], Awaitable[Session | None]]


def _next(session: Session) -> Session:
    return dataclasses.replace(session, version=session.version + 1, updated_at=time.time())


class MemorySessionStore:
    """In-process `SessionStore`; stores serialised copies so callers never share objects."""

    def __init__(self, ttl_seconds: float = SESSION_TTL_SECONDS) -> None:
        self._ttl = ttl_seconds
        self._items: dict[int, tuple[float, int, bytes]] = {}  # id -> (expires, version, json)
        self._recover: RecoveryLoader | None = None

    def recover_with(self, loader: RecoveryLoader | None) -> None:
        """Ask ``loader`` for a session `get` does not find (see the module docstring)."""
        self._recover = loader

    def _live(self, customer_id: int) -> tuple[int, bytes] | None:
        item = self._items.get(customer_id)
        if item is None:
            return None
        expires, version, raw = item
        if expires <= time.monotonic():
            del self._items[customer_id]
            return None
        return version, raw

    async def get(self, customer_id: int) -> Session:
        """See `SessionStore.get`."""
        live = self._live(customer_id)
        if live is None and self._recover is not None:
            found = await self._recover(customer_id)
            live = self._live(customer_id)  # saved by somebody else while we looked
            if found is not None and live is None:
                raw = found.to_json()
                self._items[customer_id] = (time.monotonic() + self._ttl, found.version, raw)
                live = found.version, raw
        return Session(customer_id) if live is None else Session.from_json(live[1])

    async def save(self, session: Session) -> Session:
        """See `SessionStore.save`."""
        live = self._live(session.customer_id)
        stored = 0 if live is None else live[0]
        if stored != session.version:
            raise StaleSession(
                f"session of customer {session.customer_id} is at version {stored}, "
                f"not {session.version}"
            )
        new = _next(session)
        self._items[session.customer_id] = (
            time.monotonic() + self._ttl,
            new.version,
            new.to_json(),
        )
        return new

    async def delete(self, customer_id: int) -> None:
        """See `SessionStore.delete`."""
        self._items.pop(customer_id, None)


# KEYS[1] = session hash; ARGV = expected version, new JSON, ttl ms.
# Returns the stored version when it differs from the expected one, else -1.
_SAVE_LUA = """
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return v end
redis.call('HSET', KEYS[1], 'v', v + 1, 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return -1
"""


# KEYS[1] = session hash; ARGV = version, JSON, ttl ms. 1 when stored, 0 when a session exists.
_RESTORE_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""


# (customer id -> the session JSON last read and not saved since, the task that keeps them)
_kept: contextvars.ContextVar[tuple[dict[int, bytes], asyncio.Task[object] | None] | None] = (
    contextvars.ContextVar("omnirelay_session_reads", default=None)
)


@contextlib.contextmanager
def reads_kept() -> Iterator[None]:
    """In the block, a session `RedisSessionStore.get` read (in this task) is kept, and the
    next `get` of it is served from what was read instead of a second round trip; a `save` or
    `delete` of it drops it. For a holder of the customer's lock, whose turn reads the session
    twice (the identity's merge check, then the turn): nobody else saves it meanwhile, and one
    who did anyway is still caught by the version check of the turn's save."""
    reset = _kept.set(({}, asyncio.current_task()))
    try:
        yield
    finally:
        _kept.reset(reset)


def _reads() -> dict[int, bytes] | None:
    held = _kept.get()
    if held is None or held[1] is not asyncio.current_task():
        return None  # not kept, or a task started in the block (it may outlive the lock)
    return held[0]


class RedisSessionStore:
    """`SessionStore` in a Redis hash (``v`` = version, ``d`` = JSON) with a Lua compare-and-set."""

    def __init__(
        self, redis: aioredis.Redis, keys: Keys, ttl_seconds: float = SESSION_TTL_SECONDS
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl_ms = max(1, int(ttl_seconds * 1000))
        self._save = redis.register_script(_SAVE_LUA)
        self._restore = redis.register_script(_RESTORE_LUA)
        self._recover: RecoveryLoader | None = None

    def recover_with(self, loader: RecoveryLoader | None) -> None:
        """Ask ``loader`` for a session `get` does not find (see the module docstring)."""
        self._recover = loader

    async def get(self, customer_id: int) -> Session:
        """See `SessionStore.get`."""
        key = self._keys.session(customer_id)
        kept = _reads()
        raw: Any = kept.pop(customer_id, None) if kept is not None else None
        if raw is not None:
            return Session.from_json(raw)
        try:
            raw = await self._redis.hget(key, "d")
        except RedisError as e:
            raise BackendUnavailable(f"Redis session read failed: {e}") from e
        if kept is not None and raw is not None:
            kept[customer_id] = raw
        if raw is None and self._recover is not None:
            found = await self._recover(customer_id)
            if found is None:
                return Session(customer_id)
            try:
                args: list[Any] = [found.version, found.to_json(), self._ttl_ms]
                if await self._restore(keys=[key], args=args):
                    return found
                raw = await self._redis.hget(key, "d")  # somebody saved one meanwhile
            except RedisError as e:
                raise BackendUnavailable(f"Redis session restore failed: {e}") from e
        return Session(customer_id) if raw is None else Session.from_json(raw)

    async def save(self, session: Session) -> Session:
        """See `SessionStore.save`."""
        new = _next(session)
        key = self._keys.session(session.customer_id)
        _forget(session.customer_id)
        try:
            res = await self._save(keys=[key], args=[session.version, new.to_json(), self._ttl_ms])
        except RedisError as e:
            raise BackendUnavailable(f"Redis session write failed: {e}") from e
        if int(res) != -1:
            raise StaleSession(
                f"session of customer {session.customer_id} is at version {int(res)}, "
                f"not {session.version}"
            )
        return new

    async def delete(self, customer_id: int) -> None:
        """See `SessionStore.delete`."""
        _forget(customer_id)
        try:
            await self._redis.delete(self._keys.session(customer_id))
        except RedisError as e:
            raise BackendUnavailable(f"Redis session delete failed: {e}") from e


def _forget(customer_id: int) -> None:
    kept = _reads()
    if kept is not None:
        kept.pop(customer_id, None)
