"""One customer on every channel: phones, link codes, merges (and their undo), reply routing.

Codes are stored as SHA-256 hashes only; a code is single-use, expires, and the attempts of
one channel user are rate-limited (`failed_attempts`). A merge moves every row that refers to
the absorbed customer (found through the foreign keys of the metadata, so tables added later,
such as handoff tickets, move too) and records exactly which rows moved, for `undo`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Table, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import Conflict, NotFound, StorageError
from storage.models import (
    Base,
    ChannelIdentity,
    Customer,
    CustomerMerge,
    CustomerPhone,
    LinkAttempt,
    LinkCode,
    Message,
)
from storage.repositories._sql import insert_ignoring_conflicts

__all__ = [
    "IdentityRepository",
    "LinkCodeError",
    "MergeRefused",
    "Profile",
    "ReplyTarget",
    "TimelineEntry",
    "hash_code",
]

CodeKind = Literal["deep_link", "phone"]
# Rows of these tables are the merge bookkeeping itself, or handled one by one.
_NOT_MOVED = frozenset({"customers", "customer_merges", "link_codes", "customer_phones"})
# Channels that can take a message the customer did not just ask for (REST answers in-request).
_PUSH_CHANNELS = frozenset({"telegram", "viber", "instagram"})
# Instagram's messaging window: 24 h for the bot, 7 days for a human agent (HUMAN_AGENT tag).
_INSTAGRAM_WINDOW = {"bot": dt.timedelta(hours=24), "agent": dt.timedelta(days=7)}
_PROFILE_FIELDS = ("display_name", "phone", "email", "language", "consent", "created_at")
_DEEP_LINK_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or retyped


class LinkCodeError(StorageError):
    """A code that links nothing; ``reason`` is invalid | expired | used | rate_limited."""

    def __init__(
        self, reason: str, message: str | None = None, *, used_by: str | None = None
    ) -> None:
        super().__init__(message or f"link code {reason}")
        self.reason = reason
        self.used_by = used_by  # for "used": who redeemed it ("channel:external id"), if known


class MergeRefused(Conflict):
    """The two profiles may not be merged (or a merge may not be undone)."""


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """Where a proactive or agent message to a customer goes."""

    channel: str
    external_id: str
    last_inbound_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: dt.datetime
    channel: str
    sender: str  # customer | bot | agent
    text: str | None


@dataclass(frozen=True, slots=True)
class Profile:
    customer: Customer
    identities: list[ChannelIdentity]
    phones: list[CustomerPhone]


def hash_code(code: str) -> str:
    """The stored form of a code (case and spaces ignored: people retype them)."""
    cleaned = "".join(code.split()).upper()
    return hashlib.sha256(cleaned.encode()).hexdigest()


def _new_code(kind: CodeKind) -> str:
    if kind == "phone":
        return f"{secrets.randbelow(1_000_000):06d}"
    return "".join(secrets.choice(_DEEP_LINK_ALPHABET) for _ in range(10))


def _customer_fks(table: Table) -> list[str]:
    return [
        fk.parent.name
        for fk in table.foreign_keys
        if fk.column.table.name == "customers" and fk.column.name == "id"
    ]


class IdentityRepository:
    """Profiles, phones, link codes, merges. Callers own the transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ---- profiles and phones ----------------------------------------------------------------

    async def profile(self, customer_id: int) -> Profile:
        customer = await self.session.get(Customer, customer_id)
        if customer is None:
            raise NotFound(f"customer {customer_id} does not exist")
        identities = await self.session.scalars(
            select(ChannelIdentity)
            .where(ChannelIdentity.customer_id == customer_id)
            .order_by(ChannelIdentity.id)
        )
        phones = await self.session.scalars(
            select(CustomerPhone)
            .where(CustomerPhone.customer_id == customer_id)
            .order_by(CustomerPhone.id)
        )
        return Profile(customer, list(identities), list(phones))

    async def find_by_phone(self, phone: str) -> list[Customer]:
        """Customers with this (E.164) number, verified or not, merged ones included."""
        ids = select(CustomerPhone.customer_id).where(CustomerPhone.phone == phone)
        rows = await self.session.scalars(
            select(Customer)
            .where((Customer.id.in_(ids)) | (Customer.phone == phone))
            .order_by(Customer.id)
        )
        return list(rows)

    async def verified_owner(self, phone: str, *, exclude: int | None = None) -> Customer | None:
        """The active customer who verified this number (never a merged-away profile)."""
        stmt = (
            select(Customer)
            .join(CustomerPhone, CustomerPhone.customer_id == Customer.id)
            .where(
                CustomerPhone.phone == phone,
                CustomerPhone.verified.is_(True),
                Customer.merged_into_id.is_(None),
            )
            .order_by(Customer.id)
            .limit(1)
        )
        if exclude is not None:
            stmt = stmt.where(Customer.id != exclude)
        return (await self.session.scalars(stmt)).first()

    async def verified_phones(self, customer_id: int) -> set[str]:
        rows = await self.session.scalars(
            select(CustomerPhone.phone).where(
                CustomerPhone.customer_id == customer_id, CustomerPhone.verified.is_(True)
            )
        )
        return set(rows)

    async def add_phone(
        self, customer_id: int, phone: str, *, verified: bool, via: str | None, now: dt.datetime
    ) -> CustomerPhone:
        """Record a number (upgrading it to verified, never back); the first verified number
        also becomes the customer's main ``phone``."""
        row = await self.session.scalar(
            select(CustomerPhone).where(
                CustomerPhone.customer_id == customer_id, CustomerPhone.phone == phone
            )
        )
        if row is None:
            row = CustomerPhone(
                customer_id=customer_id,
                phone=phone,
                verified=verified,
                verified_via=via if verified else None,
                created_at=now,
            )
            self.session.add(row)
        elif verified and not row.verified:
            row.verified, row.verified_via = True, via
        customer = await self.session.get(Customer, customer_id)
        if customer is not None and (customer.phone is None or verified):
            customer.phone = phone
        await self.session.flush()
        return row

    async def remember_contact(
        self, customer_id: int, *, name: str | None, phone: str | None, now: dt.datetime
    ) -> None:
        """Contact details the customer typed (a booking's name and phone): the name fills an
        empty display name; the phone is recorded UNVERIFIED (it links nothing by itself) and
        becomes the main ``phone`` only when the customer has none."""
        customer = await self.session.get(Customer, customer_id)
        if customer is None:
            raise NotFound(f"customer {customer_id} does not exist")
        if name and not customer.display_name:
            customer.display_name = name[:200]
        if phone:
            await self.add_phone(customer_id, phone, verified=False, via=None, now=now)
        await self.session.flush()

    # ---- identities ---------------------------------------------------------------------------

    async def attach_identity(
        self,
        customer_id: int,
        channel: str,
        external_id: str,
        *,
        display_name: str | None,
        now: dt.datetime,
    ) -> ChannelIdentity:
        """Create (channel, external_id) for ``customer_id``; if it exists already (a race, or
        it belongs to somebody), the existing row is returned unchanged."""
        stmt = insert_ignoring_conflicts(
            self.session, ChannelIdentity, ["channel", "external_id"]
        ).values(
            customer_id=customer_id,
            channel=channel,
            external_id=external_id,
            display_name=display_name,
            reachable=True,
            created_at=now,
        )
        await self.session.execute(stmt)
        row = await self.session.scalar(
            select(ChannelIdentity).where(
                ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
            )
        )
        if row is None:
            raise Conflict(f"identity {channel}:{external_id} vanished during creation")
        return row

    # ---- link codes ---------------------------------------------------------------------------

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

    # ---- merges -------------------------------------------------------------------------------

    async def merge(
        self,
        survivor_id: int,
        absorbed_id: int,
        *,
        actor: str,
        reason: str,
        now: dt.datetime,
        absorbed_session: dict[str, Any] | None = None,
    ) -> CustomerMerge:
        """Move everything of ``absorbed_id`` to ``survivor_id`` and record what moved.

        Checks of *whether* two profiles may be merged (verified phones, codes) belong to the
        caller; this refuses only the impossible: self-merge, unknown or merged-away profiles.
        """
        if survivor_id == absorbed_id:
            raise MergeRefused(f"customer {survivor_id} cannot be merged into itself")
        survivor = await self.session.get(Customer, survivor_id)
        absorbed = await self.session.get(Customer, absorbed_id)
        if survivor is None or absorbed is None:
            raise NotFound(f"customer {survivor_id if survivor is None else absorbed_id} missing")
        if survivor.merged_into_id is not None or absorbed.merged_into_id is not None:
            raise MergeRefused("one of the profiles was merged into another one already")
        moved: dict[str, list[int]] = {}
        try:
            await self._move_phones(survivor_id, absorbed_id, moved)
            for table in Base.metadata.sorted_tables:
                if table.name in _NOT_MOVED:
                    continue
                await self._move_rows(table, absorbed_id, survivor_id, moved)
            before = _profile_values(survivor)
            _absorb_profile(survivor, absorbed)
            absorbed.merged_into_id = survivor_id
            record = CustomerMerge(
                survivor_id=survivor_id,
                absorbed_id=absorbed_id,
                actor=actor,
                reason=reason,
                moved=moved,
                survivor_before=before,
                absorbed_session=absorbed_session,
                created_at=now,
            )
            self.session.add(record)
            await self.session.flush()
        except IntegrityError as e:
            raise MergeRefused(f"merging {absorbed_id} into {survivor_id} conflicts: {e}") from e
        return record

    async def get_merge(self, merge_id: int) -> CustomerMerge | None:
        return await self.session.get(CustomerMerge, merge_id)

    async def undo(self, merge_id: int, *, actor: str, now: dt.datetime) -> CustomerMerge:
        """Move back exactly the rows the merge moved and restore the survivor's profile.

        Refused when undone already or when the survivor has been merged on since (undo
        that later merge first). Rows created after the merge stay with the survivor.
        """
        record = await self.session.get(CustomerMerge, merge_id, with_for_update=True)
        if record is None:
            raise NotFound(f"merge {merge_id} does not exist")
        if record.undone_at is not None:
            raise MergeRefused(f"merge {merge_id} was undone already")
        survivor = await self.session.get(Customer, record.survivor_id)
        absorbed = await self.session.get(Customer, record.absorbed_id)
        if survivor is None or absorbed is None:
            raise NotFound(f"a customer of merge {merge_id} no longer exists")
        if survivor.merged_into_id is not None or absorbed.merged_into_id != survivor.id:
            raise MergeRefused(f"merge {merge_id} is not the latest: undo the later merge first")
        tables = {t.name: t for t in Base.metadata.sorted_tables}
        for key, ids in record.moved.items():
            if key == "customer_phones.verified":
                await self.session.execute(
                    update(CustomerPhone)
                    .where(CustomerPhone.id.in_(ids))
                    .values(verified=False, verified_via=None)
                )
                continue
            name, column = key.rsplit(".", 1)
            table = tables.get(name)
            if table is None or not ids:
                continue
            pk = next(iter(table.primary_key.columns))
            await self.session.execute(
                table.update()
                .where(pk.in_(ids), table.c[column] == survivor.id)
                .values({column: absorbed.id})
            )
        for name in _PROFILE_FIELDS:
            if name in record.survivor_before:
                value = record.survivor_before[name]
                if name == "created_at" and value is not None:
                    value = dt.datetime.fromisoformat(value)
                setattr(survivor, name, value)
        absorbed.merged_into_id = None
        record.undone_at, record.undone_by = now, actor
        await self.session.flush()
        return record

    async def _move_phones(
        self, survivor_id: int, absorbed_id: int, moved: dict[str, list[int]]
    ) -> None:
        mine = {
            p.phone: p
            for p in await self.session.scalars(
                select(CustomerPhone).where(CustomerPhone.customer_id == survivor_id)
            )
        }
        to_move: list[int] = []
        upgraded: list[int] = []
        for phone in await self.session.scalars(
            select(CustomerPhone).where(CustomerPhone.customer_id == absorbed_id)
        ):
            same = mine.get(phone.phone)
            if same is None:
                to_move.append(phone.id)
            elif phone.verified and not same.verified:
                same.verified, same.verified_via = True, phone.verified_via
                upgraded.append(same.id)
        if to_move:
            await self.session.execute(
                update(CustomerPhone)
                .where(CustomerPhone.id.in_(to_move))
                .values(customer_id=survivor_id)
                .execution_options(synchronize_session=False)
            )
            moved["customer_phones.customer_id"] = to_move
        if upgraded:
            moved["customer_phones.verified"] = upgraded

    async def _move_rows(
        self, table: Table, absorbed_id: int, survivor_id: int, moved: dict[str, list[int]]
    ) -> None:
        pks = list(table.primary_key.columns)
        for column in _customer_fks(table):
            if len(pks) != 1:
                raise StorageError(f"cannot record moved rows of {table.name}: composite key")
            ids = [
                int(i)
                for i in await self.session.scalars(
                    select(pks[0]).where(table.c[column] == absorbed_id)
                )
            ]
            if not ids:
                continue
            await self.session.execute(
                table.update().where(pks[0].in_(ids)).values({column: survivor_id})
            )
            moved[f"{table.name}.{column}"] = ids

    # ---- routing and transcript ---------------------------------------------------------------

    async def reply_target(
        self,
        customer_id: int,
        *,
        now: dt.datetime,
        purpose: Literal["bot", "agent"] = "agent",
    ) -> ReplyTarget | None:
        """The channel the customer used last that can still receive a message we start:
        reachable (not blocked/unsubscribed), a push channel, and for Instagram inside the
        messaging window (24 h for the bot, 7 days for an agent). None: no such channel."""
        rows = await self.session.scalars(
            select(ChannelIdentity)
            .where(
                ChannelIdentity.customer_id == customer_id,
                ChannelIdentity.reachable.is_(True),
                ChannelIdentity.channel.in_(_PUSH_CHANNELS),
            )
            .order_by(ChannelIdentity.id.desc())
        )
        best: ChannelIdentity | None = None
        floor = dt.datetime.min.replace(tzinfo=dt.UTC)
        for identity in rows:
            last = identity.last_inbound_at
            if identity.channel == "instagram" and (
                last is None or now - last > _INSTAGRAM_WINDOW[purpose]
            ):
                continue
            if best is None or (last or floor) > (best.last_inbound_at or floor):
                best = identity
        if best is None:
            return None
        return ReplyTarget(best.channel, best.external_id, best.last_inbound_at)

    async def timeline(self, customer_id: int, limit: int | None = None) -> list[TimelineEntry]:
        """Every message of the customer across channels, oldest first, tagged with its channel."""
        stmt = select(Message).where(Message.customer_id == customer_id)
        stmt = stmt.order_by(Message.created_at.desc(), Message.id.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        rows = list(await self.session.scalars(stmt))
        rows.reverse()
        return [
            TimelineEntry(
                r.created_at,
                r.channel,
                r.sender_kind,
                r.text if r.text is not None else (r.body or {}).get("text") or r.payload,
            )
            for r in rows
        ]


def _profile_values(customer: Customer) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(customer, name) for name in _PROFILE_FIELDS}
    values["created_at"] = customer.created_at.isoformat()
    values["consent"] = dict(customer.consent or {})
    return values


def _absorb_profile(survivor: Customer, absorbed: Customer) -> None:
    """Fill what the survivor lacks; the earliest creation, the latest visit win."""
    for name in ("display_name", "phone", "email", "language"):
        if getattr(survivor, name) is None:
            setattr(survivor, name, getattr(absorbed, name))
    survivor.consent = {**(absorbed.consent or {}), **(survivor.consent or {})}
    survivor.created_at = min(survivor.created_at, absorbed.created_at)
    if absorbed.last_seen_at is not None and (
        survivor.last_seen_at is None or absorbed.last_seen_at > survivor.last_seen_at
    ):
        survivor.last_seen_at = absorbed.last_seen_at
        survivor.last_channel = absorbed.last_channel
