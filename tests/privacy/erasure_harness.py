"""A customer with data in every store, and searches of every store for what identifies them.

`populate` drives the real app: a Telegram chat (a greeting with the name, a phrase the NLU
does not know, which lands in the review log, a shared contact of the sender's own, a request
for a person, a message relayed to the agent, the CSAT tap) and a REST chat merged into the same
profile by the admin API; the agent answers and closes the ticket with a note through the agent
API. What no conversation makes in a few turns is written to the database directly: a future
and a past booking (with their slots), an order placed with the phone, a scheduled proactive
message, a consent with the words seen, a duplicate marker and a per-sender Redis key.

`leftovers` searches every table the database has (reflected, not the models: a table no
model imports is searched too), every column of every row, every key and value under the
app's Redis prefix (SCAN) or in the in-memory backends, and the review log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import MetaData, select

from bots.app import create_app
from bots.config import Settings
from bots.demo import seed_demo
from bots.keys import BACKENDS
from storage.backends import Backends
from storage.db import Database
from storage.models import Booking, BookingSlot, Order, Service, Staff
from storage.proactive_models import Consent, ProactiveJob
from storage.repositories.customers import CustomerRepository
from storage.slots import cells
from tests.bots.conftest import new_update_id
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_updates import callback_update, contact_update, text_update
from tests.handoff.conftest import Api

NAME = "Zoryanka Pidkovych"
PHONE = "+380671234567"
WAIT = 20.0  # seconds for a reply at the fake Bot API (a loaded machine)


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Api]:
    """The real app on these settings, with the demo business seeded."""
    db = Database(settings.database_url)
    try:
        await seed_demo(db)
    finally:
        await db.dispose()
    async with TestClient(TestServer(create_app(settings))) as client:
        yield Api(client, settings)


@dataclass
class Person:
    """The customer under test and everything that must be gone after the erasure."""

    chat: int
    rest_id: str
    texts: list[str] = field(default_factory=list)
    customer_id: int = 0
    rest_customer_id: int = 0
    ticket_id: int = 0

    @property
    def needles(self) -> list[str]:
        return [NAME, "Zoryanka", "Pidkovych", PHONE, PHONE[1:], str(self.chat), self.rest_id]
        # the message texts are checked separately (`leftovers(..., texts)`)


def new_person() -> Person:
    tag = uuid.uuid4().hex[:8]
    chat = 7_100_000_000 + uuid.uuid4().int % 900_000_000
    return Person(chat=chat, rest_id=f"rest-zoryanka-{tag}")


def _named(update: dict[str, Any]) -> dict[str, Any]:
    for key in ("from", "chat"):
        update["message"][key]["first_name"] = NAME
    return update


async def _tg(api: Api, person: Person, text: str) -> None:
    person.texts.append(text)
    await api.telegram(_named(text_update(person.chat, text, update_id=new_update_id())))


async def populate(api: Api, fake: FakeTelegram) -> Person:
    """Every store gets something of the person (see the module docstring)."""
    person = new_person()
    _, token = await api.add_agent("taras", ["general", "orders"], ["uk", "en"])
    chat = person.chat
    await _tg(api, person, f"Hello, I am {NAME}")
    await fake.wait_for(lambda: len(fake.sent_messages(chat)) >= 1, timeout=WAIT)
    await _tg(api, person, "asdkjh qwpeoiu zmxncb quokka")  # not understood: review log
    await fake.wait_for(lambda: len(fake.sent_messages(chat)) >= 2, timeout=WAIT)
    await api.telegram(_named(contact_update(chat, PHONE, user_id=chat, first_name=NAME)))
    await fake.wait_for(lambda: len(fake.sent_messages(chat)) >= 3, timeout=WAIT)
    for text in ("hi there, zebra umbrella 5531", f"call me at {PHONE}, it's {NAME}"):
        person.texts.append(text)
        await api.rest(person.rest_id, text)
    await _ids(api, person)
    body = {"other": person.rest_customer_id, "force": True}
    await api.ok("POST", f"/api/customers/{person.customer_id}/merge", body=body)
    await _ticket(api, fake, person, token)
    await _direct_rows(api, person)
    return person


async def _ids(api: Api, person: Person) -> None:
    db = Database(api.settings.database_url)
    try:
        async with db.session() as s:
            repo = CustomerRepository(s)
            tg = await repo.find_by_identity("telegram", str(person.chat))
            rest = await repo.find_by_identity("rest", person.rest_id)
        assert tg is not None and rest is not None
        person.customer_id, person.rest_customer_id = tg.id, rest.id
    finally:
        await db.dispose()


async def _ticket(api: Api, fake: FakeTelegram, person: Person, token: str) -> None:
    """A person asked for, a message relayed, the agent's answer, a closing note, a CSAT."""
    chat = person.chat
    sent = len(fake.sent_messages(chat))
    await _tg(api, person, "talk to a human please")
    await fake.wait_for(lambda: len(fake.sent_messages(chat)) > sent, timeout=WAIT)
    [ticket] = await api.tickets(token)
    person.ticket_id = ticket["id"]
    await api.ok("POST", f"/api/tickets/{ticket['id']}/claim", token)
    await _tg(api, person, "my parcel smells of lavender 8812")
    answer = {"text": f"Zoryanka, we will call {PHONE} about the lavender parcel"}
    person.texts.append(answer["text"])
    await api.ok("POST", f"/api/tickets/{ticket['id']}/messages", token, answer)
    note = {"resolution": f"Called {NAME} at {PHONE}: lavender parcel found"}
    person.texts.append(note["resolution"])
    await api.ok("POST", f"/api/tickets/{ticket['id']}/close", token, note)
    await fake.wait_for(lambda: len(_scores(fake, chat)) == 5, timeout=WAIT)  # the CSAT question
    after = len(fake.sent_messages(chat))
    await api.telegram(callback_update(chat, _scores(fake, chat)[3], update_id=new_update_id()))
    await fake.wait_for(lambda: len(fake.sent_messages(chat)) > after, timeout=WAIT)


