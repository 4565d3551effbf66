"""Every Redis key omnirelay uses, built in one place.

Per-customer keys carry the hash tag ``{cust:<id>}`` and per-partition queue keys carry
``{q:<n>}``, so a Redis Cluster keeps each customer's (or partition's) keys in one slot and
the Lua scripts that touch them stay single-slot. TTLs are explicit constants, not magic
numbers scattered through the backends.
"""

from __future__ import annotations

from dataclasses import dataclass

#: How long an idle customer session lives (refreshed on every save).
SESSION_TTL_SECONDS = 24 * 60 * 60
#: How long a (channel, platform message id) stays remembered for duplicate detection.
DEDUP_TTL_SECONDS = 24 * 60 * 60
#: Lease of a per-customer lock; renewed in the background while it is held.
LOCK_LEASE_MS = 30_000
#: Lease of a queue partition held by one consumer process; renewed while consuming.
PARTITION_LEASE_MS = 10_000
#: Dead-letter stream cap (approximate, ``MAXLEN ~``).
DEAD_LETTER_MAXLEN = 100_000


@dataclass(frozen=True)
class Keys:
    """Builds Redis key names under one ``prefix`` (tests use a random prefix each)."""

    prefix: str = "omnirelay"

    def session(self, customer_id: int) -> str:
        """The JSON session of one customer."""
        return f"{self.prefix}:session:{{cust:{customer_id}}}"

    def lock(self, customer_id: int) -> str:
        """The per-customer processing lock."""
        return f"{self.prefix}:lock:{{cust:{customer_id}}}"

    def dedup(self, key: str) -> str:
        """A duplicate-detection marker, e.g. for ``telegram:<update id>``."""
        return f"{self.prefix}:dedup:{key}"

    def stream(self, partition: int) -> str:
        """The Redis stream holding one queue partition's unacked messages."""
        return f"{self.prefix}:queue:{{q:{partition}}}:stream"

    def partition_lease(self, partition: int) -> str:
        """The lease naming the consumer process that currently owns a partition."""
        return f"{self.prefix}:queue:{{q:{partition}}}:lease"

    def partition_fence(self, partition: int) -> str:
        """The counter that hands out the fencing token of each new lease of a partition."""
        return f"{self.prefix}:queue:{{q:{partition}}}:fence"

    def consumers(self) -> str:
        """ZSET of live queue consumer processes scored by last heartbeat (ms)."""
        return f"{self.prefix}:queue:consumers"

    def dead_letters(self) -> str:
        """Stream of messages that exhausted their attempts."""
        return f"{self.prefix}:queue:dead"

    def mailbox(self, node_id: str) -> str:
        """Pub/sub channel on which one gateway process receives synchronous replies."""
        return f"{self.prefix}:mailbox:{node_id}"

    def handoff_events(self) -> str:
        """Pub/sub channel of live handoff events (tickets, relayed messages) for consoles."""
        return f"{self.prefix}:handoff:events"

    def inbound_rate(self, identity: str) -> str:
        """The inbound token bucket of one sender (``channel:user id``; storage/rate_limits.py)."""
        return f"{self.prefix}:rate:in:{{{identity}}}"

    def ip_rate(self, address: str) -> str:
        """The token bucket of one client IP address on the REST and events endpoints."""
        return f"{self.prefix}:rate:ip:{{{address}}}"

    def login_throttle(self, key: str, part: str) -> str:
        """Failed console logins of one ``account:<name>`` or ``ip:<address>``
        (handoff/throttle.py): ``part`` is ``n`` (the count) or ``block`` (the wait); one hash
        tag keeps both in one slot."""
        return f"{self.prefix}:login:{{{key}}}:{part}"
