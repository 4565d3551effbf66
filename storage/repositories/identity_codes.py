"""Link codes and link attempts of `IdentityRepository`.

Codes are stored as SHA-256 hashes only; a code is single-use, expires, and the attempts of
one channel user are rate-limited (`failed_attempts`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import StorageError
from storage.models import LinkAttempt, LinkCode

__all__ = ["CodeKind", "LinkCodeError", "LinkCodesMixin", "hash_code"]

CodeKind = Literal["deep_link", "phone"]
_DEEP_LINK_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or retyped


class LinkCodeError(StorageError):
    """A code that links nothing; ``reason`` is invalid | expired | used | rate_limited."""

    def __init__(
        self, reason: str, message: str | None = None, *, used_by: str | None = None
    ) -> None:
        super().__init__(message or f"link code {reason}")
        self.reason = reason
        self.used_by = used_by  # for "used": who redeemed it ("channel:external id"), if known


def hash_code(code: str) -> str:
    """The stored form of a code (case and spaces ignored: people retype them)."""
    cleaned = "".join(code.split()).upper()
    return hashlib.sha256(cleaned.encode()).hexdigest()


def _new_code(kind: CodeKind) -> str:
    if kind == "phone":
        return f"{secrets.randbelow(1_000_000):06d}"
    return "".join(secrets.choice(_DEEP_LINK_ALPHABET) for _ in range(10))


class LinkCodesMixin:
    """One-time link codes and the rate-limit ledger of link attempts."""

    session: AsyncSession

    async def issue_code(
        self,
        kind: CodeKind,
        customer_id: int,
        *,
        now: dt.datetime,
        ttl: dt.timedelta,
        requester_id: int | None = None,
        phone: str | None = None,
        sent_channel: str | None = None,
    ) -> str:
        """A new one-time code (returned in clear once; only its hash is stored)."""
        code = _new_code(kind)
        self.session.add(
            LinkCode(
                code_hash=hash_code(code),
                kind=kind,
                customer_id=customer_id,
                requester_id=requester_id,
                phone=phone,
                sent_channel=sent_channel,
                expires_at=now + ttl,
                created_at=now,
            )
        )
        await self.session.flush()
        return code

    async def codes_issued_since(self, customer_id: int, since: dt.datetime) -> int:
        """Codes issued for or requested by this customer since ``since`` (issuing limit)."""
        count = await self.session.scalar(
            select(func.count(LinkCode.id)).where(
                (LinkCode.customer_id == customer_id) | (LinkCode.requester_id == customer_id),
                LinkCode.created_at >= since,
            )
        )
        return int(count or 0)

    async def redeem(
        self,
        code: str,
        *,
        kind: CodeKind,
        by: str,
        now: dt.datetime,
        requester_id: int | None = None,
    ) -> LinkCode:
        """Mark the code used and return it; `LinkCodeError` when it links nothing.

        A phone code counts only for the customer who asked for it (``requester_id``).
        """
        stmt = select(LinkCode).where(LinkCode.code_hash == hash_code(code), LinkCode.kind == kind)
        if requester_id is not None:
            stmt = stmt.where(LinkCode.requester_id == requester_id)
        row = (await self.session.scalars(stmt.order_by(LinkCode.id.desc()).limit(1))).first()
        if row is None:
            raise LinkCodeError("invalid")
        if row.used_at is not None:
            raise LinkCodeError("used", used_by=row.used_by)
        if row.expires_at <= now:
            raise LinkCodeError("expired")
        # Single use even under a race: only one UPDATE finds used_at still NULL.
        claimed = await self.session.execute(
            update(LinkCode)
            .where(LinkCode.id == row.id, LinkCode.used_at.is_(None))
            .values(used_at=now, used_by=by[:170])
            .returning(LinkCode.id)
        )
        if claimed.first() is None:
            raise LinkCodeError("used")
        await self.session.refresh(row)
        return row

    async def pending_phone_code(self, requester_id: int, now: dt.datetime) -> LinkCode | None:
        """The newest unused, unexpired phone code this customer asked for."""
        return (
            await self.session.scalars(
                select(LinkCode)
                .where(
                    LinkCode.requester_id == requester_id,
                    LinkCode.kind == "phone",
                    LinkCode.used_at.is_(None),
                    LinkCode.expires_at > now,
                )
                .order_by(LinkCode.id.desc())
                .limit(1)
            )
        ).first()

    async def record_attempt(
        self, channel: str, external_id: str, ok: bool, now: dt.datetime
    ) -> None:
        self.session.add(LinkAttempt(channel=channel, external_id=external_id, ok=ok, at=now))
        await self.session.flush()

    async def failed_attempts(self, channel: str, external_id: str, since: dt.datetime) -> int:
        count = await self.session.scalar(
            select(func.count(LinkAttempt.id)).where(
                LinkAttempt.channel == channel,
                LinkAttempt.external_id == external_id,
                LinkAttempt.ok.is_(False),
                LinkAttempt.at >= since,
            )
        )
        return int(count or 0)
