"""Bookable services and the staff who provide them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Service, Staff

__all__ = ["ServiceRepository", "StaffRepository"]


class ServiceRepository:
    """Lists and looks up services; adds them for demo seeding."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list_active(self) -> list[Service]:
        """Active services, by id (the order they were added in)."""
        rows = await self.session.scalars(
            select(Service).where(Service.active.is_(True)).order_by(Service.id)
        )
        return list(rows)

    async def by_code(self, code: str, *, active_only: bool = True) -> Service | None:
        """The service with this code (case-insensitive), or None."""
        query = select(Service).where(Service.code == code.strip().lower())
        if active_only:
            query = query.where(Service.active.is_(True))
        return await self.session.scalar(query)

    async def add(
        self,
        code: str,
        *,
        name_uk: str,
        name_en: str,
        duration_minutes: int,
        price: Decimal | int | str,
        active: bool = True,
    ) -> Service:
        """Insert a service (flushes, so ``id`` is set)."""
        service = Service(
            code=code.strip().lower(),
            name_uk=name_uk,
            name_en=name_en,
            duration_minutes=duration_minutes,
            price=Decimal(price),
            active=active,
        )
        self.session.add(service)
        await self.session.flush()
        return service


class StaffRepository:
    """Looks staff up by id, name or skill; adds them for demo seeding."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, staff_id: int) -> Staff | None:
        """The staff member with this id, or None."""
        return await self.session.get(Staff, staff_id)

    async def by_name(self, name: str) -> Staff | None:
        """The staff member with exactly this name, or None."""
        return await self.session.scalar(select(Staff).where(Staff.name == name))

    async def for_service(self, code: str) -> list[Staff]:
        """Active staff whose skills include service ``code``, by id.

        Skills are a JSON list, filtered here rather than in SQL: a clinic has a handful of
        staff, and JSON containment is spelled differently on every database.
        """
        rows = await self.session.scalars(
            select(Staff).where(Staff.active.is_(True)).order_by(Staff.id)
        )
        return [s for s in rows if code in (s.skills or [])]

    async def add(
        self,
        name: str,
        *,
        skills: list[str],
        working_hours: dict[str, Any],
        timezone: str = "Europe/Kyiv",
        active: bool = True,
        names: dict[str, str] | None = None,
    ) -> Staff:
        """Insert a staff member (flushes, so ``id`` is set); ``names``: per language."""
        staff = Staff(
            name=name,
            names=dict(names) if names else None,
            skills=list(skills),
            working_hours=dict(working_hours),
            timezone=timezone,
            active=active,
        )
        self.session.add(staff)
        await self.session.flush()
        return staff
