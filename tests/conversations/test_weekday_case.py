"""Issue 17: every template that names a day agrees in case, for all seven weekdays, in both
languages ("на пʼятниця", "О котрій пʼятниця, 11.12?" were the symptoms).

Every template key that takes a date (``{day}``, ``{day_acc}``, ``{date}``) is found by scanning
the templates, rendered with the values the code gives it, and checked against a table of the
correct forms: after "на" / "у" / "в" the accusative, on its own (the start of a line, after a
colon or comma) the nominative, anywhere else neither. A dialogue then asks for a time on each
weekday through the real pipeline."""

from __future__ import annotations

import datetime as dt
import re
import string
from pathlib import Path
from typing import Any

import pytest

from bots.flows.templates import LANGUAGES, Templates
from bots.flows.when import day_values
from nlu.normalise import normalise_text
from tests.conversations.inline import talk

NOMINATIVE = ["понеділок", "вівторок", "середа", "четвер", "п'ятниця", "субота", "неділя"]
ACCUSATIVE = ["понеділок", "вівторок", "середу", "четвер", "п'ятницю", "суботу", "неділю"]
ENGLISH = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ACCUSATIVE_AFTER = {"на", "у", "в", "во"}
MONDAY = dt.date(2026, 3, 16)  # the week after the conversations' frozen Tuesday 10.03
DATE_FIELDS = {"day", "day_acc", "date"}
# every template that takes a date, and who fills it: the flows (`when.day_values`), handoff
# (its `handoff_weekdays`, accusative), proactive replies ("13.03", no weekday)
FILLED_BY = {
    "ask_time_on_day": "flows",
    "no_slots_day": "flows",
    "booking_summary": "flows",
    "booked": "flows",
    "booking_noted_day": "flows",
    "booking_noted_day_time": "flows",
    "manage_reschedule_confirm": "flows",
    "manage_rescheduled": "flows",
    "handoff_after_hours": "handoff",
    "handoff_callback_later": "handoff",
    "proactive_booking_kept": "proactive",
    "proactive_booking_change": "proactive",
}
WEEK = [MONDAY + dt.timedelta(days=i) for i in range(7)]


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _date_keys(language: str) -> set[str]:
    return {
        key
        for key, value in Templates("uk").all(language).items()
        if isinstance(value, str) and _fields(value) & DATE_FIELDS
    }


def _render(t: Templates, key: str, language: str, day: dt.date) -> str:
    values: dict[str, Any] = {f: f"<{f}>" for f in _fields(str(t.raw(key, language)))}
    by = FILLED_BY[key]
    if by == "flows":
        found = day_values(day, t)
        for name, value in (("day", found["day"]), ("day_acc", found["day_acc"])):
            values[name] = value[language] if isinstance(value, dict) else value
    elif by == "handoff":
        values["day"] = t.raw("handoff_weekdays", language)[day.weekday()]
    else:
        values["date"] = f"{day:%d.%m}"
    return normalise_text(t(key, language, **values))


def _check_uk(text: str, weekday: int) -> None:
    forms = {NOMINATIVE[weekday], ACCUSATIVE[weekday]}
    pattern = r"(?<!\w)(" + "|".join(map(re.escape, forms)) + r")(?!\w)"
    found = list(re.finditer(pattern, text, re.IGNORECASE))
    others = [w for i, w in enumerate(NOMINATIVE + ACCUSATIVE) if i % 7 != weekday]
    assert not any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", text, re.I) for w in others), text
    for match in found:
        before = text[: match.start()].rstrip(" ")
        word = re.search(r"(\w+)$", before)
        if word and word.group(1).lower() in ACCUSATIVE_AFTER:
            wanted = ACCUSATIVE[weekday]
        else:
            # on its own: nothing before it on the line, or a colon, comma or dash
            assert not before or before[-1] in "\n:,—(«", f"{match.group(1)!r} after {before!r}"
            wanted = NOMINATIVE[weekday]
        assert match.group(1).lower() == wanted, f"{match.group(1)!r}, not {wanted!r}: {text!r}"


def _check_en(text: str, weekday: int) -> None:
    assert not re.search("[а-яіїєґ]", text, re.I), text
    for match in re.finditer(ENGLISH[weekday], text):
        before = text[: match.start()].rstrip(" ")
        word = re.search(r"(\w+)$", before)
        assert (word and word.group(1) in ("on", "to")) or not before or before[-1] in "\n:,"


def test_every_template_with_a_date_is_in_the_table() -> None:
    for language in LANGUAGES:
        assert _date_keys(language) == set(FILLED_BY), language


@pytest.mark.parametrize("day", WEEK, ids=ENGLISH)
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("key", sorted(FILLED_BY))
def test_template_agrees_in_case(key: str, language: str, day: dt.date) -> None:
    text = _render(Templates("uk"), key, language, day)
    if FILLED_BY[key] != "proactive":
        assert re.search(ENGLISH[day.weekday()] if language == "en" else "\\w", text)
    if language == "uk":
        _check_uk(text, day.weekday())
    else:
        _check_en(text, day.weekday())


@pytest.mark.parametrize("key", ["ask_time_on_day", "no_slots_day", "booked"])
def test_the_reported_symptoms_are_gone(key: str) -> None:
    text = _render(Templates("uk"), key, "uk", MONDAY + dt.timedelta(days=4))
    assert "п'ятниця" not in text
    assert "п'ятницю, 20.03" in text


# (what the customer types, the day it means, what the bot asks) — Sunday is closed
ASKED = [
    ("запишіть на консультацію в понеділок", "16.03", "О котрій у понеділок, 16.03?"),
    ("запишіть на консультацію у вівторок", "10.03", "О котрій у вівторок, 10.03?"),
    ("запишіть на консультацію в середу", "11.03", "О котрій у середу, 11.03?"),
    ("запишіть на консультацію в четвер", "12.03", "О котрій у четвер, 12.03?"),
    ("запишіть на консультацію в пʼятницю", "13.03", "О котрій у п'ятницю, 13.03?"),
    ("запишіть на консультацію в суботу", "14.03", "О котрій у суботу, 14.03?"),
    ("запишіть на консультацію в неділю", "15.03", "На неділю, 15.03, вільного часу немає"),
    ("book a consultation on Friday", "13.03", "What time on Friday, 13.03?"),
    ("book a consultation on Sunday", "15.03", "There is no free time on Sunday, 15.03."),
]


@pytest.mark.parametrize(
    ("say", "day", "asked"),
    ASKED,
    ids=[f"{a[1]}-{'en' if a[0].startswith('book') else 'uk'}" for a in ASKED],
)
async def test_the_dialogue_asks_in_the_right_case(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path, say: str, day: str,
    asked: str,
) -> None:  # fmt: skip
    language = "en" if say.startswith("book") else "uk"
    conversation = await talk(
        request,
        tmp_path,
        nlu_model_path,
        [{"say": say, "bot": asked}],
        customer={"language": language, "name": "Olena", "phone": "+380501112233"},
    )
    assert day in conversation.last["customer"].text
