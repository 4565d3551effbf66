"""Picking a time: read dates and times from a message, check them against free slots, and offer
the nearest free ones as buttons when the customer is vague or the wanted time is taken.

Shared by booking and rescheduling. The slots it keeps are JSON: ``date`` ("YYYY-MM-DD") and
``time`` ("HH:MM") in the business's time zone, and ``starts_at`` (ISO, UTC) once the time is
known to be free.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from bots.flows.backends import BookingBackend, SlotView
from bots.flows.base import Localised, Turn, payload
from bots.flows.templates import Templates
from nlu.dates import names_a_day
from nlu.types import ParseResult
from storage.sessions import Session

log = logging.getLogger(__name__)

OFFER = 4  # free times offered at once
TIME_STEPS = frozenset({"date", "time"})  # the flows' steps that ask when


def as_time_answer(parse: ParseResult, session: Session | None) -> ParseResult:
    """At a step that asks when, a message that is nothing but a date or time ("о пів на
    третю", "at half past two": no word of three letters or more outside its ``time`` entities)
    answers the question, whatever the model ranks first: it is read as ``inform`` by the
    dialogue, the handoff rules, analytics and the review list alike. Times said in words, rare
    in the training data, were taken for complaints and sent the customer to a person (trial T2)."""
    if parse.intent == "inform" or session is None or session.flow is None:
        return parse
    if session.step not in TIME_STEPS:
        return parse
    spans = [
        (e.start, e.end)
        for e in parse.entities
        if e.entity == "time" and e.start is not None and e.end is not None
    ]
    if not spans:
        return parse
    rest = list(parse.text)
    for start, end in spans:
        rest[start:end] = " " * (end - start)
    if any(len(word) >= 3 for word in "".join(rest).split()):
        return parse
    log.info("a time given at step %s: %s read as inform", session.step, parse.intent)
    return dataclasses.replace(parse, intent="inform")


def read_when(turn: Turn, tz: ZoneInfo) -> tuple[str | None, str | None]:
    """The local date ("YYYY-MM-DD") and time ("HH:MM") the message names, each or both None.

    A time alone ("at 3pm", "о дев'ятій ранку": its text names no day, `nlu.dates.names_a_day`)
    leaves the date open: the NLU resolves it to today, but the customer means the day already
    being discussed (trial T1/T4: "завтра", then "о пів на п'яту", was booked for today)."""
    values = turn.understanding.entities.get("time") or []
    texts = turn.understanding.texts.get("time") or []
    day: str | None = None
    at: str | None = None
    for i, value in enumerate(values):
        parsed = _parse(value, tz)
        if parsed is None:
            continue
        when_day, when_at = parsed
        # "16.03" also looks like a time: only a value with a time of day is a bare time
        time_only = when_at is not None and i < len(texts) and not names_a_day(texts[i])
        if when_day is not None and not time_only and day is None:
            day = when_day
        if when_at is not None and at is None:
            at = when_at
    return day, at


def _parse(value: Any, tz: ZoneInfo) -> tuple[str | None, str | None] | None:
    text = str(value)
    try:
        if "T" in text:
            moment = dt.datetime.fromisoformat(text)
            if moment.tzinfo is not None:
                moment = moment.astimezone(tz)
            return moment.date().isoformat(), moment.strftime("%H:%M")
        return dt.date.fromisoformat(text).isoformat(), None
    except ValueError:
        return None


def local_moment(slots: dict[str, Any], tz: ZoneInfo) -> dt.datetime | None:
    """The wanted start as an aware datetime, when both date and time are known."""
    if not slots.get("date") or not slots.get("time"):
        return None
    day = dt.date.fromisoformat(slots["date"])
    return dt.datetime.combine(day, dt.time.fromisoformat(slots["time"]), tzinfo=tz)


def slot_title(starts_at: dt.datetime, tz: ZoneInfo, turn: Turn) -> dict[str, str]:
    """A button title in both languages: "Wed 11.03 15:00" / "Ср 11.03 15:00"."""
    local = starts_at.astimezone(tz)
    return {
        lang: f"{turn.t.raw('weekdays_short', lang)[local.weekday()]} {local:%d.%m %H:%M}"
        for lang in ("uk", "en")
    }


def day_text(day: dt.date, t: Templates, case: str = "weekdays") -> dict[str, str]:
    """The day as "Wednesday, 11.03", in both languages; ``case`` names the weekdays' template
    ("weekdays": nominative, "weekdays_acc": accusative)."""
    return {lang: f"{t.raw(case, lang)[day.weekday()]}, {day:%d.%m}" for lang in ("uk", "en")}


class DayValues(TypedDict):
    """The values every template that names a day is given, one per grammatical case, so that
    each template picks the form its words need: ``day`` on its own ("пʼятниця, 13.03", a line
    of the summary) and ``day_acc`` after "на" / "у" ("на пʼятницю, 13.03"). English has one
    form for both."""

    day: Localised
    day_acc: Localised


def day_values(day: dt.date, t: Templates) -> DayValues:
    """The day in both cases and both languages (for `Turn.ask`, which keeps both)."""
    return DayValues(day=day_text(day, t), day_acc=day_text(day, t, "weekdays_acc"))


def day_said(day: dt.date, turn: Turn) -> DayValues:
    """The day in both cases, in the turn's language (for `Turn.say`)."""
    values = day_values(day, turn.t)
    return DayValues(day=turn.local(values["day"]), day_acc=turn.local(values["day_acc"]))


def slot_buttons(slots: list[SlotView], tz: ZoneInfo, turn: Turn) -> list[tuple[Localised, str]]:
    return [
        (slot_title(s.starts_at, tz, turn), payload("inform", time=s.starts_at.isoformat()))
        for s in slots
    ]


def spread(slots: list[SlotView], n: int = OFFER) -> list[SlotView]:
    """``n`` slots spread over the day rather than the first ``n`` half-hours."""
    if len(slots) <= n:
        return slots
    step = (len(slots) - 1) / (n - 1)
    return [slots[round(i * step)] for i in range(n)]


class TimePicker:
    """Settles ``date``/``time`` slots into a free ``starts_at`` or asks for what is missing."""

    def __init__(self, backend: BookingBackend, tz: ZoneInfo) -> None:
        self.backend = backend
        self.tz = tz

    def apply(self, turn: Turn, slots: dict[str, Any]) -> bool:
        """Take a date and/or time from the message into ``slots``; True if anything changed."""
        day, at = read_when(turn, self.tz)
        changed = False
        if day is not None and day != slots.get("date"):
            slots["date"], changed = day, True
        if at is not None and at != slots.get("time"):
            slots["time"], changed = at, True
        if changed:
            slots.pop("starts_at", None)
        return changed

    async def settle(
        self, turn: Turn, slots: dict[str, Any], service: str, *, staff_id: int | None = None
    ) -> bool:
        """True when ``slots`` hold a free time (``starts_at`` set); otherwise the question or
        the offer of free times has been said (with `Turn.ask`) and the step is updated."""
        if slots.get("starts_at"):
            return True
        now = turn.ctx.now
        if not slots.get("date"):
            nearest = await self.backend.nearest(
                service, now, limit=OFFER, staff_id=staff_id, now=now
            )
            turn.session.step = "date"
            if not nearest:
                turn.ask("no_free_time")
                return False
            turn.ask("ask_when", buttons=slot_buttons(nearest, self.tz, turn))
            return False
        day = dt.date.fromisoformat(slots["date"])
        wanted = local_moment(slots, self.tz)
        if wanted is not None and wanted < now:
            slots.pop("time", None)
            later = await self.backend.nearest(service, now, limit=OFFER, staff_id=staff_id)
            turn.session.step = "time"
            turn.ask("time_past", buttons=slot_buttons(later, self.tz, turn))
            return False
        free = await self.backend.free_slots(service, day, day, staff_id=staff_id, now=now)
        if wanted is None:
            if not free:
                return await self._day_full(turn, slots, service, day, staff_id)
            turn.session.step = "time"
            turn.ask(
                "ask_time_on_day",
                buttons=slot_buttons(spread(free), self.tz, turn),
                **day_values(day, turn.t),
            )
            return False
        if any(s.starts_at == wanted for s in free):
            slots["starts_at"] = wanted.astimezone(dt.UTC).isoformat()
            return True
        slots.pop("time", None)
        later = await self.backend.nearest(service, wanted, limit=OFFER, staff_id=staff_id, now=now)
        turn.session.step = "time"
        turn.ask(
            "slot_taken",
            buttons=slot_buttons(later, self.tz, turn),
            when=slot_title(wanted, self.tz, turn),
        )
        return False

    async def _day_full(
        self, turn: Turn, slots: dict[str, Any], service: str, day: dt.date, staff_id: int | None
    ) -> bool:
        start = dt.datetime.combine(day, dt.time(0), tzinfo=self.tz)
        later = await self.backend.nearest(
            service, start, limit=OFFER, staff_id=staff_id, now=turn.ctx.now
        )
        slots.pop("date", None)
        slots.pop("time", None)
        turn.session.step = "date"
        turn.ask(
            "no_slots_day", buttons=slot_buttons(later, self.tz, turn), **day_values(day, turn.t)
        )
        return False
