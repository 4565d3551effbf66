"""Runs one cross-channel script (README.md in this folder) against a running app: every turn
through its channel's real webhook, replies read from that platform's fake API.

Also keeps, per turn, what the continuity report needs (`continuity.py`): the channel, which
slots the customer had given before the turn, and what the bot asked for after it.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from bots.config import secret
from bots.keys import BACKENDS, DATABASE, SETTINGS, WORKER
from storage.models import LinkAttempt
from storage.repositories.customers import CustomerRepository
from storage.repositories.messages import MessageRepository
from tests.conversations.cross_channel.channels import (
    BotMessage,
    Client,
    Drivers,
    Fakes,
    Identity,
    Posted,
)
from tests.conversations.cross_channel.checks import check_state, check_transcript
from tests.conversations.cross_channel.continuity import ASKS, TurnRecord, given_slots
from tests.conversations.cross_channel.profiles import seed_known_customer
from tests.conversations.runner import (
    Reply,
    Script,
    ScriptFailure,
    check_reply,
    duration,
)
from tests.fakes import wait_until

ACTIONS = ("say", "tap", "button", "contact", "open")
SETTLE_SECONDS = 20.0
_VAR = re.compile(r"\$\{(\w+)\}")


@dataclass
class CrossConversation:
    client: Client
    fakes: Fakes
    script: Script
    drivers: Drivers = field(init=False)
    people: dict[str, dict[str, Identity]] = field(default_factory=dict)
    vars: dict[str, str] = field(default_factory=dict)
    last: dict[tuple[str, str], Reply] = field(default_factory=dict)
    records: list[TurnRecord] = field(default_factory=list)
    _previous_channel: dict[str, str] = field(default_factory=dict)
    _index: int = 0

    def __post_init__(self) -> None:
        self.drivers = Drivers(self.client, self.fakes, lambda: self.app[WORKER].clock())
        self.people = {alias: {} for alias in self.script.customers}

    @property
    def app(self) -> Any:
        return self.client.app

    # ---- people ----------------------------------------------------------------------------

    def identity(self, alias: str, channel: str) -> Identity:
        """The person's identity on `channel`, made up on first use (a new platform user)."""
        if alias not in self.people:
            raise ScriptFailure(f"unknown customer {alias!r}")
        known = self.people[alias]
        if channel not in known:
            spec = self.script.customers[alias]
            known[channel] = self.drivers.new_identity(
                channel, spec.get("language", "uk"), str(spec.get("name") or "Olena")
            )
        return known[channel]

    async def setup(self) -> None:
        """Profiles that exist before the script (`known_on`: see `profiles.py`)."""
        for alias, spec in self.script.customers.items():
            channel = spec.get("known_on")
            if channel is None:
                continue
            who = self.identity(alias, channel)
            await seed_known_customer(self.app[DATABASE], channel, who.external_id, spec)
            self._previous_channel[alias] = channel

    # ---- turns -----------------------------------------------------------------------------

    async def run(self) -> None:
        for index, raw in enumerate(self.script.turns, start=1):
            self._index = index
            try:
                await self.turn(substitute(raw, self.vars))
            except (ScriptFailure, TimeoutError) as e:
                raise ScriptFailure(f"{self.script.path.name} turn {index}: {e}") from None

    async def turn(self, turn: dict[str, Any]) -> None:
        alias = turn.get("customer") or self.script.first
        if "pause" in turn:
            self.app[WORKER].clock.advance(duration(str(turn["pause"])))
        if "admin" in turn:
            await self.admin(turn)
        if "together" in turn:
            await self.together(turn["together"])
        elif any(k in turn for k in ACTIONS):
            reply = await self.act(alias, turn)
            check_reply(reply, turn)
            await self.capture(alias, turn, reply)
        await self.check(alias, turn)

    async def together(self, parts: list[dict[str, Any]]) -> None:
        """Messages sent at the same moment (on different channels of one customer)."""
        replies = await asyncio.gather(
            *(self.act(p.get("customer") or self.script.first, p) for p in parts)
        )
        for part, reply in zip(parts, replies, strict=True):
            try:
                check_reply(reply, part)
            except ScriptFailure as e:
                raise ScriptFailure(f"{part.get('channel')}: {e}") from None

    async def act(self, alias: str, turn: dict[str, Any]) -> Reply:
        """Send one customer action and wait until its turn is done; the bot's replies."""
        channel = str(turn.get("channel") or self._previous_channel.get(alias) or "rest")
        who = self.identity(alias, channel)
        before = len(self.drivers.messages(who))
        given = await self._given(alias, channel)
        attempts = await self._link_attempts(who)
        posted = await self._post(alias, who, turn)
        stored = await self._settled(who, posted, attempts, before)
        sent = posted.inline + _this_turns(self.drivers.messages(who)[before:], stored)
        reply = Reply([m.text for m in sent], [b for m in sent for b in m.buttons])
        self.last[(alias, channel)] = reply
        await self._record(alias, channel, given)
        if os.environ.get("CROSS_CHANNEL_TRACE"):  # writing a script: see what the bot said
            action = {k: turn[k] for k in ACTIONS if k in turn}
            print(f"[{self._index}] {alias}@{channel} {action} -> {reply.text!r}")
            print(f"    buttons: {[b['title'] for b in reply.buttons]}")
        return reply

    async def _post(self, alias: str, who: Identity, turn: dict[str, Any]) -> Posted:
        d = self.drivers
        if "say" in turn:
            return await d.say(who, str(turn["say"]))
        if "button" in turn:
            return await d.payload(who, str(turn["button"]))
        if "contact" in turn:
            return await d.contact(who, str(turn["contact"]))
        if "open" in turn:
            return await d.open_link(who, str(turn["open"]))
        return await d.tap(who, self._button(alias, who.channel, turn["tap"]))

    def _button(self, alias: str, channel: str, which: Any) -> dict[str, Any]:
        last = self.last.get((alias, channel))
        buttons = last.buttons if last else []
        if isinstance(which, int):
            if not 1 <= which <= len(buttons):
                raise ScriptFailure(f"no button #{which} on {channel}: {buttons}")
            return buttons[which - 1]
        for b in buttons:
            if str(which).lower() in str(b["title"]).lower():
                return b
        titles = [b["title"] for b in buttons]
        raise ScriptFailure(f"no button titled {which!r} on {channel}: {titles}")

    async def _settled(
        self, who: Identity, posted: Posted, attempts: int, before: int
    ) -> list[str] | None:
        """Wait until the turn is done: the inbound message stored with every reply sent (or,
        for a deep-link event, the link attempt recorded and its answer sent: Viber's in the
        webhook's response, elsewhere a message). The stored replies' texts, which tell this
        turn's messages from those of a concurrent turn on the same chat; None when there is
        nothing to tell apart."""
        if who.channel == "rest":
            return None  # answered in the request
        if posted.message_id is None:

            async def linked() -> bool:
                return await self._link_attempts(who) > attempts

            await wait_until(linked, timeout=SETTLE_SECONDS, what=f"{who.channel} link attempt")
            if not posted.inline:
                await wait_until(
                    lambda: len(self.drivers.messages(who)) > before,
                    timeout=SETTLE_SECONDS,
                    what=f"the answer to the {who.channel} link",
                )
            return None
        db = self.app[DATABASE]

        async def done() -> list[str] | None:
            async with db.session() as s:
                repo = MessageRepository(s)
                row = await repo.find_inbound(who.channel, str(posted.message_id))
                if row is None:
                    return None
                replies = await repo.replies_to(row.id)
            if any(r.status == "pending" for r in replies):
                return None
            return [r.text or "" for r in replies] or [""]

        texts: list[str] = await wait_until(
            done, timeout=SETTLE_SECONDS, what=f"{who.channel} turn processed"
        )
        return [t for t in texts if t]

    async def _link_attempts(self, who: Identity) -> int:
        async with self.app[DATABASE].session() as s:
            count = await s.scalar(
                select(func.count())
                .select_from(LinkAttempt)
                .where(
                    LinkAttempt.channel == who.channel, LinkAttempt.external_id == who.external_id
                )
            )
        return int(count or 0)

    # ---- captures and admin actions ------------------------------------------------------

    async def capture(self, alias: str, turn: dict[str, Any], reply: Reply) -> None:
        """`capture: {name: regex}` from this turn's reply, or `{name: {regex, channel}}` from
        a message the bot sent to another channel of the same person (waited for)."""
        for name, spec in (turn.get("capture") or {}).items():
            if isinstance(spec, dict) and spec.get("channel"):
                who = self.identity(alias, str(spec["channel"]))
                pattern = re.compile(str(spec["regex"]))

                def found(who: Identity = who, pattern: re.Pattern[str] = pattern) -> str | None:
                    for m in reversed(self.drivers.messages(who)):
                        urls = [str(b["url"]) for b in m.buttons if b.get("url")]
                        hit = pattern.search("\n".join([m.text, *urls]))
                        if hit:
                            return hit.group(1) if pattern.groups else hit.group(0)
                    return None

                self.vars[name] = await wait_until(
                    found, timeout=SETTLE_SECONDS, what=f"{name} on {who.channel}"
                )
                continue
            # link buttons carry their address outside the text
            seen = "\n".join([reply.text, *(str(b["url"]) for b in reply.buttons if b.get("url"))])
            hit = re.search(str(spec), seen)
            if hit is None:
                raise ScriptFailure(f"capture {name}: /{spec}/ not in {seen!r}")
            self.vars[name] = hit.group(1) if hit.groups() else hit.group(0)

    async def admin(self, turn: dict[str, Any]) -> None:
        """`admin: merge` (`survivor`/`absorbed`: channels of the person; `force`, `code`) or
        `admin: undo` (`merge`: a merge id); `status` expected, `save` names the merge id."""
        alias = turn.get("customer") or self.script.first
        headers = {"Authorization": f"Bearer {secret(self.app[SETTINGS].admin_token)}"}
        if turn["admin"] == "merge":
            survivor = await self.customer_id(alias, str(turn["survivor"]))
            absorbed = await self.customer_id(alias, str(turn["absorbed"]))
            body: dict[str, Any] = {"other": absorbed}
            for key in ("force", "code"):
                if key in turn:
                    body[key] = turn[key]
            resp = await self.client.post(
                f"/api/customers/{survivor}/merge", json=body, headers=headers
            )
        elif turn["admin"] == "undo":
            resp = await self.client.post(f"/api/merges/{turn['merge']}/undo", headers=headers)
        else:
            raise ScriptFailure(f"unknown admin action {turn['admin']!r}")
        want = int(turn.get("status", 200))
        if resp.status != want:
            raise ScriptFailure(
                f"admin {turn['admin']}: {resp.status}, not {want}: {await resp.text()}"
            )
        if "save" in turn:
            self.vars[str(turn["save"])] = str((await resp.json())["merge_id"])

    # ---- state -----------------------------------------------------------------------------

    async def customer_id(self, alias: str, channel: str) -> int:
        who = self.identity(alias, channel)
        async with self.app[DATABASE].session() as s:
            found = await CustomerRepository(s).find_by_identity(channel, who.external_id)
        if found is None:
            raise ScriptFailure(f"{alias} on {channel} is unknown to the bot")
        return found.id

    async def _known(self, alias: str, channel: str) -> int | None:
        try:
            return await self.customer_id(alias, channel)
        except ScriptFailure:
            return None

    async def session(self, alias: str, channel: str) -> Any:
        return await self.app[BACKENDS].sessions.get(await self.customer_id(alias, channel))

    async def check(self, alias: str, turn: dict[str, Any]) -> None:
        channel = str(turn.get("channel") or self._previous_channel.get(alias) or "rest")
        if "state" in turn:
            customer = await self.customer_id(alias, channel)
            session = await self.app[BACKENDS].sessions.get(customer)
            await check_state(self.app[DATABASE], customer, session, turn["state"])
        if "same_customer" in turn:
            ids = {c: await self.customer_id(alias, c) for c in turn["same_customer"]}
            if len(set(ids.values())) != 1:
                raise ScriptFailure(f"expected one customer behind {list(ids)}, got {ids}")
        if "separate" in turn:  # not linked: different customers, or not known at all
            found = {c: await self._known(alias, c) for c in turn["separate"]}
            known = [i for i in found.values() if i is not None]
            if len(set(known)) != len(known):
                raise ScriptFailure(f"expected different customers behind {list(found)}: {found}")
        if "transcript" in turn:
            customer = await self.customer_id(alias, channel)
            await check_transcript(self.app[DATABASE], customer, turn["transcript"])

    # ---- continuity bookkeeping ------------------------------------------------------------

    async def _given(self, alias: str, channel: str) -> frozenset[str]:
        """Slot names the customer had given (active or suspended flow, saved profile)."""
        previous = self._previous_channel.get(alias)
        if previous is None:
            return frozenset()
        try:
            session = await self.session(alias, previous)
        except ScriptFailure:
            return frozenset()
        return given_slots(session.slots, session.data)

    async def _record(self, alias: str, channel: str, given: frozenset[str]) -> None:
        previous = self._previous_channel.get(alias)
        self._previous_channel[alias] = channel
        try:
            session = await self.session(alias, channel)
        except ScriptFailure:  # a deep link that linked nothing: no customer on this channel yet
            session = None
        flow = session.flow if session is not None else None
        step = session.step if session is not None else None
        asked = ASKS.get(flow or "", {}).get(step or "")
        self.records.append(
            TurnRecord(
                self._index,
                alias,
                channel,
                previous is not None and previous != channel,
                given,
                flow,
                asked,
            )
        )


def _this_turns(new: list[BotMessage], stored: list[str] | None) -> list[BotMessage]:
    """The platform messages that carry this turn's stored replies (a long reply arrives in
    parts); everything new when there is no record to compare with."""
    if stored is None:
        return new
    return [m for m in new if m.text and any(m.text in t or t in m.text for t in stored)]


def substitute(value: Any, variables: dict[str, str]) -> Any:
    """`${name}` in every string of a turn, from earlier captures and saved ids."""
    if isinstance(value, str):

        def one(m: re.Match[str]) -> str:
            if m.group(1) not in variables:
                raise ScriptFailure(f"${{{m.group(1)}}} was not captured before")
            return variables[m.group(1)]

        return _VAR.sub(one, value)
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, variables) for k, v in value.items()}
    return value


Runner = Callable[[Client, Fakes, Script], CrossConversation]
