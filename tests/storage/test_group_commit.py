"""The group commit under the inbox and the turn writer, on SQLite and PostgreSQL: batching, and
what a failed batch does to its waiters."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from storage.db import Database
from storage.errors import BackendUnavailable, StorageError
from storage.group_commit import GroupCommit


class Work:
    """Upper-cases its items in one transaction; "unexpected" or "storage" in a batch fail it."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def __call__(self, s: Session, items: list[str]) -> list[str]:
        s.execute(text("SELECT 1"))
        self.batches.append(list(items))
        if "unexpected" in items:
            raise RuntimeError("a bug in the batch write")
        if "storage" in items:
            raise StorageError("the database said no")
        return [item.upper() for item in items]


async def _outcomes(writer: GroupCommit[str, str], *chunks: list[str]) -> list[object]:
    return await asyncio.gather(*(writer.submit(c) for c in chunks), return_exceptions=True)


async def test_concurrent_submissions_share_transactions_and_get_their_own_results(
    db: Database,
) -> None:
    work = Work()
    writer = GroupCommit(db, work, name="test writer", failed="test write failed", max_batch=8)
    try:
        results = await _outcomes(writer, *([f"a{i}", f"b{i}"] for i in range(20)))
    finally:
        await writer.close()
    assert results == [[f"A{i}", f"B{i}"] for i in range(20)]
    assert len(work.batches) < 20  # batched, never over max_batch items
    assert all(len(batch) <= 8 for batch in work.batches)
    assert [item for batch in work.batches for item in batch] == [
        item for i in range(20) for item in (f"a{i}", f"b{i}")
    ]


async def test_an_unexpected_error_fails_its_batch_and_the_writer_goes_on(db: Database) -> None:
    work = Work()
    writer = GroupCommit(db, work, name="test writer", failed="test write failed")
    try:
        failed = await _outcomes(writer, ["a"], ["unexpected"])
        after = await writer.submit(["c"])
    finally:
        await writer.close()
    assert all(isinstance(e, StorageError) for e in failed)
    assert "RuntimeError" in str(failed[0])
    assert after == ["C"]


async def test_an_expected_error_fails_the_batch_with_the_given_error(db: Database) -> None:
    writer = GroupCommit(
        db, Work(), name="test writer", failed="test write failed", unavailable=BackendUnavailable
    )
    try:
        failed = await _outcomes(writer, ["a"], ["storage"], ["c"])
    finally:
        await writer.close()
    assert all(isinstance(e, BackendUnavailable) for e in failed)
    assert str(failed[0]) == "test write failed: the database said no"


async def test_retry_alone_writes_a_failed_batch_again_one_submission_at_a_time(
    db: Database,
) -> None:
    work = Work()
    writer = GroupCommit(db, work, name="test writer", failed="test write failed", retry_alone=True)
    try:
        outcomes = await _outcomes(writer, ["a"], ["storage"], ["c"])
    finally:
        await writer.close()
    assert outcomes[0] == ["A"] and outcomes[2] == ["C"]
    assert isinstance(outcomes[1], StorageError)
    assert ["storage"] in work.batches  # alone, after the batch of three failed


async def test_close_fails_what_is_still_queued(db: Database) -> None:
    writer = GroupCommit(db, Work(), name="test writer", failed="test write failed")
    waiter = asyncio.ensure_future(writer.submit(["a"]))
    await asyncio.sleep(0)  # one turn of the loop: queued, its writer task not yet run
    await writer.close()
    with pytest.raises(StorageError, match="the test writer was closed"):
        await waiter
