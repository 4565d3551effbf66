"""The privacy admin API and CLI on both backends: who may export, what the document holds and
the audit entry it leaves; a legal hold answered 409 with nothing touched; unknown ids 404; the
CLI's export and erase (its receipt, and exit 3 under legal hold)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import select, update

from bots.cli import main as cli_main
from bots.config import Settings
from storage.audit import AuditEntry
from storage.db import Database
from storage.models import Customer
from storage.repositories.customers import CustomerRepository
from storage.repositories.privacy import ErasureJob
from tests.conftest import run_in_thread
from tests.handoff import conftest as handoff_suite
from tests.handoff.conftest import Api
from tests.privacy.erasure_harness import running

handoff_settings, make_settings = handoff_suite.handoff_settings, handoff_suite.make_settings
fake_telegram, mode, pg_e2e_url = (
    handoff_suite.fake_telegram,
    handoff_suite.mode,
    handoff_suite.pg_e2e_url,
)
database_url_for = handoff_suite.database_url_for


@pytest.fixture
async def shop(handoff_settings: Callable[..., Settings]) -> AsyncIterator[Api]:
    async with running(handoff_settings()) as api:
        yield api


@pytest.fixture
async def db(shop: Api) -> AsyncIterator[Database]:
    database = Database(shop.settings.database_url)
    try:
        yield database
    finally:
        await database.dispose()


async def _customer(shop: Api, db: Database, sender: str, text: str) -> int:
    assert await shop.rest(sender, text)
    async with db.session() as s:
        found = await CustomerRepository(s).find_by_identity("rest", sender)
    assert found is not None
    return found.id


async def test_export_is_for_admins_and_audited(shop: Api, db: Database) -> None:
    customer_id = await _customer(shop, db, "exp-taras-1", "hello, I am Taras Eksportenko")
    path = f"/api/customers/{customer_id}/export"
    assert (await shop.call("GET", path, token=None))[0] == 401
    _, agent = await shop.add_agent("olha", ["general"])
    assert (await shop.call("GET", path, token=agent))[0] == 403
    doc = await shop.ok("GET", path)
    assert (
        doc["customer_id"] == customer_id and doc["identities"][0]["external_id"] == "exp-taras-1"
    )
    said = [m["text"] for m in doc["transcript"] if m["direction"] == "in"]
    assert said == ["hello, I am Taras Eksportenko"]
    assert any(m["direction"] == "out" for m in doc["transcript"])  # the bot's answer too
    assert set(doc) >= {"bookings", "orders", "tickets", "csat", "proactive", "consents"}
    assert (await shop.call("GET", "/api/customers/987654321/export"))[0] == 404
    async with db.session() as s:
        entries = list(
            await s.scalars(select(AuditEntry).where(AuditEntry.action == "customer.exported"))
        )
    assert [(e.actor, e.target_id) for e in entries] == [("admin-token", str(customer_id))]


async def test_legal_hold_refuses_erasure_with_409(shop: Api, db: Database) -> None:
    customer_id = await _customer(shop, db, "hold-iryna-1", "hello, Iryna here")
    async with db.transaction() as s:
        await s.execute(update(Customer).where(Customer.id == customer_id).values(legal_hold=True))
    status, body = await shop.call("POST", f"/api/customers/{customer_id}/erase")
    assert status == 409 and "legal hold" in body["error"]
    assert (await shop.call("GET", "/api/erasures/424242"))[0] == 404
    assert (await shop.call("POST", "/api/customers/987654321/erase"))[0] == 404
    async with db.session() as s:
        assert list(await s.scalars(select(ErasureJob))) == []
        customer = await s.get(Customer, customer_id)
    assert customer is not None and customer.legal_hold


async def test_cli_exports_and_erases(
    shop: Api, db: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    customer_id = await _customer(shop, db, "cli-petro-1", "hi, Petro Konsolenko speaking")
    settings = shop.settings
    monkeypatch.setenv("OMNIRELAY_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("OMNIRELAY_NLU_REVIEW_LOG", str(settings.nlu_review_log))
    if settings.redis_url:
        monkeypatch.setenv("OMNIRELAY_REDIS_URL", settings.redis_url)
        monkeypatch.setenv("OMNIRELAY_REDIS_PREFIX", settings.redis_prefix)
    capsys.readouterr()
    assert run_in_thread(cli_main, ["privacy", "export", str(customer_id)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert "hi, Petro Konsolenko speaking" in [m["text"] for m in doc["transcript"]]

    assert run_in_thread(cli_main, ["privacy", "erase", str(customer_id)]) == 0
    job = json.loads(capsys.readouterr().out)
    assert job["state"] == "done" and job["receipt"]["transcript"] >= 2
    assert job["receipt"]["profile"] == 1 and job["requested_by"] == "cli"
    async with db.session() as s:
        customer = await s.get(Customer, customer_id)
    assert customer is not None and customer.display_name is None

    other = await _customer(shop, db, "cli-held-1", "hello from a held one")
    async with db.transaction() as s:
        await s.execute(update(Customer).where(Customer.id == other).values(legal_hold=True))
    assert run_in_thread(cli_main, ["privacy", "erase", str(other)]) == 3


async def test_erasing_an_erased_customer_answers_with_the_finished_job(
    shop: Api, db: Database
) -> None:
    customer_id = await _customer(shop, db, "twice-olha-1", "hello, Olha Dvichi here")
    status, first = await shop.call("POST", f"/api/customers/{customer_id}/erase")
    assert status == 202
    for _ in range(600):  # the job runs in the background: wait for it to finish
        status, job = await shop.call("GET", f"/api/erasures/{first['id']}")
        if job["state"] == "done":
            break
        await asyncio.sleep(0.1)
    assert job["state"] == "done"
    status, again = await shop.call("POST", f"/api/customers/{customer_id}/erase")
    assert status == 200 and again["id"] == first["id"] and again["state"] == "done"
    async with db.session() as s:
        jobs = list(await s.scalars(select(ErasureJob)))
        audits = list(
            await s.scalars(select(AuditEntry).where(AuditEntry.action == "customer.erased"))
        )
    assert [j.id for j in jobs] == [first["id"]]
    assert len(audits) == 1
