"""Customers and their channel identities."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import Conflict, StorageError
from storage.models import ChannelIdentity, Customer
from storage.repositories._sql import insert_ignoring_conflicts

__all__ = ["CustomerRepository"]


class CustomerRepository:
    """Finds or creates the customer behind a channel user."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def resolve_identity(
        self,
        channel: str,
        external_id: str,
        *,
        display_name: str | None = None,
        language: str | None = None,
        now: dt.datetime,
    ) -> tuple[Customer, ChannelIdentity]:
        """The customer and identity for (channel, external_id), created when new.

        Safe under concurrency: the identity insert is ``ON CONFLICT DO NOTHING``; the loser
        of a race drops its fresh customer row and reads the winner's identity.
        """
        try:
            found = await self._find(channel, external_id)
            if found is not None:
                return found
            customer = Customer(display_name=display_name, language=language, created_at=now)
            self.session.add(customer)
            await self.session.flush()
            stmt = insert_ignoring_conflicts(
                self.session, ChannelIdentity, ["channel", "external_id"]
            ).values(
                customer_id=customer.id,
                channel=channel,
                external_id=external_id,
                display_name=display_name,
                reachable=True,
                created_at=now,
            )
            inserted = (await self.session.execute(stmt.returning(ChannelIdentity.id))).scalar()
            if inserted is None:
                await self.session.delete(customer)
                await self.session.flush()
            found = await self._find(channel, external_id)
        except SQLAlchemyError as e:
            raise StorageError(f"resolving identity {channel}:{external_id} failed: {e}") from e
        if found is None:
            raise Conflict(f"identity {channel}:{external_id} vanished during creation")
        return found

    async def _find(
        self, channel: str, external_id: str
    ) -> tuple[Customer, ChannelIdentity] | None:
        row = (
            await self.session.execute(
                select(Customer, ChannelIdentity)
                .join(ChannelIdentity, ChannelIdentity.customer_id == Customer.id)
                .where(
                    ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
                )
            )
        ).first()
        return None if row is None else (row[0], row[1])

    async def lookup(
        self, channel: str, external_id: str
    ) -> tuple[Customer, ChannelIdentity] | None:
        """The customer and identity for (channel, external_id), read only; None when new."""
        return await self._find(channel, external_id)

    async def find_by_identity(self, channel: str, external_id: str) -> Customer | None:
        """The customer behind a channel identity, or None."""
        found = await self._find(channel, external_id)
        return None if found is None else found[0]

    async def identity(self, channel: str, external_id: str) -> ChannelIdentity | None:
        """The channel identity itself (reachability, last inbound), or None."""
        found = await self._find(channel, external_id)
        return None if found is None else found[1]

    async def get(self, customer_id: int) -> Customer | None:
        """The customer, or None."""
        return await self.session.get(Customer, customer_id)

    async def set_reachable(self, channel: str, external_id: str, reachable: bool) -> bool:
        """Mark an identity (un)reachable (e.g. the user blocked the bot); False if unknown."""
        result = await self.session.execute(
            update(ChannelIdentity)
            .where(ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id)
            .values(reachable=reachable)
            .returning(ChannelIdentity.id)
        )
        return result.first() is not None

    async def touch(
        self, customer_id: int, channel: str, now: dt.datetime, *, external_id: str | None = None
    ) -> None:
        """Record an inbound message: customer last seen / last channel, identity last inbound.

        ``external_id`` narrows the identity update when the customer has several on a channel.
        """
        await self.session.execute(
            update(Customer)
            .where(Customer.id == customer_id)
            .values(last_seen_at=now, last_channel=channel)
        )
        where = [ChannelIdentity.customer_id == customer_id, ChannelIdentity.channel == channel]
        if external_id is not None:
            where.append(ChannelIdentity.external_id == external_id)
        await self.session.execute(
            update(ChannelIdentity).where(*where).values(last_inbound_at=now, reachable=True)
        )
