"""The simulated customer: says the opening, then answers what the session says the bot asked."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.benchmarks.tasks.generation import (
    Task,
    day_phrase,
    entities_of,
    fill,
    noisy,
    time_filler,
    time_phrase,
    when_phrase,
)
from tests.benchmarks.tasks.phrases import (
    _ANNOTATION,
    _HAS_TIME,
    _PURE_TIME,
    AFFIRM,
    CORRECTION,
    HELDOUT,
    KIND_INTENT,
    MAX_REPHRASES,
    NAMES,
    NOT_FREE,
    ORDER_ANSWER,
    PHONES,
    SERVICE_ANSWER,
    SERVICE_PHRASES,
    STOP,
    TAP_AFTER_MISS,
    WHEN_ANSWER,
)
from tests.conversations.runner import KYIV, Conversation, Reply


@dataclass
class Outcome:
    kind: str
    label: str
    done: bool
    handoff: bool
    turns: int
    error: str | None = None
    language: str = ""
    shape: str = ""
    noisy: bool = False
    transcript: list[dict[str, Any]] = field(default_factory=list)


class Customer:
    """Plays one task: says the opening, then answers what the session says the bot asked."""

    def __init__(self, task: Task, conversation: Conversation) -> None:
        self.task = task
        self.c = conversation
        self.rng = random.Random(task.seed)
        self.lang = task.language
        self.want = task.want  # becomes the accepted offer when the wanted time is taken
        self.told: set[str] = set()
        self.asked: dict[tuple[str | None, str | None], int] = {}
        self.openings = 0
        self.noisy = False
        self.transcript: list[dict[str, Any]] = []
        self.visits: list[Any] = []  # BookingView of the seeded visits
        self.customer_id: int | None = None

    # -- saying things --

    async def say(self, text: str, *, noise: bool = True) -> Reply:
        if noise:
            text, changed = noisy(self.rng, text)
            self.noisy = self.noisy or changed
        return await self._send({"say": text}, text)

    async def tap(self, button: dict[str, str]) -> Reply:
        return await self._send({"button": button["payload"]}, f"[taps {button['title']}]")

    async def _send(self, turn: dict[str, Any], shown: str) -> Reply:
        reply = await self.c.send("c", turn)
        self.transcript.append(
            {"customer": shown, "bot": reply.texts, "buttons": [b["title"] for b in reply.buttons]}
        )
        return reply

    def pick(self, pool: list[str], **values: str) -> str:
        return self.rng.choice(pool).format(**values)

    def service_words(self) -> str:
        assert self.task.service is not None
        return self.rng.choice(SERVICE_PHRASES[self.lang][self.task.service])

    def visit_moment(self, i: int) -> dt.datetime:
        return self.visits[i].starts_at.astimezone(KYIV)

    # -- the opening --

    def opening(self, example: str) -> str:
        t, rng, lang = self.task, self.rng, self.lang
        fillers: dict[str, Callable[[str, int], str]] = {
            "service": lambda _o, _n: self.service_words(),
            "order_number": lambda _o, _n: self.order_text(),
        }
        if t.kind == "booking" or t.kind == "faq":
            assert t.want is not None
            fillers["time"] = time_filler(rng, lang, [t.want])
            self.tell(example)
        elif t.kind == "reschedule":
            assert t.want is not None
            old = self.visit_moment(t.target)
            fillers["time"] = time_filler(rng, lang, [t.want, old])
            self.tell(example)
        elif t.kind == "cancel":
            fillers["time"] = time_filler(rng, lang, [self.visit_moment(t.target)])
        if t.kind in ("reschedule", "cancel"):
            code = self.visits[t.target].service_code
            fillers["service"] = lambda _o, _n: rng.choice(SERVICE_PHRASES[lang][code])
        return fill(example, fillers)

    def tell(self, example: str) -> None:
        """Remember which slots the opening gives (a new opening starts afresh)."""
        self.told = set()
        given = entities_of(example)
        if "service" in given:
            self.told.add("service")
        if "time" in given:
            said = self._time_text(example)
            if _PURE_TIME.match(said):
                self.told.add("clock")
            elif _HAS_TIME.search(said):
                self.told |= {"date", "clock"}
            else:
                self.told.add("date")

    @staticmethod
    def _time_text(example: str) -> str:
        return next((m.group(1) for m in _ANNOTATION.finditer(example) if m.group(2) == "time"), "")

    def order_text(self) -> str:
        n = self.task.order or "A1001"
        form = self.rng.random()
        if form < 0.15:
            return n.lower()
        if form < 0.25 and n[0] == "A":
            return "А" + n[1:]  # a Cyrillic А
        return n

    # -- one answer --

    async def answer(self, reply: Reply, session: Any) -> Reply | None:
        """The next message, or None when the customer has nothing left to say."""
        flow, step = session.flow, session.step
        key = (flow, step)
        self.asked[key] = self.asked.get(key, 0) + 1
        again = self.asked[key] > 1
        slots = session.slots or {}
        lang = self.lang
        if flow is None:
            return await self.outside_flows(reply)
        if not self.wanted_flow(flow, slots):
            # the bot started something this customer did not ask for
            return await self.say(self.rng.choice(STOP[lang]))
        if flow == "order_status":
            return await self.say(self.pick(ORDER_ANSWER[lang], n=self.order_text()), noise=False)
        if step == "service":
            titles = [b for b in reply.buttons if f'"{self.task.service}"' in b["payload"]]
            if again and titles:
                return await self.tap(titles[0])
            return await self.say(self.service_message())
        if step in ("date", "time"):
            return await self.when_message(reply, session, step)
        if step == "name":
            return await self.say(self.pick(NAMES[lang]), noise=False)
        if step == "phone":
            return await self.say(self.pick(PHONES[lang]), noise=False)
        if step == "choose":
            return await self.choose(reply)
        if step == "confirm":
            return await self.confirm(reply, session, slots)
        if reply.buttons:
            return await self.tap(reply.buttons[0])
        return None

    async def outside_flows(self, reply: Reply) -> Reply | None:
        """No flow running: tap one's own order when offered, else say it again."""
        if self.task.kind == "order_status" and reply.buttons:
            mine = [b for b in reply.buttons if self.task.order in b["payload"]]
            if mine:
                return await self.tap(mine[0])
        return await self.rephrase()

    async def confirm(self, reply: Reply, session: Any, slots: dict[str, Any]) -> Reply | None:
        """The summary: correct what is wrong, else agree (tapping after a miss, sometimes)."""
        wrong = self.wrong_summary(slots)
        if wrong is not None:
            return await self.say(wrong)
        yes = [b for b in reply.buttons if b["payload"] == "/affirm"]
        if session.fallback_count and yes and self.rng.random() < TAP_AFTER_MISS:
            return await self.tap(yes[0])
        return await self.say(self.rng.choice(AFFIRM[self.lang]))

    def wanted_flow(self, flow: str, slots: dict[str, Any]) -> bool:
        kind = self.task.kind
        if kind in ("reschedule", "cancel"):
            return flow == "manage_booking" and slots.get("mode") == kind
        return flow == {"booking": "booking", "order_status": "order_status"}.get(kind)

    def service_message(self) -> str:
        text = self.pick(SERVICE_ANSWER[self.lang], s=self.service_words())
        self.told.add("service")
        if self.task.kind == "booking" and "date" not in self.told and self.rng.random() < 0.4:
            assert self.want is not None
            if self.rng.random() < 0.5:
                text += " " + when_phrase(self.rng, self.lang, self.want, bare=False)
                self.told |= {"date", "clock"}
            else:
                text += " " + day_phrase(self.rng, self.lang, self.want.date(), bare=False)
                self.told.add("date")
        return text

    async def when_message(self, reply: Reply, session: Any, step: str) -> Reply:
        """Say the wanted day and/or time; take an offered time only when the bot understood
        and says the wanted one cannot be had (taken, the day full, already past)."""
        assert self.want is not None
        rng, lang = self.rng, self.lang
        said = session.slots.get("date")
        if any(part in reply.text for part in NOT_FREE) and reply.buttons:
            return await self.accept_offer(reply)
        if said not in (None, self.want.date().isoformat()) and "date" in self.told:
            when = when_phrase(rng, lang, self.want, bare=False)
            return await self.say(self.pick(CORRECTION[lang], x=when))
        if step == "date" or "date" not in self.told:
            if rng.random() < 0.5 or "clock" in self.told:
                text = when_phrase(rng, lang, self.want, bare=False)
                self.told |= {"date", "clock"}
            else:
                text = day_phrase(rng, lang, self.want.date(), bare=False)
                self.told.add("date")
        else:
            text = time_phrase(rng, lang, self.want.time(), bare=False)
            self.told.add("clock")
        return await self.say(self.pick(WHEN_ANSWER[lang], w=text))

    async def accept_offer(self, reply: Reply) -> Reply:
        """The wanted time is not to be had: take one of the offered times (tap or type it)."""
        offers = []
        for b in reply.buttons:
            m = re.search(r'"time":\s*"([^"]+)"', b["payload"])
            if m:
                offers.append((b, dt.datetime.fromisoformat(m.group(1)).astimezone(KYIV)))
        if not offers:
            return await self.tap(reply.buttons[0])
        button, moment = self.rng.choice(offers)
        same_day = self.want is not None and self.want.date() == moment.date()
        self.want = moment
        self.told |= {"date", "clock"}
        if self.rng.random() < 0.3:
            text = (
                time_phrase(self.rng, self.lang, moment.time(), bare=False)
                if same_day and self.rng.random() < 0.5
                else when_phrase(self.rng, self.lang, moment, bare=False)
            )
            return await self.say(text)
        return await self.tap(button)

    async def choose(self, reply: Reply) -> Reply:
        visit = self.visits[self.task.target]
        mine = [b for b in reply.buttons if visit.reference in b["payload"]]
        if mine and self.rng.random() < 0.6:
            return await self.tap(mine[0])
        text = day_phrase(
            self.rng, self.lang, self.visit_moment(self.task.target).date(), bare=False
        )
        return await self.say(text)

    def wrong_summary(self, slots: dict[str, Any]) -> str | None:
        """What the customer says to a wrong summary ("no, Friday at 3pm"), or None."""
        t, lang = self.task, self.lang
        mine = t.kind not in ("reschedule", "cancel") or (
            slots.get("booking") == self.visits[t.target].reference
        )
        if not mine:
            return "no" if lang == "en" else "ні"
        if t.kind == "booking" and slots.get("service") != t.service:
            return self.pick(CORRECTION[lang], x=self.service_words())
        if t.kind in ("booking", "reschedule") and self.want is not None:
            at = (slots.get("date"), slots.get("time"))
            if at != (self.want.date().isoformat(), self.want.strftime("%H:%M")):
                when = when_phrase(self.rng, lang, self.want, bare=False)
                return self.pick(CORRECTION[lang], x=when)
        return None

    async def rephrase(self) -> Reply | None:
        """The bot dropped the request: say it again in other held-out words (twice at most)."""
        if self.openings > MAX_REPHRASES:
            return None
        self.openings += 1
        pool = HELDOUT[self.lang][
            self.task.intent or KIND_INTENT.get(self.task.kind, "book_appointment")
        ]
        others = [e for e in pool if e != self.task.opening] or pool
        return await self.say(self.opening(self.rng.choice(others)))

    def setup_note(self) -> dict[str, Any]:
        t = self.task
        note: dict[str, Any] = {"setup": True, "known_customer": t.known or bool(self.visits)}
        if t.service and t.kind in ("booking", "faq"):
            note["service"] = t.service
        if t.want is not None and t.kind in ("booking", "reschedule"):
            note["wants"] = f"{t.want:%a %d.%m %H:%M}"
        if self.visits:
            note["visits"] = [
                f"{v.reference} {v.service_code} {v.starts_at.astimezone(KYIV):%a %d.%m %H:%M}"
                for v in self.visits
            ]
            note["target"] = self.visits[t.target].reference
        if t.order:
            note["order"] = t.order
        return note
