"""Profiles, phones and channel identities of `IdentityRepository`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import Conflict, NotFound
from storage.models import ChannelIdentity, Customer, CustomerPhone
from storage.repositories._sql import insert_ignoring_conflicts

__all__ = ["Profile", "ProfilesMixin"]


@dataclass(frozen=True, slots=True)
class Profile:
    customer: Customer
    identities: list[ChannelIdentity]
    phones: list[CustomerPhone]


class ProfilesMixin:
    """A customer's profile, phone numbers and channel identities."""

    session: AsyncSession

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
