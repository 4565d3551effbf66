"""Runs conversation scripts (YAML, see README.md) through the real app via the REST channel.

Used by the pytest suite (`test_conversations.py`) and by `tests/benchmarks/bench_tasks.py`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bots.app import create_app
from bots.config import Settings
from bots.demo import seed_demo
from bots.flows.backends import SqlBookingBackend
from bots.flows.clock import Clock
from bots.keys import BACKENDS, DATABASE, WORKER
from storage.db import Database
from storage.repositories import OrderRepository
from storage.repositories.customers import CustomerRepository

SCRIPTS = Path(__file__).parent / "scripts"
# Tuesday 10 March 2026, 09:00 in Kyiv: "tomorrow" is Wednesday 11.03 in every script.
FROZEN_NOW = dt.datetime(2026, 3, 10, 7, 0, tzinfo=dt.UTC)
KYIV = ZoneInfo("Europe/Kyiv")
_DURATION = re.compile(r"^(\d+)\s*(m|min|h|d)$")


class ScriptFailure(AssertionError):
    """A turn's expectation was not met; the message names the script and the turn."""


@dataclass
class Script:
    name: str
    path: Path
    customers: dict[str, dict[str, Any]]
    turns: list[dict[str, Any]]
    scaleout: bool = False
    doc: dict[str, Any] = field(default_factory=dict)

    @property
    def first(self) -> str:
        return next(iter(self.customers))


def load_scripts(folder: Path = SCRIPTS) -> list[Script]:
    """Every ``*.yml`` script in ``folder``, sorted by file name."""
    out = []
    for path in sorted(folder.glob("*.yml")):
        doc = yaml.safe_load(path.read_text("utf-8"))
        out.append(parse_script(doc, path))
    return out


def parse_script(doc: dict[str, Any], path: Path) -> Script:
    if not isinstance(doc, dict) or "name" not in doc or not doc.get("turns"):
        raise ValueError(f"{path.name}: a script needs `name` and `turns`")
    customers = doc.get("customers") or {"customer": doc.get("customer") or {}}
    customers = {alias: dict(c or {}) for alias, c in customers.items()}
    return Script(
        name=str(doc["name"]),
        path=path,
        customers=customers,
        turns=list(doc["turns"]),
        scaleout=bool(doc.get("scaleout")),
        doc=doc,
    )


@dataclass
class Reply:
    texts: list[str]
    buttons: list[dict[str, str]]

    @property
    def text(self) -> str:
        return "\n".join(self.texts)


