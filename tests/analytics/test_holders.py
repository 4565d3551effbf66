"""Through the REST and Telegram channels, the agent API, the admin API and the metrics API, on
both backends: a take-over ends the customer's open task at once (no later message needed); a
direct transfer to an agent is a claim, and every ticket number follows the ticket's holder; a
reply given up on carries its customer and the bot's clock; first-contact resolution sees a
merged profile's tickets, and no longer after the merge is undone."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from sqlalchemy import select, update

from bots.keys import CLOCK
from storage.analytics.events import Event, record_async
from storage.analytics.fcr import CameBack, came_back
from storage.analytics.models import EVENTS
from storage.analytics.rollups import reconcile, roll_up
from storage.db import Database
from storage.models import Customer
from storage.repositories.customers import CustomerRepository
from tests.analytics.test_tasks_api import days, metrics
from tests.bots.conftest import new_chat_id, new_update_id
from tests.fakes import wait_until
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_updates import text_update
from tests.handoff.conftest import ADMIN, Api

PERSON = "I want to talk to a person"


async def customer_of(api: Api, channel: str, external_id: str) -> int:
    database = Database(api.settings.database_url)
    try:
        async with database.session() as s:
            customer = await CustomerRepository(s).find_by_identity(channel, external_id)
            assert customer is not None
            return customer.id
    finally:
        await database.dispose()


async def events_of(api: Api, kind: str) -> list[Any]:
    database = Database(api.settings.database_url)
    try:
        async with database.session() as s:
            return list((await s.execute(select(EVENTS).where(EVENTS.c.kind == kind))).all())
    finally:
        await database.dispose()


async def folded_and_reconciled(api: Api) -> None:
    """The rollups take every event in and equal a recount; the summary is the same after."""
    before = await metrics(api)
    database = Database(api.settings.database_url)
    try:
        await roll_up(database)
        assert (await reconcile(database)).ok
    finally:
        await database.dispose()
    assert await metrics(api) == before


async def ticket_rows(api: Api, token: str) -> dict[str, dict[str, str]]:
    resp = await api.client.get(
        f"/api/metrics/export.csv?kind=tickets&{days(api)}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status == 200
    return {row["ticket"]: row for row in csv.DictReader(io.StringIO(await resp.text()))}


async def test_a_take_over_ends_the_open_task_at_once(api: Api) -> None:
    _, boss = await api.add_agent("Oksana", ["*"], role="supervisor")
    await api.rest("booker", "I'd like to book a teeth cleaning")  # a task, left open
    await api.rest("idle", "hello")  # small talk: no task
    before = await metrics(api)
    assert before["containment"]["tasks_started"] == 1 and before["containment"]["open"] == 1
    for sender in ("booker", "idle"):
        customer = await customer_of(api, "rest", sender)
        ticket = await api.ok("POST", "/api/tickets", boss, {"customer_id": customer})
        assert ticket["status"] == "assigned" and ticket["reason"] == "agent_initiated"
    handed = {"rate": 1.0, "count": 2, "by_reason": {"take_over": 2}}
    containment = {"rate": 0.0, "contained": 0, "tasks_started": 2, "abandoned": 0, "open": 0}
    doc = await metrics(api)
    assert doc["handoff"] == handed and doc["containment"] == containment
    assert doc["tickets"]["by_reason"] == {"take_over": 2}
    # their next messages (held for the agent) end nothing a second time
    await api.rest("booker", "hello?")
    await api.rest("idle", "anyone there?")
    doc = await metrics(api)
    assert doc["handoff"] == handed and doc["containment"] == containment
    assert doc["messages"]["in"] == 4
    # a second take-over of a customer whose ticket is open already ends nothing either
    customer = await customer_of(api, "rest", "booker")
    await api.ok("POST", "/api/tickets", boss, {"customer_id": customer})
    assert (await metrics(api))["handoff"] == handed
    await folded_and_reconciled(api)


async def test_a_transfer_to_an_agent_is_a_claim_and_numbers_follow_the_holder(api: Api) -> None:
    anna, anna_token = await api.add_agent("Anna", ["general"], online=False)
    bohdan, bohdan_token = await api.add_agent("Bohdan", ["general"], online=False)
    _, boss = await api.add_agent("Oksana", ["*"], role="supervisor", online=False)
    await api.rest("waiter", PERSON)
    (ticket,) = await api.tickets()
    assert ticket["status"] == "queued"  # nobody online: it waits
    path = f"/api/tickets/{ticket['id']}"
    await api.ok("POST", f"{path}/transfer", boss, {"agent_id": anna})
    doc = await metrics(api, boss, f"&agent={anna}")
    assert doc["tickets"]["claimed"] == 1  # the direct transfer was her claim
    await api.ok("POST", f"{path}/messages", anna_token, {"text": "Hello, Anna here"})
    await api.ok("POST", f"{path}/transfer", boss, {"agent_id": bohdan})
    row = (await ticket_rows(api, boss))[str(ticket["id"])]
    assert row["agent_id"] == str(bohdan) and row["claimed_at"] and row["first_response_at"]
    # back to the team's queue: nobody holds it; Bohdan takes it from there
    await api.ok("POST", f"{path}/transfer", boss, {"topic": "general"})
    assert (await ticket_rows(api, boss))[str(ticket["id"])]["agent_id"] == ""
    await api.ok("POST", f"{path}/claim", bohdan_token)
    assert (await ticket_rows(api, boss))[str(ticket["id"])]["agent_id"] == str(bohdan)
    await api.ok("POST", f"{path}/close", bohdan_token, {"resolution": "done"})
    doc = await metrics(api, boss)
    assert doc["tickets"]["claimed"] == 1 and doc["tickets"]["resolved"] == 1
    mine = await metrics(api, boss, f"&agent={anna}")
    assert (mine["tickets"]["claimed"], mine["first_response"]["count"]) == (1, 1)
    assert mine["tickets"]["resolved"] == 0 and mine["csat"]["asked"] == 0
    his = await metrics(api, boss, f"&agent={bohdan}")
    assert (his["tickets"]["claimed"], his["first_response"]["count"]) == (0, 0)
    assert his["tickets"]["resolved"] == 1 and his["csat"]["asked"] == 1
    assert (await ticket_rows(api, boss))[str(ticket["id"])]["agent_id"] == str(bohdan)
    holders = sorted((e.agent_id or 0) for e in await events_of(api, "ticket.assigned"))
    assert holders == sorted([anna, bohdan, 0, bohdan])
    await folded_and_reconciled(api)


async def test_a_supervisors_first_word_on_an_agents_ticket_is_the_holders(api: Api) -> None:
    petro, petro_token = await api.add_agent("Petro", ["general"], online=False)
    boss_id, boss = await api.add_agent("Oksana", ["*"], role="supervisor", online=False)
    await api.rest("asker", PERSON)
    (ticket,) = await api.tickets()
    await api.ok("POST", f"/api/tickets/{ticket['id']}/claim", petro_token)
    await api.ok("POST", f"/api/tickets/{ticket['id']}/messages", boss, {"text": "Hi, one moment"})
    assert (await metrics(api, boss, f"&agent={petro}"))["first_response"]["count"] == 1
    assert (await metrics(api, boss, f"&agent={boss_id}"))["first_response"]["count"] == 0


async def test_a_reply_given_up_on_names_its_customer_on_the_bots_clock(
    api: Api, fake_telegram: FakeTelegram
) -> None:
    # the bot's clock runs 40 days ahead of the real one: the range is the bot's
    api.client.app[CLOCK].advance(dt.timedelta(days=40))
    chat = new_chat_id()
    fake_telegram.fail_next("sendMessage", status=403)
    await api.telegram(text_update(chat, "hello", update_id=new_update_id()))

    async def counted() -> bool:
        return bool((await metrics(api))["delivery_failures"])

    await wait_until(counted, timeout=30, what="the failed delivery counted")
    assert (await metrics(api))["delivery_failures"] == {"telegram": {"unreachable": 1}}
    (event,) = await events_of(api, "delivery.failed")
    assert event.customer_id == await customer_of(api, "telegram", str(chat))
    (message,) = await events_of(api, "message.in")
    assert abs((event.at - message.at).total_seconds()) < 3600  # the bot's clock, not 40 days
    assert "failed_at" in event.data


async def merge(api: Api, survivor: int, absorbed: int) -> int:
    body = {"other": absorbed, "force": True}
    doc = await api.ok("POST", f"/api/customers/{survivor}/merge", ADMIN, body)
    return int(doc["merge_id"])


async def test_first_contact_resolution_sees_a_merged_profile_until_the_undo(api: Api) -> None:
    await api.rest("first-profile", PERSON)
    (ticket,) = await api.tickets()
    await api.ok("POST", f"/api/tickets/{ticket['id']}/close", ADMIN, {"resolution": "done"})
    await api.rest("second-profile", "hello")
    first = await customer_of(api, "rest", "first-profile")
    second = await customer_of(api, "rest", "second-profile")
    merge_id = await merge(api, second, first)
    await api.ok("POST", f"/api/merges/{merge_id}/undo", ADMIN)
    await api.rest("second-profile", PERSON)  # two people again: not a return
    assert (await metrics(api))["fcr"]["came_back"] == 0
    (other,) = [t for t in await api.tickets() if t["customer_id"] == second]
    await api.ok("POST", f"/api/tickets/{other['id']}/close", ADMIN, {"resolution": "done"})
    await merge(api, first, second)
    await api.rest("second-profile", PERSON)  # now one person: both tickets come back
    doc = await metrics(api)
    assert doc["fcr"] == {"rate": 0.0, "resolved": 2, "came_back": 2, "days": 7}
    # the summary derived the returns; the rollup round writes them, once, and folds them
    assert await events_of(api, "fcr.came_back") == []
    await folded_and_reconciled(api)
    returns = await events_of(api, "fcr.came_back")
    assert sorted(e.ticket_id for e in returns) == sorted([ticket["id"], other["id"]])
    assert {e.customer_id for e in returns} == {first}
    await folded_and_reconciled(api)
    assert len(await events_of(api, "fcr.came_back")) == 2


async def test_the_return_query_treats_a_chain_of_merged_profiles_as_one(
    db: Database,
) -> None:
    """Events that stayed with a merged-away profile (the merge moves rows only of the tables
    its process knows) are still that person's, and a profile whose merge is undone is not."""
    at = dt.datetime(2026, 3, 10, 8, 0, tzinfo=dt.UTC)
    async with db.transaction() as s:
        people = [Customer(display_name=name) for name in ("A", "B", "C")]
        s.add_all(people)
        await s.flush()
        a, b, c = (p.id for p in people)
        resolved = [(1, a, "general"), (2, b, "orders"), (3, c, "general"), (4, b, "general")]
        events = [
            Event("ticket.resolved", str(t), at, customer_id=who, ticket_id=t, team=team)
            for t, who, team in resolved
        ]
        await record_async(s, events)
        people[0].merged_into_id, people[1].merged_into_id = b, c  # A into B, B into C

    async def returns(customer_id: int) -> list[Event]:
        week = dt.timedelta(days=7)
        contact = CameBack(customer_id, "general", at, at - week, at + dt.timedelta(hours=1))
        found: list[Event] = await db.run(lambda s: came_back(s, contact), write=False)
        return found

    found = await returns(c)
    assert sorted((e.ticket_id, e.customer_id) for e in found) == [(1, c), (3, c), (4, c)]
    async with db.transaction() as s:
        await s.execute(update(Customer).where(Customer.id == b).values(merged_into_id=None))
    assert sorted(e.ticket_id for e in await returns(c)) == [3]
    assert sorted(e.ticket_id for e in await returns(b)) == [1, 4]
