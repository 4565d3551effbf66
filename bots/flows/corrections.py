"""Which part of a booking a customer names when correcting it: "the time", "час", "change the
name", "змініть телефон".

"What would you like to change?" shows the parts as buttons (Service, Day, Time, Name, Phone).
A customer who typed one instead ("the time", "ім'я": trial 3, T10) was not understood, and a
second try handed them to a person. A message naming exactly one part is now that part: right
after the question, a short one on its own ("the time", "ім'я"); at the summary, one that also
asks for a change ("change the name", "wrong phone", "інший день"). Two parts at once ("the day
and the time") are left to the buttons.
"""

from __future__ import annotations

import re

__all__ = ["part_named"]

MAX_WORDS = 4  # "the time, please": longer messages right after the question are not a part
_WORDS = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
# Each part of a booking (`bots.flows.booking.CHANGEABLE`) and the words that name it.
_PARTS = {
    "service": """service procedure treatment послуга послугу послуги процедура процедуру
        процедури""",
    "date": "day date день дату дата дня число",
    "time": "time hour час часу година годину години",
    "name": "name surname ім'я імя прізвище",
    "phone": "phone telephone mobile number телефон телефону номер номера",
}
_PART_OF = {word: part for part, words in _PARTS.items() for word in words.split()}
# Words that ask for a change, and beginnings of the Ukrainian verbs ("змініть", "виправити").
_CHANGE = frozenset(
    {"change", "edit", "fix", "correct", "wrong", "different", "another", "update", "replace"}
    | {"інший", "іншу", "інше", "інша"}
)
_CHANGE_STEMS = ("змін", "виправ", "поміня", "помін")


def part_named(text: str | None, *, asked: bool) -> str | None:
    """The one part of the booking ``text`` names, or None. ``asked``: right after "What would
    you like to change?", where the part alone is an answer; elsewhere a word asking for a
    change must come with it."""
    words = [w.lower() for w in _WORDS.findall((text or "").replace("’", "'"))]
    parts = {_PART_OF[w] for w in words if w in _PART_OF}
    if len(parts) != 1:
        return None
    change = any(w in _CHANGE or w.startswith(_CHANGE_STEMS) for w in words)
    if change or (asked and len(words) <= MAX_WORDS):
        return parts.pop()
    return None
