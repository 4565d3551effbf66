"""The audit log over HTTP, on both backends: what the admin API's reads and merges leave in
it, `GET /api/audit`'s filters and pages, who may read it, and that an entry holds ids and
counts but never the customer's phone, name or messages."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sqlalchemy import text

from storage.db import Database
from tests.bots.conftest import new_chat_id
from tests.fakes import wait_until
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_updates import contact_update, text_update
from tests.handoff.conftest import ADMIN, Api

PHONES = ("+380501112233", "+380509998877")
SECRET = "my parcel 7731 goes to Khreshchatyk street"


async def customer_with_phone(api: Api, fake: FakeTelegram, phone: str) -> int:
    chat = new_chat_id()
    await api.telegram(contact_update(chat, phone, user_id=chat, first_name="Olena"))
    await wait_until(lambda: fake.sent_messages(chat_id=chat), timeout=15, what="reply")
    await api.telegram(text_update(chat, SECRET))
    await wait_until(lambda: len(fake.sent_messages(chat_id=chat)) >= 2, timeout=15, what="reply")
    found = await api.ok("GET", "/api/customers?phone=" + phone.replace("+", "%2B"))
    return int(found["customers"][0]["id"])


async def entries(api: Api, query: str = "", token: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = await api.ok("GET", "/api/audit" + query, token or ADMIN)
    return doc


async def test_admin_reads_and_merges_are_audited(api: Api, fake_telegram: FakeTelegram) -> None:
    first = await customer_with_phone(api, fake_telegram, PHONES[0])
    second = await customer_with_phone(api, fake_telegram, PHONES[1])
    await api.ok("GET", f"/api/customers/{first}")
    transcript = await api.ok("GET", f"/api/customers/{first}/transcript")
    await api.ok("GET", f"/api/customers/{first}/proactive")
    merge = await api.ok(
        "POST", f"/api/customers/{first}/merge", body={"other": second, "force": True}
    )
    await api.ok("POST", f"/api/merges/{merge['merge_id']}/undo")

    doc = await entries(api, "?target_type=customer")
    assert [e["action"] for e in doc["entries"]] == [
        "merge.undone",
        "customer.merged",
        "customer.viewed",  # the proactive view
        "transcript.viewed",
        "customer.viewed",  # the profile
        "customer.viewed",  # found by phone: the second
        "customer.viewed",  # found by phone: the first
    ]
    assert {(e["actor"], e["role"], e["ip"]) for e in doc["entries"]} == {
        ("admin-token", "admin", "127.0.0.1")
    }
    assert doc["next_cursor"] is None
    undone, merged = doc["entries"][:2]
    assert undone["target_id"] == str(first) and undone["detail"]["merge_id"] == merge["merge_id"]
    assert merged["detail"]["absorbed"] == second and merged["detail"]["forced"] is True
    viewed = (await entries(api, "?action=transcript.viewed"))["entries"]
    assert len(viewed) == 1 and viewed[0]["target_id"] == str(first)
    assert viewed[0]["detail"] == {"entries": len(transcript["transcript"])}
    of_second = (await entries(api, f"?target_type=customer&target_id={second}"))["entries"]
    assert [(e["action"], e["detail"]) for e in of_second] == [
        ("customer.viewed", {"via": "phone_search"})
    ]
    assert (await entries(api, "?actor=agent:1"))["entries"] == []

    page1 = await entries(api, "?target_type=customer&limit=4")
    page2 = await entries(api, f"?target_type=customer&limit=4&cursor={page1['next_cursor']}")
    assert [e["id"] for e in page1["entries"] + page2["entries"]] == [
        e["id"] for e in doc["entries"]
    ]
    assert page2["next_cursor"] is None
    newest = quote(doc["entries"][0]["at"])
    assert (await entries(api, f"?target_type=customer&since={newest}"))["entries"][0] == undone
    assert len((await entries(api, f"?target_type=customer&until={newest}"))["entries"]) == 6
    assert (await entries(api, "?since=2999-01-01"))["entries"] == []

    # an admin's own account is named, not the shared token
    admin_id, admin = await api.add_agent("audit-root", ["general"], role="admin", online=False)
    await api.ok("GET", f"/api/customers/{second}", admin)
    mine = (await entries(api, f"?actor=agent:{admin_id}"))["entries"]
    assert [(e["action"], e["role"], e["target_id"]) for e in mine] == [
        ("customer.viewed", "admin", str(second))
    ]

    # ids and counts only: no phone, name or message text, in the table or the answer
    db = Database(api.settings.database_url)
    try:
        async with db.session() as s:
            rows = (await s.execute(text("SELECT * FROM audit_log"))).all()
    finally:
        await db.dispose()
    stored = " ".join(str(value) for row in rows for value in row) + str(doc)
    assert len(rows) >= 7
    for personal in ("501112233", "509998877", "Olena", "parcel", "Khreshchatyk", "7731"):
        assert personal not in stored, personal


async def test_only_admins_read_the_audit_log(api: Api) -> None:
    _, agent = await api.add_agent("audit-agent", ["general"], online=False)
    _, supervisor = await api.add_agent("audit-sup", ["general"], role="supervisor", online=False)
    _, admin = await api.add_agent("audit-admin", ["general"], role="admin", online=False)
    assert (await api.call("GET", "/api/audit", token=None))[0] == 401
    assert (await api.call("GET", "/api/audit", token="wrong"))[0] == 401
    for token in (agent, supervisor):
        status, doc = await api.call("GET", "/api/audit", token=token)
        assert status == 403 and "entries" not in doc and doc["error"]
    assert "entries" in await entries(api, token=admin)
    for query in (
        "?limit=0",
        "?limit=201",
        "?limit=x",
        "?cursor=-1",
        "?since=yesterday",
        "?until=2026-13-01",
        "?target_id=5",
        "?actor=" + "a" * 101,
    ):
        status, doc = await api.call("GET", "/api/audit" + query)
        assert status == 400 and doc["error"], query