class Conversation:
    """One running app and the customers of one script talking to it over REST."""

    def __init__(self, client: TestClient[web.Request, web.Application], script: Script) -> None:
        self.client = client
        self.script = script
        self.senders = {alias: f"{alias}-{uuid.uuid4().hex[:8]}" for alias in script.customers}
        self.last: dict[str, Reply] = {}
        self.turns_sent: dict[str, int] = dict.fromkeys(script.customers, 0)

    @property
    def app(self) -> web.Application:
        return self.client.app

    # ---- setup ---------------------------------------------------------------------------

    async def setup(self) -> None:
        """Customers known before the script starts (name, phone, orders, bookings)."""
        db: Database = self.app[DATABASE]
        for alias, spec in self.script.customers.items():
            if not any(k in spec for k in ("name", "phone", "orders", "bookings")):
                continue
            async with db.transaction() as s:
                customer, _ = await CustomerRepository(s).resolve_identity(
                    "rest", self.senders[alias], display_name=spec.get("name"), now=FROZEN_NOW
                )
                customer.phone = spec.get("phone")
                for order in spec.get("orders") or []:
                    await OrderRepository(s).add(
                        order["number"],
                        status=order.get("status", "paid"),
                        items=order.get("items") or [{"name": "Coffee grinder", "qty": 1}],
                        customer_id=customer.id,
                        now=FROZEN_NOW,
                    )
                customer_id = customer.id
            backend = SqlBookingBackend(db, clock=lambda: FROZEN_NOW)
            for booking in spec.get("bookings") or []:
                await backend.book(
                    booking["service"],
                    local(booking["at"]),
                    customer_id=customer_id,
                    name=spec.get("name") or "Test Customer",
                    phone=spec.get("phone") or "+380500000000",
                )

    # ---- turns ---------------------------------------------------------------------------

    async def run(self) -> None:
        for index, turn in enumerate(self.script.turns, start=1):
            try:
                await self.turn(turn)
            except ScriptFailure as e:
                raise ScriptFailure(f"{self.script.path.name} turn {index}: {e}") from None

    async def turn(self, turn: dict[str, Any]) -> None:
        if "pause" in turn:
            clock = self.app[WORKER].clock
            if not isinstance(clock, Clock):
                raise ScriptFailure("the app's clock cannot be advanced")
            clock.advance(duration(str(turn["pause"])))
        if "together" in turn:
            await self._together(turn)
            return
        if any(k in turn for k in ("say", "button", "tap")):
            alias = turn.get("customer") or self.script.first
            reply = await self.send(alias, turn)
            check_reply(reply, turn)
        else:
            alias = turn.get("customer") or self.script.first
        if "state" in turn:
            await self.check_state(alias, turn["state"])

    async def _together(self, turn: dict[str, Any]) -> None:
        """Messages of several customers sent at the same moment (a race for one slot)."""
        parts = turn["together"]
        replies = await asyncio.gather(
            *(self.send(p.get("customer") or self.script.first, p) for p in parts)
        )
        wanted = list(turn.get("outcomes") or [])
        texts = [r.text for r in replies]
        for outcome in wanted:
            match = next((t for t in texts if outcome in t), None)
            if match is None:
                raise ScriptFailure(f"no reply contains {outcome!r}: {texts}")
            texts.remove(match)
        if "booked" in turn:
            total = 0
            for part in parts:
                alias = part.get("customer") or self.script.first
                total += len(await self.bookings(alias))
            if total != turn["booked"]:
                raise ScriptFailure(f"{total} bookings among the racers, wanted {turn['booked']}")

    async def send(self, alias: str, turn: dict[str, Any]) -> Reply:
        body: dict[str, Any] = {"sender": self.senders[alias]}
        spec = self.script.customers.get(alias) or {}
        if spec.get("language"):
            body["language"] = spec["language"]
        if "say" in turn:
            body["text"] = str(turn["say"])
        elif "button" in turn:
            body["payload"] = str(turn["button"])
        else:
            body["payload"] = self._tap(alias, turn["tap"])
        # room for the identity work: a per-turn `channel` (only "rest" is driven here)
        channel = turn.get("channel", "rest")
        if channel != "rest":
            raise ScriptFailure(f"channel {channel!r} is not driven by this runner yet")
        resp = await self.client.post("/webhooks/rest", json=body)
        if resp.status != 200:
            raise ScriptFailure(f"REST answered {resp.status}: {await resp.text()}")
        doc = await resp.json()
        reply = Reply(
            [r["text"] for r in doc["replies"]],
            [b for r in doc["replies"] for b in r["buttons"]],
        )
        self.last[alias] = reply
        self.turns_sent[alias] += 1
        return reply

    def _tap(self, alias: str, which: Any) -> str:
        last = self.last.get(alias)
        buttons = last.buttons if last else []
        if isinstance(which, int):
            if not 1 <= which <= len(buttons):
                raise ScriptFailure(f"no button #{which} in {buttons}")
            return buttons[which - 1]["payload"]
        for b in buttons:
            if str(which).lower() in b["title"].lower():
                return b["payload"]
        raise ScriptFailure(f"no button titled {which!r} in {[b['title'] for b in buttons]}")

    # ---- state ---------------------------------------------------------------------------

    async def customer_id(self, alias: str) -> int:
        async with self.app[DATABASE].session() as s:
            found = await CustomerRepository(s).lookup("rest", self.senders[alias])
        if found is None:
            raise ScriptFailure(f"customer {alias} is unknown to the bot")
        return found[0].id

    async def session(self, alias: str) -> Any:
        return await self.app[BACKENDS].sessions.get(await self.customer_id(alias))

    async def bookings(self, alias: str) -> list[Any]:
        backend = SqlBookingBackend(self.app[DATABASE], clock=lambda: FROZEN_NOW)
        return await backend.upcoming_for_customer(await self.customer_id(alias))

    async def check_state(self, alias: str, want: dict[str, Any]) -> None:
        session = await self.session(alias)
        for key in ("flow", "step", "handoff", "language"):
            if key in want and getattr(session, key) != want[key]:
                raise ScriptFailure(
                    f"session.{key} is {getattr(session, key)!r}, not {want[key]!r}"
                )
        for key, value in (want.get("slots") or {}).items():
            if session.slots.get(key) != value:
                raise ScriptFailure(f"slot {key} is {session.slots.get(key)!r}, not {value!r}")
        if "escalation" in want:
            reason = session.escalation.reason if session.escalation else None
            if reason != want["escalation"]:
                raise ScriptFailure(f"escalation reason {reason!r}, not {want['escalation']!r}")
        if "bookings" in want or "booking" in want:
            found = await self.bookings(alias)
            if "bookings" in want and len(found) != want["bookings"]:
                raise ScriptFailure(f"{len(found)} upcoming bookings, not {want['bookings']}")
            if "booking" in want:
                spec = want["booking"]
                at = local(spec["at"]) if "at" in spec else None
                if not any(
                    (at is None or b.starts_at == at)
                    and b.service_code == spec.get("service", b.service_code)
                    for b in found
                ):
                    shown = [
                        (b.service_code, b.starts_at.astimezone(KYIV).isoformat()) for b in found
                    ]
                    raise ScriptFailure(f"no booking {spec}; upcoming: {shown}")


