"""The audit log (storage.audit) on SQLite and PostgreSQL: writing, filtering and paging,
the append-only guarantee, the retention purge, and no personal data in an entry."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from storage.audit import (
    AuditDetailRefused,
    AuditEntry,
    audit,
    count_audit,
    list_audit,
    purge_audit_before,
    record_audit,
)
from storage.db import Database

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


async def _seed(db: Database) -> None:
    async with db.transaction() as s:
        for i in range(6):
            await record_audit(
                s,
                actor="agent:7" if i % 2 else "admin-token",
                role="agent" if i % 2 else "admin",
                action="transcript.viewed" if i < 4 else "customer.merged",
                target_type="customer",
                target_id=i % 3,
                ip="127.0.0.1",
                detail={"ticket_id": i, "kept": [1, 2]},
                at=T0 + dt.timedelta(hours=i),
            )


async def test_entries_are_filtered_and_paged_newest_first(db: Database) -> None:
    await _seed(db)
    await audit(db, actor="system", action="retention.purged", detail={"transcripts": 3})
    async with db.session() as s:
        everything = await list_audit(s)
        assert [e.action for e in everything][:2] == ["retention.purged", "customer.merged"]
        assert [e.id for e in everything] == sorted((e.id for e in everything), reverse=True)
        views = await list_audit(s, action="transcript.viewed")
        assert [e.detail["ticket_id"] for e in views if e.detail] == [3, 2, 1, 0]
        assert len(await list_audit(s, actor="agent:7")) == 3
        target = await list_audit(s, target_type="customer", target_id=1)
        assert sorted(e.detail["ticket_id"] for e in target if e.detail) == [1, 4]
        window = await list_audit(
            s, since=T0 + dt.timedelta(hours=1), until=T0 + dt.timedelta(hours=3)
        )
        assert [e.at for e in window] == [T0 + dt.timedelta(hours=2), T0 + dt.timedelta(hours=1)]
        page1 = await list_audit(s, limit=4)
        page2 = await list_audit(s, limit=4, before_id=page1[-1].id)
        assert len(page1) == 4 and len(page2) == 3
        assert {e.id for e in page1}.isdisjoint(e.id for e in page2)
        first = everything[-1]
        assert first.as_dict()["at"] == T0.isoformat() and first.ip == "127.0.0.1"
        assert first.as_dict()["target_id"] == "0"


async def test_record_audit_commits_with_the_fact_or_not_at_all(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as s:
            await record_audit(s, actor="admin-token", action="customer.merged", target_id=5)
            await s.flush()
            raise RuntimeError("the fact failed")
    async with db.session() as s:
        assert await count_audit(s) == 0


@pytest.mark.parametrize(
    "detail",
    [
        {"phone": "x"},
        {"Name": "Olena"},
        {"text": "hello"},
        {"note": "n"},
        {"source": "+380 50 123 45 67"},
        {"who": ["olena@example.com"]},
        {"reason": "x" * 201},
        {"nested": {"a": 1}},
    ],
)
async def test_personal_data_is_refused_in_the_detail(
    db: Database, detail: dict[str, object]
) -> None:
    with pytest.raises(AuditDetailRefused):
        await audit(db, actor="admin-token", action="customer.viewed", detail=detail)
    async with db.session() as s:
        assert await count_audit(s) == 0


async def test_ids_counts_and_times_are_accepted_in_the_detail(db: Database) -> None:
    detail = {
        "cutoff": "2026-12-07T09:00:00+00:00",
        "day": "2026-12-07",
        "erasure_id": 12,
        "steps": ["profile", "sessions"],
        "forced": True,
    }
    await audit(db, actor="system", action="retention.purged", detail=detail)
    async with db.session() as s:
        [entry] = await list_audit(s)
    assert entry.detail == detail and entry.target_id is None


async def test_an_entry_holds_ids_not_the_customers_data(db: Database) -> None:
    await audit(
        db,
        actor="agent:3",
        action="customer.merged",
        target_type="customer",
        target_id=42,
        detail={"into": 41, "merge_id": 9, "identities_moved": 2},
    )
    async with db.session() as s:
        raw = (await s.execute(text("SELECT * FROM audit_log"))).all()
    assert len(raw) == 1
    flat = " ".join(str(v) for v in raw[0])
    assert "42" in flat and "customer.merged" in flat
    for personal in ("Olena", "+380", "@", "hello"):
        assert personal not in flat


async def test_the_log_refuses_updates_and_deletes_but_the_purge(db: Database) -> None:
    await _seed(db)
    with pytest.raises(DBAPIError):
        async with db.transaction() as s:
            await s.execute(text("UPDATE audit_log SET actor = 'someone-else'"))
    if db.dialect == "postgresql":
        with pytest.raises(DBAPIError):
            async with db.transaction() as s:
                await s.execute(text("DELETE FROM audit_log"))
        with pytest.raises(DBAPIError):
            async with db.transaction() as s:
                await s.execute(text("TRUNCATE audit_log"))
    async with db.transaction() as s:
        purged = await purge_audit_before(s, T0 + dt.timedelta(hours=2))
    assert purged == 2
    if db.dialect == "postgresql":  # the purge's permission ended with its statement
        with pytest.raises(DBAPIError):
            async with db.transaction() as s:
                await purge_audit_before(s, T0 + dt.timedelta(hours=3))
                await s.execute(text("DELETE FROM audit_log"))
    async with db.session() as s:
        left = await list_audit(s)
        assert len(left) == 4 and min(e.at for e in left) == T0 + dt.timedelta(hours=2)
        assert {e.actor for e in left} == {"admin-token", "agent:7"}
    assert AuditEntry.__tablename__ == "audit_log"
