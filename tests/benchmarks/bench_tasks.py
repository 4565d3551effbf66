"""Task success: every conversation script plus generated variations, in-process, through the
real pipeline (REST channel, embedded mode, clock pinned like the tests: Tuesday 10.03.2026).

    python tests/benchmarks/bench_tasks.py --out bench-results/tasks.json     (make bench-tasks)

A *task* is one thing a customer came to do: book, move or cancel a visit, check an order, ask
a question. The conversation scripts (tests/conversations/scripts) are one row of their own;
those written to end in a handoff are reported apart ("escalation scripts").

The generated variations are meant to be honest: the opening request of every task is an
example of the bundled **held-out** NLU split (nlu/data/test/*.yml, never trained on), with its
entity annotations filled with the demo business's services, order numbers and dates; the slots
come in a random order (all up front, partly, or asked one by one); both languages; casing and
typo noise; and a simulated customer answers each question of the bot from a pool of realistic
answers (confirmations from the held-out ``affirm`` examples), taps an offered button when the
wanted time is taken, rephrases (another held-out example) when the bot drops the request, and
corrects a wrong summary. Everything is drawn from one seeded generator, so a run is repeatable.

A task is completed when the business state shows it (the booking exists for the wanted service
at the wanted or the accepted time; the visit is cancelled or moved; the order's number and
status, or the FAQ fact, are in a reply) without a handoff within 12 customer messages. The
simulator reads the session's step to know what was asked: it understands the bot perfectly, so
the figure measures the bot's understanding of the customer, not the other way round.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bots.app import DATABASE  # noqa: E402
from bots.config import Settings  # noqa: E402
from bots.flows.backends import SqlBookingBackend  # noqa: E402
from nlu.model import bundled_test_path  # noqa: E402
from storage.db import upgrade  # noqa: E402
from tests.conversations.runner import (  # noqa: E402
    FROZEN_NOW,
    KYIV,
    Conversation,
    Reply,
    Script,
    ScriptFailure,
    load_scripts,
    running_app,
)

MAX_TURNS = 12  # customer messages per task
MAX_REPHRASES = 2  # new openings when the bot drops the request
TRANSCRIPTS = 20  # failed tasks whose transcript goes into the JSON
SEED = 20260310
TODAY = FROZEN_NOW.astimezone(KYIV).date()  # Tuesday 10.03.2026
NOISE = 0.3  # share of customer messages with casing or a typo
TAP_AFTER_MISS = 0.5  # a "yes" the bot did not get: the share who then tap the yes button
LANGUAGES = ("en", "uk")

# ---- what customers say ------------------------------------------------------------------------

# The demo clinic's services as customers name them (not only the catalogue names).
SERVICE_PHRASES = {
    "en": {
        "cleaning": ["teeth cleaning", "a cleaning", "dental cleaning", "professional cleaning"],
        "consultation": ["a consultation", "dental consultation", "a dentist consultation",
                         "a checkup with the dentist"],
        "filling": ["a filling", "tooth filling", "a filling for a cavity", "a new filling"],
        "whitening": ["whitening", "teeth whitening", "tooth whitening"],
        "facial": ["a facial", "facial cleansing", "face cleaning"],
    },
    "uk": {
        "cleaning": ["чистку зубів", "чистка зубів", "професійну чистку зубів", "чистку зубів"],
        "consultation": ["консультацію", "консультація стоматолога", "огляд у стоматолога",
                         "консультацію лікаря"],
        "filling": ["пломбу", "пломбування", "пломбування зуба", "пломбу на зуб"],
        "whitening": ["відбілювання", "відбілювання зубів", "відбілювання"],
        "facial": ["чистку обличчя", "чистка обличчя", "чистку обличчя"],
    },
}  # fmt: skip
SERVICE_ANSWER = {
    "en": ["{s}", "{s} please", "I need {s}", "{s}, please", "I'd like {s}"],
    "uk": ["{s}", "{s} будь ласка", "мені на {s}", "хочу на {s}", "на {s}"],
}
WHEN_ANSWER = {
    "en": ["{w}", "{w} please", "{w} would be great", "can I come {w}?"],
    "uk": ["{w}", "{w} будь ласка", "можна {w}?", "мені зручно {w}"],
}
NAMES = {
    "en": ["Olena Petrenko", "my name is Taras Bondarenko", "Iryna", "It's Maksym Koval",
           "Anna Shevchuk"],
    "uk": ["Олена Петренко", "мене звати Тарас Бондаренко", "Ірина", "Максим Коваль",
           "моє ім'я Анна Шевчук"],
}  # fmt: skip
PHONES = {
    "en": ["+380501234567", "050 123 45 67", "0671234567", "my number is 093 111 22 33"],
    "uk": ["+380501234567", "050 123 45 67", "0671234567", "мій номер 093 111 22 33"],
}
ORDER_ANSWER = {"en": ["{n}", "it's {n}", "order {n}", "{n} please"],
                "uk": ["{n}", "це {n}", "замовлення {n}", "номер {n}"]}  # fmt: skip
STOP = {"en": ["stop", "no, that's not what I want", "cancel that"],
        "uk": ["стоп", "ні, я не про це", "скасувати"]}  # fmt: skip
# What the bot says when the wanted time cannot be had (templates slot_taken, no_slots_day,
# time_past, slot_gone): a person reads it and takes one of the offered times.
NOT_FREE = ("already taken", "no free time", "already passed", "just booked", "уже зайнято",
            "вільного часу немає", "уже минув", "щойно хтось")  # fmt: skip
CORRECTION = {"en": ["no, {x}", "no, I wanted {x}", "that's wrong, {x}"],
              "uk": ["ні, {x}", "ні, я хотіла {x}", "не так, {x}"]}  # fmt: skip
WEEKDAYS_EN = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAYS_UK = ("понеділок", "вівторок", "середу", "четвер", "п'ятницю", "суботу", "неділю")
NEXT_UK = ("наступний понеділок", "наступний вівторок", "наступну середу", "наступний четвер",
           "наступну п'ятницю", "наступну суботу", "наступну неділю")  # fmt: skip
FACTS = {
    "ask_opening_hours": {"en": "08:00", "uk": "08:00"},
    "ask_address": {"en": "Khreshchatyk", "uk": "Хрещатик"},
    "ask_prices": {"en": "UAH", "uk": "грн"},
}
PRICES = {"consultation": "400", "cleaning": "1500", "filling": "1800", "whitening": "4500",
          "facial": "1200"}  # fmt: skip
STATUS = {  # the plain-words status the bot must say (templates order_status_names)
    "en": {"shipped": "on its way", "delivered": "delivered", "paid": "paid", "new": "received",
           "packed": "packed", "cancelled": "cancelled", "returned": "returned"},
    "uk": {"shipped": "в дорозі", "delivered": "доставлено", "paid": "оплачено",
           "new": "отримано", "packed": "запаковано", "cancelled": "скасовано",
           "returned": "повернено"},
}  # fmt: skip
DEMO_ORDERS = {"A1001": "shipped", "A1002": "delivered", "A1003": "paid", "A1004": "new",
               "A1005": "packed", "A1006": "cancelled", "A1007": "returned",
               "A1008": "shipped"}  # fmt: skip
KIND_INTENT = {
    "booking": "book_appointment",
    "reschedule": "reschedule_appointment",
    "cancel": "cancel_appointment",
    "order_status": "check_order_status",
}

_ANNOTATION = re.compile(r"\[([^\]]+)\]\((\w+)\)")
_PURE_TIME = re.compile(r"^\s*(?:at |о |об )?\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm)?\s*$", re.I)
_HAS_TIME = re.compile(
    r"\d{1,2}\s*(?:am|pm)|\d{1,2}:\d{2}|^\s*\d{1,2}\s*$|о \d|зранку|вранці|morning|evening", re.I
)


def heldout() -> dict[str, dict[str, list[str]]]:
    """language -> intent -> the held-out examples (annotations kept)."""
    out: dict[str, dict[str, list[str]]] = {}
    for lang in LANGUAGES:
        doc = yaml.safe_load((bundled_test_path() / f"nlu.{lang}.yml").read_text("utf-8"))
        out[lang] = {
            str(item["intent"]): [
                line.strip()[2:].strip()
                for line in str(item["examples"]).splitlines()
                if line.strip().startswith("- ")
            ]
            for item in doc["nlu"]
            if "intent" in item
        }
    return out


def fill(example: str, fillers: dict[str, Callable[[str, int], str]]) -> str:
    """The example with each ``[text](entity)`` replaced by ``fillers[entity](text, n)`` (n: the
    how-manyeth annotation of that entity), or by its own text when there is no filler."""
    seen: dict[str, int] = {}

    def sub(m: re.Match[str]) -> str:
        text, entity = m.group(1), m.group(2)
        n = seen.get(entity, 0)
        seen[entity] = n + 1
        filler = fillers.get(entity)
        return filler(text, n) if filler else text

    text = _ANNOTATION.sub(sub, example)
    return re.sub(r"\b(my|a|the|your) (?:a|an) ", r"\1 ", text, flags=re.I)


def entities_of(example: str) -> list[str]:
    return [m.group(2) for m in _ANNOTATION.finditer(example)]


def day_phrase(rng: random.Random, lang: str, day: dt.date, *, bare: bool) -> str:
    """How a customer names a day; ``bare`` without a preposition (inside a sentence)."""
    offset = (day - TODAY).days
    wd = day.weekday()
    options: list[str] = []
    if lang == "en":
        if offset == 0:
            options += ["today"] * 3
        if offset == 1:
            options += ["tomorrow"] * 3
        if offset == 2:
            options += ["the day after tomorrow", "in 2 days"]
        on = "" if bare else "on "
        if 1 < offset < 7:
            options += [f"{on}{WEEKDAYS_EN[wd]}"] * 2 + [f"this {WEEKDAYS_EN[wd]}"]
        if 7 <= offset < 14 and wd <= TODAY.weekday():  # not "next wednesday" on a Tuesday
            options += [f"next {WEEKDAYS_EN[wd]}"] * 2
        options += [f"{on}{day:%d.%m}", f"{on}march {day.day}", f"{on}the {day.day}th"]
    else:
        if offset == 0:
            options += ["сьогодні"] * 3
        if offset == 1:
            options += ["завтра"] * 3
        if offset == 2:
            options += ["післязавтра"]
        at = "" if bare else rng.choice(["в ", "у ", "на "])
        if 1 < offset < 7:
            options += [f"{at}{WEEKDAYS_UK[wd]}"] * 3
        if 7 <= offset < 14 and wd <= TODAY.weekday():
            options += [f"{'' if bare else 'на '}{NEXT_UK[wd]}"] * 2
        options += [f"{'' if bare else 'на '}{day:%d.%m}", f"{day.day} березня"]
    return rng.choice(options)


def time_phrase(rng: random.Random, lang: str, at: dt.time, *, bare: bool) -> str:
    h, m = at.hour, at.minute
    h12, ampm = (h % 12 or 12), ("am" if h < 12 else "pm")
    if lang == "en":
        if m == 0:
            options = [f"{h12}{ampm}", f"{h12} {ampm}", f"{h:02d}:00", f"{h}:00", f"{h12} o'clock"]
        else:
            options = [f"{h12}:{m:02d}{ampm}", f"{h:02d}:{m:02d}", f"{h}.{m:02d}"]
            if m == 30:
                options.append(f"half past {h12}")
        phrase = rng.choice(options)
        return phrase if bare or phrase.startswith("half") else f"at {phrase}"
    o = "об" if h == 11 else "о"
    if m == 0:
        options = [f"{o} {h}:00", f"{o} {h}", f"{o} {h} годині", f"на {h}:00", f"{h}:00"]
    else:
        options = [f"{o} {h}:{m:02d}", f"на {h}:{m:02d}", f"{h}:{m:02d}", f"{o} {h}.{m:02d}"]
    phrase = rng.choice(options)
    if bare:
        phrase = re.sub(r"^(?:о|об|на) ", "", phrase)
    return phrase


def when_phrase(rng: random.Random, lang: str, moment: dt.datetime, *, bare: bool) -> str:
    day = day_phrase(rng, lang, moment.date(), bare=bare)
    at = time_phrase(rng, lang, moment.time(), bare=False)
    return f"{day} {at}" if rng.random() < 0.8 else f"{at} {day}"


def time_filler(
    rng: random.Random, lang: str, moments: list[dt.datetime]
) -> Callable[[str, int], str]:
    """Fills a held-out ``time`` annotation with ``moments[n]`` (the last one repeats), keeping
    its shape: a day, a time, or both."""

    def filler(original: str, n: int) -> str:
        moment = moments[min(n, len(moments) - 1)]
        if _PURE_TIME.match(original):
            return time_phrase(rng, lang, moment.time(), bare=True)
        if _HAS_TIME.search(original):
            return when_phrase(rng, lang, moment, bare=True)
        return day_phrase(rng, lang, moment.date(), bare=True)

    return filler


def noisy(rng: random.Random, text: str) -> tuple[str, bool]:
    """Casing or one typo in a longer word, at a fixed rate (digits are never touched)."""
    if rng.random() >= NOISE:
        return text, False
    how = rng.choice(["lower", "capital", "typo", "typo", "typo", "caps"])
    if how == "lower":
        return text.lower(), text.lower() != text
    if how == "capital":
        return text[:1].upper() + text[1:], text[:1].upper() != text[:1]
    if how == "caps":
        return text.upper(), text.upper() != text
    words = [m for m in re.finditer(r"[^\W\d_]{4,}", text)]
    if not words:
        return text, False
    w = rng.choice(words)
    word, i = w.group(0), rng.randrange(1, len(w.group(0)) - 1)
    edit = rng.choice(["drop", "swap", "double"])
    if edit == "drop":
        new = word[:i] + word[i + 1 :]
    elif edit == "swap":
        new = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    else:
        new = word[:i] + word[i] + word[i:]
    return text[: w.start()] + new + text[w.end() :], new != word


# ---- tasks -------------------------------------------------------------------------------------


@dataclass
class Task:
    kind: str  # booking | reschedule | cancel | order_status | faq
    language: str
    opening: str  # the held-out example (annotations kept), for the report
    service: str | None = None
    want: dt.datetime | None = None  # booking / reschedule: the wanted local start
    known: bool = False  # name and phone known before
    visits: list[dt.date] = field(default_factory=list)  # reschedule/cancel: days of the visits
    target: int = 0  # reschedule/cancel: which visit
    order: str | None = None
    my_orders: list[tuple[str, str]] = field(default_factory=list)  # (number, status)
    intent: str | None = None  # faq
    seed: int = 0

    @property
    def label(self) -> str:
        return f"{self.language} {self.kind}: {self.opening}"

    @property
    def shape(self) -> str:
        given = {e for e in entities_of(self.opening) if e in ("service", "time")}
        return "+".join(sorted(given)) or "bare"


def _moment(rng: random.Random, *, allow_today: bool = True) -> dt.datetime:
    offsets = [1, 1, 2, 3, 4, 6, 7] + ([0] if allow_today else [])
    offset = rng.choice(offsets)
    hours = range(13, 19) if offset == 0 else range(9, 19)
    minute = 30 if rng.random() < 0.25 else 0
    day = TODAY + dt.timedelta(days=offset)
    return dt.datetime.combine(day, dt.time(rng.choice(list(hours)), minute), tzinfo=KYIV)


def tasks(seed: int, per_example: dict[str, int]) -> list[Task]:
    rng = random.Random(seed)
    data = heldout()
    out: list[Task] = []
    for lang in LANGUAGES:
        for kind, intent in KIND_INTENT.items():
            for example in data[lang][intent]:
                for _ in range(per_example[kind]):
                    task = Task(kind, lang, example, seed=rng.randrange(1 << 30))
                    task.service = rng.choice(sorted(PRICES))
                    task.known = rng.random() < 0.4
                    if kind in ("booking", "reschedule"):
                        task.want = _moment(rng, allow_today=kind == "booking")
                    if kind in ("reschedule", "cancel"):
                        n = 1 if rng.random() < 0.6 else 2
                        days = rng.sample([0, 1, 2, 3, 6, 7, 8], n)
                        task.visits = [TODAY + dt.timedelta(days=d) for d in sorted(days)]
                        task.target = rng.randrange(n)
                    if kind == "order_status":
                        if rng.random() < 0.3:  # a known customer with orders of their own
                            task.my_orders = [
                                (f"B{2000 + len(out)}{i}", rng.choice(sorted(STATUS["en"])))
                                for i in range(rng.choice([1, 2]))
                            ]
                            task.order = rng.choice(task.my_orders)[0]
                        else:
                            task.order = rng.choice(sorted(DEMO_ORDERS))
                    out.append(task)
        for intent in FACTS:
            for example in data[lang][intent]:
                for _ in range(per_example["faq"]):
                    task = Task("faq", lang, example, intent=intent, seed=rng.randrange(1 << 30))
                    task.service = rng.choice(sorted(PRICES))
                    task.want = _moment(rng)
                    out.append(task)
    return out


# ---- the simulated customer --------------------------------------------------------------------


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
            if self.task.kind == "order_status" and reply.buttons:
                mine = [b for b in reply.buttons if self.task.order in b["payload"]]
                if mine:
                    return await self.tap(mine[0])
            return await self.rephrase()
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
            wrong = self.wrong_summary(slots)
            if wrong is not None:
                return await self.say(wrong)
            yes = [b for b in reply.buttons if b["payload"] == "/affirm"]
            if session.fallback_count and yes and self.rng.random() < TAP_AFTER_MISS:
                return await self.tap(yes[0])
            return await self.say(self.rng.choice(AFFIRM[lang]))
        if reply.buttons:
            return await self.tap(reply.buttons[0])
        return None

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

    # -- judging --

    async def done(self, reply: Reply) -> tuple[bool, str | None]:
        """(completed, why the task failed for good or None)."""
        t, text = self.task, reply.text
        if t.kind == "faq":
            assert t.intent is not None
            fact = FACTS[t.intent][self.lang]
            named = t.service is not None and "service" in entities_of(t.opening)
            if t.intent == "ask_prices" and named:
                assert t.service is not None
                fact = PRICES[t.service]
            return fact.lower() in text.lower(), None
        if t.kind == "order_status":
            assert t.order is not None
            status = dict(t.my_orders).get(t.order) or DEMO_ORDERS[t.order]
            ok = t.order in text and STATUS[self.lang][status].lower() in text.lower()
            return ok, None
        bookings = await self.c.bookings("c")
        if t.kind == "booking":
            if not bookings:
                return False, None
            b = bookings[0]
            assert self.want is not None
            if b.service_code != t.service or b.starts_at != self.want:
                return False, (
                    f"booked {b.service_code} at {b.starts_at.astimezone(KYIV):%a %d.%m %H:%M}, "
                    f"wanted {t.service} at {self.want:%a %d.%m %H:%M}"
                )
            return True, None
        target = self.visits[t.target]
        now = {b.reference: b for b in bookings}
        for i, v in enumerate(self.visits):
            if i != t.target and (v.reference not in now or now[v.reference] != v):
                return False, f"another visit was changed: {v.reference}"
        if t.kind == "cancel":
            return target.reference not in now, None
        moved = now.get(target.reference)
        if moved is None:
            return False, "the visit was cancelled instead of moved"
        return moved.starts_at == self.want, None


AFFIRM: dict[str, list[str]] = {}
HELDOUT: dict[str, dict[str, list[str]]] = {}


async def play(conversation: Conversation, task: Task) -> Outcome:
    customer = Customer(task, conversation)
    await prepare(conversation, customer)
    customer.transcript.append(customer.setup_note())
    reply: Reply | None = await customer.say(customer.opening(task.opening))
    error: str | None = "too many turns"
    handoff = ok = False
    while reply is not None:
        session = await conversation.session("c")
        ok, fatal = await customer.done(reply)
        if session.handoff:
            ok, handoff = False, True
            reason = (session.data.get("escalation") or {}).get("reason")
            error = f"handoff: {reason}"
            break
        if ok or fatal:
            error = fatal
            break
        if conversation.turns_sent["c"] >= MAX_TURNS:
            break
        reply = await customer.answer(reply, session)
        if reply is None:
            error = "the bot dropped the task"
    await cleanup(conversation, customer)
    return Outcome(
        task.kind,
        task.label,
        ok and not handoff,
        handoff,
        conversation.turns_sent["c"],
        None if ok else error,
        task.language,
        task.shape,
        customer.noisy,
        customer.transcript,
    )


async def prepare(conversation: Conversation, customer: Customer) -> None:
    """The customer's name, phone, orders and visits before the task (free slots, so they
    never collide with the demo calendar)."""
    task = customer.task
    spec: dict[str, Any] = {}
    if task.known or task.kind in ("reschedule", "cancel"):
        spec |= {"name": "Olena Petrenko", "phone": "+380501234567"}
    if task.my_orders:
        spec["orders"] = [{"number": n, "status": s} for n, s in task.my_orders]
    conversation.script.customers["c"] = spec
    await conversation.setup()
    if not task.visits:
        return
    backend = SqlBookingBackend(conversation.app[DATABASE], clock=lambda: FROZEN_NOW)
    customer_id = await conversation.customer_id("c")
    codes = customer.rng.sample(sorted(PRICES), len(task.visits))
    for day, code in zip(task.visits, codes, strict=True):
        soon = FROZEN_NOW + dt.timedelta(hours=2)  # an upcoming visit, not one starting now
        free = [
            s
            for s in await backend.free_slots(code, day, day, now=FROZEN_NOW)
            if s.starts_at > soon
        ]
        if not free:
            continue
        slot = customer.rng.choice(free)
        customer.visits.append(
            await backend.book(
                code, slot.starts_at, customer_id=customer_id, name="Olena Petrenko",
                phone="+380501234567", staff_id=slot.staff_id,
            )
        )  # fmt: skip
    task.target = min(task.target, len(customer.visits) - 1)
    if task.kind == "reschedule" and customer.visits:
        task.service = customer.visits[task.target].service_code


async def cleanup(conversation: Conversation, customer: Customer) -> None:
    """Release what the task booked, so every task sees the same demo calendar."""
    with contextlib.suppress(ScriptFailure):
        backend = SqlBookingBackend(conversation.app[DATABASE], clock=lambda: FROZEN_NOW)
        for booking in await conversation.bookings("c"):
            await backend.cancel(booking.reference)


# ---- the scripts -------------------------------------------------------------------------------


async def run_scripts(settings_for: Any) -> list[Outcome]:
    out = []
    for script in load_scripts():
        designed_handoff = _expects_handoff(script)
        async with running_app(settings_for(script.doc.get("settings") or {})) as client:
            conversation = Conversation(client, script)
            error = None
            try:
                await conversation.setup()
                await conversation.run()
            except ScriptFailure as e:
                error = str(e)
            handoff = False
            for alias in script.customers:
                with contextlib.suppress(ScriptFailure):
                    handoff = handoff or bool((await conversation.session(alias)).handoff)
        kind = "escalation script" if designed_handoff else "script"
        turns = sum(conversation.turns_sent.values())
        language = "uk" if script.path.stem.endswith("_uk") else "en"
        out.append(Outcome(kind, script.path.stem, error is None, handoff, turns, error, language))
    return out


def _expects_handoff(script: Script) -> bool:
    last = script.turns[-1].get("state") or {}
    return last.get("handoff") == "pending"


async def run_variations(settings: Settings, generated: list[Task]) -> list[Outcome]:
    out = []
    async with running_app(settings) as client:
        for task in generated:
            script = Script(task.label, Path(task.kind), {"c": {}}, [{}])
            conversation = Conversation(client, script)
            try:
                out.append(await play(conversation, task))
            except ScriptFailure as e:
                out.append(
                    Outcome(task.kind, task.label, False, False, conversation.turns_sent["c"],
                            str(e), task.language, task.shape)
                )  # fmt: skip
    return out


# ---- the report --------------------------------------------------------------------------------


def _row(group: list[Outcome]) -> dict[str, Any]:
    ok = [o for o in group if o.done and not o.handoff]
    return {
        "tasks": len(group),
        "completed_without_handoff": len(ok),
        "share": round(len(ok) / max(1, len(group)), 4),
        "handoffs": sum(o.handoff for o in group),
        "avg_turns": round(sum(o.turns for o in group) / max(1, len(group)), 2),
        "avg_turns_completed": round(sum(o.turns for o in ok) / max(1, len(ok)), 2),
    }


def summarise(outcomes: list[Outcome], transcripts: int = TRANSCRIPTS) -> dict[str, Any]:
    scripts = [o for o in outcomes if o.kind == "script"]
    escalation = [o for o in outcomes if o.kind == "escalation script"]
    generated = [o for o in outcomes if "script" not in o.kind]
    rows: dict[str, dict[str, Any]] = {}
    if scripts:
        rows["scripts (hand-written)"] = _row(scripts)
    for kind in ("booking", "reschedule", "cancel", "order_status", "faq"):
        for lang in LANGUAGES:
            group = [o for o in generated if o.kind == kind and o.language == lang]
            if group:
                rows[f"{kind} {lang}"] = _row(group)
    for lang in LANGUAGES:
        rows[f"generated {lang}"] = _row([o for o in generated if o.language == lang])
    booking = [o for o in generated if o.kind == "booking"]
    for shape in sorted({o.shape for o in booking}):
        rows[f"booking, opening gives {shape}"] = _row([o for o in booking if o.shape == shape])
    rows["generated, with noise"] = _row([o for o in generated if o.noisy])
    rows["generated, without noise"] = _row([o for o in generated if not o.noisy])
    rows["generated, all"] = _row(generated)
    failed = [o for o in generated if not (o.done and not o.handoff)]
    return {
        "generated": _row(generated),
        "scripts": _row(scripts) if scripts else None,
        "escalation_scripts": {
            "scripts": len(escalation),
            "as_designed": sum(o.done for o in escalation),
        },
        "rows": rows,
        "script_failures": [
            {"script": o.label, "error": o.error} for o in scripts + escalation if not o.done
        ],
        "failed": [
            {"task": o.label, "error": o.error, "turns": o.turns, "handoff": o.handoff}
            for o in failed
        ],
        "failed_transcripts": [
            {"task": o.label, "error": o.error, "transcript": o.transcript}
            for o in failed[:transcripts]
        ],
    }


def machine() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "unknown"

    memory = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) // 1024 // 1024} GiB"
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
        "commit": git("rev-parse", "--short", "HEAD")
        + (" (with uncommitted changes)" if git("status", "--porcelain") else ""),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    data = heldout()
    HELDOUT.update(data)
    for lang in LANGUAGES:  # confirmations: the held-out affirm examples, and a plain yes
        AFFIRM[lang] = [*data[lang]["affirm"], "yes" if lang == "en" else "так"]
    per_example = {"booking": 4, "reschedule": 2, "cancel": 2, "order_status": 2, "faq": 1}
    per_example["booking"] = args.booking_per_example
    generated = tasks(args.seed, per_example)
    if args.limit:
        generated = random.Random(args.seed).sample(generated, min(args.limit, len(generated)))
    work = Path(tempfile.mkdtemp(prefix="bench-tasks-"))
    try:
        model = Path(args.model) if args.model else work / "nlu.model"
        if not model.exists():
            from nlu import train_model

            train_model(None, model)  # the bundled train split only
        template = work / "template.db"
        await asyncio.to_thread(upgrade, f"sqlite+aiosqlite:///{template}")

        def settings_for(overrides: dict[str, Any]) -> Settings:
            path = work / f"{uuid.uuid4().hex[:8]}.db"
            shutil.copyfile(template, path)
            values: dict[str, Any] = {
                "database_url": f"sqlite+aiosqlite:///{path}",
                "nlu_model": model,
                "nlu_review_log": None,
                "rest_reply_timeout": 30.0,
                "default_language": "en",
                "clock_start": FROZEN_NOW,
                **overrides,
            }
            return Settings(_env_file=None, **values)  # type: ignore[call-arg]

        started = time.perf_counter()
        outcomes = [] if args.variations_only else await run_scripts(settings_for)
        if not args.scripts_only:
            outcomes += await run_variations(settings_for({}), generated)
        report = summarise(outcomes, args.transcripts)
        report["seconds"] = round(time.perf_counter() - started, 1)
        report["command"] = " ".join(["python", *sys.argv])
        report["machine"] = machine()
        report["seed"] = args.seed
        report["method"] = (
            "openings: held-out NLU test split (nlu/data/test), entities filled with the demo "
            "business's services, order numbers and dates; slots up front, partly or one by "
            f"one; {NOISE:.0%} of messages with casing or a typo; answers from fixed pools; "
            f"at most {MAX_TURNS} customer messages per task"
        )
        return report
    finally:
        shutil.rmtree(work, ignore_errors=True)


def print_table(report: dict[str, Any]) -> None:
    print(f"command: {report['command']}")
    m = report["machine"]
    print(
        f"machine: {m['platform']}, {m['cpus']} CPUs, {m['memory']}, Python {m['python']}, "
        f"commit {m['commit']}; seed {report['seed']}; {report['seconds']} s"
    )
    print(f"method: {report['method']}\n")
    print(
        f"{'row':<34} {'tasks':>6} {'no-handoff':>11} {'share':>7} {'handoffs':>9} "
        f"{'turns':>6} {'turns ok':>9}"
    )
    for name, row in report["rows"].items():
        print(
            f"{name:<34} {row['tasks']:>6} {row['completed_without_handoff']:>11} "
            f"{row['share']:>7.1%} {row['handoffs']:>9} {row['avg_turns']:>6} "
            f"{row['avg_turns_completed']:>9}"
        )
    esc = report["escalation_scripts"]
    if esc["scripts"]:
        print(f"\nescalation scripts ending in a handoff as designed: {esc['as_designed']}/"
              f"{esc['scripts']}")  # fmt: skip
    for miss in report["script_failures"]:
        print(f"  script failed: {miss['script']}: {miss['error']}")
    print(f"\nfailed generated tasks ({len(report['failed'])}):")
    for miss in report["failed"]:
        print(f"  {miss['task']}  -> {miss['error']} ({miss['turns']} turns)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=None, help="an NLU model file (default: train one)")
    parser.add_argument("--out", default=None, help="write the JSON report here")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--booking-per-example", type=int, default=4)
    parser.add_argument("--limit", type=int, default=0, help="a random sample of the tasks")
    parser.add_argument(
        "--transcripts", type=int, default=TRANSCRIPTS, help="failed tasks' transcripts kept"
    )
    parser.add_argument("--variations-only", action="store_true")
    parser.add_argument("--scripts-only", action="store_true")
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    print_table(report)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
