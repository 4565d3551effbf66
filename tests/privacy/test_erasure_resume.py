"""An erasure that a store fails mid-way, or whose process is killed mid-way, stops at that
step, keeps what it did, and a second run finishes from there (on SQLite and PostgreSQL, with
the memory and the Redis backends); a legal hold refuses it before anything is touched; a
finished job run again changes nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from bots.privacy.erasure import STEP_NAMES, Eraser, LegalHoldRefused
from storage.backends import Backends
from storage.db import Database
from storage.models import ChannelIdentity, Customer, Message, Order
from storage.repositories.privacy import ErasureJob
from storage.sessions import Session
from tests.fakes import wait_until

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
TEXT = "please call Mykola Resumenko back"
PHONE = "+380939876543"


async def _customer(db: Database, backends: Backends, *, hold: bool = False) -> int:
    async with db.transaction() as s:
        customer = Customer(display_name="Mykola Resumenko", phone=PHONE, legal_hold=hold)
        s.add(customer)
        await s.flush()
        s.add(ChannelIdentity(customer_id=customer.id, channel="viber", external_id="vb-mykola-1"))
        s.add(Order(number=f"RS-{customer.id}", phone=PHONE, customer_id=customer.id))
        for n in range(3):
            s.add(
                Message(
                    customer_id=customer.id,
                    channel="viber",
                    external_user_id="vb-mykola-1",
                    direction="in",
                    sender_kind="customer",
                    text=f"{TEXT} {n}",
                    platform_message_id=f"pm-{customer.id}-{n}",
                    status="received",
                )
            )
        customer_id = customer.id
    await backends.sessions.save(Session(customer_id, slots={"name": "Mykola Resumenko"}))
    return customer_id


def _review_log(path: Path) -> None:
    lines = [{"text": f"{TEXT} 1", "language": "en", "ranking": [], "channel": "viber", "at": ""}]
    lines.append(
        {"text": "someone else's words", "language": "en", "ranking": [], "channel": "", "at": ""}
    )
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")


async def test_a_failed_step_is_resumed_where_it_stopped(
    db: Database, backends: Backends, tmp_path: Path
) -> None:
    customer_id = await _customer(db, backends)
    review = tmp_path / "review.jsonl"
    review.mkdir()  # the fault: the review log's path is a directory, reading it fails
    eraser = Eraser(db, backends, review, None, lambda: NOW, lock_timeout=5)
    job = await eraser.request(customer_id, "test")

    stopped = await eraser.run(job.id)
    assert stopped.state == "failed" and STEP_NAMES[stopped.step] == "review_log"
    assert stopped.error is not None and stopped.error.startswith("review_log: IsADirectoryError")
    assert stopped.receipt["orders"] == 1 and "transcript" not in stopped.receipt
    assert (await backends.sessions.get(customer_id)).version == 0  # the keys step had run
    async with db.session() as s:  # the steps after it had not
        texts = list(
            await s.scalars(select(Message.text).where(Message.customer_id == customer_id))
        )
        order = (await s.scalars(select(Order).where(Order.customer_id == customer_id))).one()
    assert len(texts) == 3 and all(TEXT in t for t in texts)
    assert order.phone is None

    review.rmdir()  # the store is back
    _review_log(review)
    again = await eraser.request(customer_id, "test")
    assert again.id == job.id  # the unfinished job, not a new one
    done = await eraser.run(job.id)
    assert done.state == "done" and done.attempts == 2 and done.error is None
    assert done.receipt["orders"] == 1  # kept from the first run, not redone
    assert done.receipt["review_log"] == 1 and done.receipt["transcript"] == 3
    assert review.read_text(encoding="utf-8").count("\n") == 1  # someone else's line stays
    async with db.session() as s:
        texts = list(
            await s.scalars(select(Message.text).where(Message.customer_id == customer_id))
        )
        customer = await s.get(Customer, customer_id)
        ids = list(await s.scalars(select(ChannelIdentity.external_id)))
    assert texts == [None, None, None]
    assert customer is not None and customer.display_name is None and customer.phone is None
    assert ids == [f"erased:{ids[0].split(':')[1]}"]

    rerun = await eraser.run(job.id)
    assert rerun.state == "done" and rerun.attempts == 2  # nothing to do, nothing done


async def test_a_customer_under_legal_hold_is_refused(db: Database, backends: Backends) -> None:
    customer_id = await _customer(db, backends, hold=True)
    eraser = Eraser(db, backends, None, None, lambda: NOW, lock_timeout=5)
    with pytest.raises(LegalHoldRefused, match="legal hold"):
        await eraser.request(customer_id, "test")
    async with db.session() as s:
        assert list(await s.scalars(select(ErasureJob))) == []
        customer = await s.get(Customer, customer_id)
    assert customer is not None and customer.display_name == "Mykola Resumenko"
    assert (await backends.sessions.get(customer_id)).version == 1


async def test_a_killed_erasure_process_is_resumed(
    db: Database, backends: Backends, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """`omnirelay privacy erase` is killed (SIGKILL) while a step waits on its store (the review
    log is a FIFO nobody writes to, so reading it blocks): the steps before it are committed,
    the job is left running at that step, and a new run finishes it."""
    customer_id = await _customer(db, backends)
    review = tmp_path / "review.jsonl"
    os.mkfifo(review)
    env = {
        **os.environ,
        "OMNIRELAY_DATABASE_URL": db.url,
        "OMNIRELAY_NLU_REVIEW_LOG": str(review),
        "OMNIRELAY_LOCK_LEASE_MS": "1000",  # the killed holder's lock expires soon
    }
    if backends.redis is not None and backends.keys is not None:
        env["OMNIRELAY_REDIS_URL"] = request.getfixturevalue("redis_url")
        env["OMNIRELAY_REDIS_PREFIX"] = backends.keys.prefix
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots.cli", "privacy", "erase", str(customer_id), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        stuck = await wait_until(
            lambda: _job_at(db, "review_log"), timeout=60, what="the CLI's job at review_log"
        )
    finally:
        proc.kill()
        await proc.wait()
    assert stuck.state == "running" and stuck.receipt["orders"] == 1
    review.unlink()
    _review_log(review)

    eraser = Eraser(db, backends, review, None, lambda: NOW, lock_timeout=30)
    done = await eraser.run(stuck.id)
    assert done.state == "done" and done.attempts == 2
    assert done.receipt["orders"] == 1 and done.receipt["review_log"] == 1
    async with db.session() as s:
        texts = list(
            await s.scalars(select(Message.text).where(Message.customer_id == customer_id))
        )
    assert texts == [None, None, None]


async def _job_at(db: Database, step: str) -> ErasureJob | None:
    async with db.session() as s:
        job = (await s.scalars(select(ErasureJob))).first()
    return job if job is not None and STEP_NAMES[job.step] == step else None
