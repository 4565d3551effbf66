"""The root of omnirelay's exception family and the storage branch.

`OmnirelayError` lives here, in the lowest layer, because every other package of ours
(`handoff`, `bots`) may import `storage` but `storage` may import nothing of ours.
`nlu` is a standalone library and keeps its own root (`nlu.errors.NluError`).
"""

from __future__ import annotations


class OmnirelayError(Exception):
    """Base class of every error omnirelay raises on purpose."""


class StorageError(OmnirelayError):
    """A database, Redis or queue operation failed."""


class NotFound(StorageError):
    """The requested row or key does not exist."""


class Conflict(StorageError):
    """A uniqueness or optimistic-concurrency check failed."""


class StaleSession(Conflict):
    """A session was saved with a version older than the stored one."""


class LockTimeout(StorageError):
    """A per-customer lock could not be acquired before the deadline."""


class BackendUnavailable(StorageError):
    """The database or Redis server cannot be reached."""


class FenceLost(Conflict):
    """The lease a piece of work was started under has passed to another holder.

    Raised by a write guarded by a fencing token that is no longer current: the work is
    abandoned without side effects, and the new holder does it instead.
    """
