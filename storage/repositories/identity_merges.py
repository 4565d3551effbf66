"""Merges of two customers (and their undo) for `IdentityRepository`.

A merge moves every row that refers to the absorbed customer (found through the foreign keys
of the metadata, so tables added later, such as handoff tickets, move too) and records exactly
which rows moved, for `undo`. Proactive jobs move one by one: one the survivor has scheduled
already (same scenario, occurrence and step) is cancelled instead, so a person gets it once.
Consents and proactive decisions move like any row; the survivor's consent mirror is then
rebuilt from the merged log (the latest word per topic wins, whichever profile said it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import Conflict, NotFound, StorageError
from storage.models import Base, Customer, CustomerMerge, CustomerPhone
from storage.proactive_models import Consent, ProactiveDecision, ProactiveJob

__all__ = ["MergeRefused", "MergesMixin"]

# Rows of these tables are the merge bookkeeping itself, or handled one by one.
_NOT_MOVED = frozenset(
    {"customers", "customer_merges", "link_codes", "customer_phones", "proactive_jobs"}
)
_PROFILE_FIELDS = ("display_name", "phone", "email", "language", "consent", "created_at")


class MergeRefused(Conflict):
    """The two profiles may not be merged (or a merge may not be undone)."""


def _customer_fks(table: Table) -> list[str]:
    return [
        fk.parent.name
        for fk in table.foreign_keys
        if fk.column.table.name == "customers" and fk.column.name == "id"
    ]


class MergesMixin:
    """Merging two profiles into one, and undoing exactly that merge."""

    session: AsyncSession

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
            await self._move_jobs(survivor_id, absorbed_id, moved, now)
            for table in Base.metadata.sorted_tables:
                if table.name in _NOT_MOVED:
                    continue
                await self._move_rows(table, absorbed_id, survivor_id, moved)
            before = _profile_values(survivor)
            _absorb_profile(survivor, absorbed)
            await self._prefer_verified_phone(survivor, absorbed)
            await self._mirror_consents(survivor)
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

    async def _prefer_verified_phone(self, survivor: Customer, absorbed: Customer) -> None:
        """The joined profile's main ``phone`` (the one agents see and call back) is a verified
        one when it has any: a web chat's typed number must not hide the number the customer
        shared on Telegram. The absorbed profile's own verified main phone first, then the
        earliest verified; undone with the rest of the survivor's profile."""
        verified = list(
            await self.session.scalars(
                select(CustomerPhone.phone)
                .where(CustomerPhone.customer_id == survivor.id, CustomerPhone.verified)
                .order_by(CustomerPhone.created_at, CustomerPhone.id)
            )
        )
        if not verified or survivor.phone in verified:
            return
        survivor.phone = absorbed.phone if absorbed.phone in verified else verified[0]

    async def _move_jobs(
        self, survivor_id: int, absorbed_id: int, moved: dict[str, list[int]], now: dt.datetime
    ) -> None:
        """Move the absorbed profile's proactive jobs; one the survivor has too (the same
        scenario, occurrence and step) stays behind, cancelled if it was still scheduled."""

        def key(job: ProactiveJob) -> tuple[str, str, int]:
            return (job.scenario, job.occurrence, job.step)

        def of(customer_id: int) -> Any:
            return self.session.scalars(
                select(ProactiveJob).where(ProactiveJob.customer_id == customer_id)
            )

        theirs = {key(j) for j in await of(survivor_id)}
        jobs = list(await of(absorbed_id))
        twins = {j.id for j in jobs if key(j) in theirs}
        for job in jobs:
            if job.id in twins and job.status == "scheduled":
                reason = f"merged into customer {survivor_id}, who has the same message scheduled"
                job.status, job.decision, job.reason = "cancelled", "cancelled", reason
                self.session.add(
                    ProactiveDecision(
                        job_id=job.id,
                        customer_id=absorbed_id,
                        scenario=job.scenario,
                        topic=job.topic,
                        decision="cancelled",
                        reason=reason,
                        at=now,
                    )
                )
        ids = [j.id for j in jobs if j.id not in twins]
        if ids:
            await self.session.execute(
                update(ProactiveJob)
                .where(ProactiveJob.id.in_(ids))
                .values(customer_id=survivor_id)
                .execution_options(synchronize_session=False)
            )
            moved["proactive_jobs.customer_id"] = ids
        await self.session.flush()

    async def _mirror_consents(self, survivor: Customer) -> None:
        latest: dict[str, bool] = {}
        for row in await self.session.scalars(
            select(Consent)
            .where(Consent.customer_id == survivor.id)
            .order_by(Consent.at, Consent.id)
        ):
            latest[row.topic] = row.granted
        if latest:
            survivor.consent = {**(survivor.consent or {}), **latest}

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
