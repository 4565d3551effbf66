"""Generated tasks: held-out NLU openings with their entities filled with the demo business's
services, order numbers and dates, in both languages, with casing and typo noise."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import yaml

from nlu.model import bundled_test_path
from tests.benchmarks.tasks.phrases import (
    _ANNOTATION,
    _HAS_TIME,
    _PURE_TIME,
    DEMO_ORDERS,
    FACTS,
    KIND_INTENT,
    LANGUAGES,
    NEXT_UK,
    NOISE,
    PRICES,
    STATUS,
    TODAY,
    WEEKDAYS_EN,
    WEEKDAYS_UK,
)
from tests.conversations.runner import KYIV


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
