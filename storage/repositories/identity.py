"""One customer on every channel: phones, link codes, merges (and their undo), reply routing.

Codes are stored as SHA-256 hashes only; a code is single-use, expires, and the attempts of
one channel user are rate-limited (`failed_attempts`). A merge moves every row that refers to
the absorbed customer (found through the foreign keys of the metadata, so tables added later,
such as handoff tickets, move too) and records exactly which rows moved, for `undo`.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.repositories.identity_codes import LinkCodeError, LinkCodesMixin, hash_code
from storage.repositories.identity_merges import MergeRefused, MergesMixin
from storage.repositories.identity_profiles import Profile, ProfilesMixin
from storage.repositories.identity_routing import ReplyTarget, RoutingMixin, TimelineEntry

__all__ = [
    "IdentityRepository",
    "LinkCodeError",
    "MergeRefused",
    "Profile",
    "ReplyTarget",
    "TimelineEntry",
    "hash_code",
]


class IdentityRepository(ProfilesMixin, LinkCodesMixin, MergesMixin, RoutingMixin):
    """Profiles, phones, link codes, merges. Callers own the transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