def check_reply(reply: Reply, turn: dict[str, Any]) -> None:
    text = reply.text
    expected = turn.get("bot")
    for part in [expected] if isinstance(expected, str) else expected or []:
        if str(part).lower() not in text.lower():
            raise ScriptFailure(f"reply lacks {part!r}: {text!r}")
    for part in _list(turn.get("bot_not")):
        if str(part).lower() in text.lower():
            raise ScriptFailure(f"reply should not contain {part!r}: {text!r}")
    for pattern in _list(turn.get("bot_regex")):
        if not re.search(str(pattern), text):
            raise ScriptFailure(f"reply does not match /{pattern}/: {text!r}")
    titles = [b["title"] for b in reply.buttons]
    for title in _list(turn.get("buttons")):
        if not any(str(title).lower() in t.lower() for t in titles):
            raise ScriptFailure(f"no button {title!r} among {titles}")
    if "button_count" in turn and len(titles) != turn["button_count"]:
        raise ScriptFailure(f"{len(titles)} buttons, not {turn['button_count']}: {titles}")


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def local(text: str) -> dt.datetime:
    """A Kyiv wall-clock time such as "2026-03-11 15:00", as an aware datetime."""
    return dt.datetime.fromisoformat(str(text)).replace(tzinfo=KYIV)


def duration(text: str) -> dt.timedelta:
    m = _DURATION.match(text.strip())
    if not m:
        raise ValueError(f"pause {text!r}: write e.g. 45m, 2h or 1d")
    n, unit = int(m.group(1)), m.group(2)
    return {"m": dt.timedelta(minutes=n), "min": dt.timedelta(minutes=n)}.get(
        unit, dt.timedelta(hours=n) if unit == "h" else dt.timedelta(days=n)
    )


@asynccontextmanager
async def running_app(
    settings: Settings, *, prepare: Callable[[web.Application], None] | None = None
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """The real app (demo data seeded at the frozen "now") behind a loopback test client;
    ``prepare`` is given the app first (as `omnirelay run` gives it `bots.app.freeze_heap`)."""
    db = Database(settings.database_url)
    try:
        await seed_demo(db, now=FROZEN_NOW)
    finally:
        await db.dispose()
    app = create_app(settings)
    if prepare is not None:
        prepare(app)
    async with TestClient(TestServer(app)) as client:
        yield client


async def run_script(
    client: TestClient[web.Request, web.Application], script: Script
) -> Conversation:
    conversation = Conversation(client, script)
    await conversation.setup()
    await conversation.run()
    return conversation


SettingsFactory = Callable[..., Settings]