def _scores(fake: FakeTelegram, chat: int) -> list[str]:
    """The button payloads of the last message sent to the chat."""
    sent = fake.sent_messages(chat)
    keyboard = sent[-1].get("reply_markup", {}).get("inline_keyboard", []) if sent else []
    return [b["callback_data"] for row in keyboard for b in row if "callback_data" in b]


async def _direct_rows(api: Api, person: Person) -> None:
    db = Database(api.settings.database_url)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0, second=0, minute=0)
    try:
        async with db.transaction() as s:
            service = (await s.scalars(select(Service).limit(1))).one()
            staff = (await s.scalars(select(Staff).limit(1))).one()
            for ref, start in (
                ("ZPFUT1", now + dt.timedelta(days=3)),
                ("ZPPAST", now - dt.timedelta(days=3)),
            ):
                end = start + dt.timedelta(minutes=service.duration_minutes)
                booking = Booking(
                    reference=ref,
                    customer_id=person.customer_id,
                    service_id=service.id,
                    staff_id=staff.id,
                    starts_at=start,
                    ends_at=end,
                    name=NAME,
                    phone=PHONE,
                )
                s.add(booking)
                await s.flush()
                for cell in cells(start, end):
                    s.add(BookingSlot(staff_id=staff.id, slot_start=cell, booking_id=booking.id))
            s.add(Order(number=f"ZP-{person.rest_id[-8:]}", phone=PHONE, items=[{"sku": "tea"}]))
            s.add(
                ProactiveJob(
                    customer_id=person.customer_id,
                    scenario="booking_reminder",
                    step=0,
                    occurrence="booking:ZPFUT1",
                    topic="reminders",
                    due_at=now + dt.timedelta(days=2),
                    variables={"name": NAME, "phone": PHONE},
                )
            )
            s.add(
                Consent(
                    customer_id=person.customer_id,
                    topic="marketing",
                    granted=True,
                    source="telegram:text",
                    text=f"yes, {NAME} agrees",
                )
            )
    finally:
        await db.dispose()
    await _keys(api, person)


async def _keys(api: Api, person: Person) -> None:
    """A duplicate marker of one of the person's messages and a key tagged with their chat."""
    backends: Backends = api.client.app[BACKENDS]
    db = Database(api.settings.database_url)
    try:
        async with db.session() as s:
            from storage.models import Message

            platform_id = await s.scalar(
                select(Message.platform_message_id)
                .where(Message.customer_id == person.customer_id, Message.direction == "in")
                .limit(1)
            )
    finally:
        await db.dispose()
    assert await backends.dedup.first_time(f"telegram:{platform_id}")
    if backends.redis is not None and backends.keys is not None:
        tagged = f"{backends.keys.prefix}:rate:in:{{telegram:{person.chat}}}"
        await backends.redis.set(tagged, f"{person.chat}".encode())


# ---- searching every store ---------------------------------------------------------------------


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


async def table_hits(db: Database, needles: list[str]) -> list[str]:
    """``table.column: needle`` for every stored value that contains a needle (any case)."""
    metadata = MetaData()
    async with db.engine.connect() as conn:
        await conn.run_sync(metadata.reflect)
        hits = []
        for table in metadata.sorted_tables:
            for row in await conn.execute(select(table)):
                for column, value in zip(table.columns, row, strict=True):
                    text = _as_text(value).lower()
                    hits += [
                        f"{table.name}.{column.name}: {n}" for n in needles if n.lower() in text
                    ]
    return hits


async def _redis_value(redis: Any, key: bytes) -> Any:
    kind = (await redis.type(key)).decode()
    if kind == "string":
        return await redis.get(key)
    if kind == "hash":
        return await redis.hgetall(key)
    if kind == "list":
        return await redis.lrange(key, 0, -1)
    if kind == "set":
        return await redis.smembers(key)
    if kind == "zset":
        return await redis.zrange(key, 0, -1)
    return await redis.xrange(key)


async def key_hits(backends: Backends, needles: list[str]) -> list[str]:
    """Keys and values of the key-value backends that contain a needle."""
    blobs: list[tuple[str, str]] = []
    if backends.redis is not None and backends.keys is not None:
        redis = backends.redis
        async for key in redis.scan_iter(match=f"{backends.keys.prefix}:*", count=500):
            blobs.append((_as_text(key), repr(await _redis_value(redis, key))))
    else:  # the in-memory backends: what each holds
        sessions: Any = backends.sessions
        blobs += [(str(k), _as_text(v[2])) for k, v in sessions._items.items()]
        dedup: Any = backends.dedup
        blobs += [(k, "") for k in dedup._seen]
        queue: Any = backends.queue
        blobs += [(d.key, _as_text(d.body)) for d in queue.dead_letters]
    return [
        f"{key}: {n}"
        for key, value in blobs
        for n in needles
        if n.lower() in key.lower() or n.lower() in value.lower()
    ]
