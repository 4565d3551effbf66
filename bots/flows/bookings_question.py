"""A customer asking which visits they have booked ("When is my appointment?", "коли мій
запис?", "do I have any bookings?", "чи є в мене записи?").

The NLU has no intent for it: every intent of the bundled data must also be in its frozen
held-out split (`nlu/data/test`, `tests/nlu/test_bundled_data.py`), so a new one cannot be
added. The model reads these questions as whatever is nearest (an order's status, a new
booking: trial F23). This rule reads them instead: a booking word ("запис", "appointment"), the
customer's own ("мій", "в мене", "my", "do I have"), no verb that asks to do something with a
visit ("скасувати", "book", "move") and none that asks for the data kept about the customer
("записи про мене"), no digits (a phone: "в мене записи на 0939876543" links
accounts), and the NLU either unsure or reading one of the intents these questions are
mistaken for. A complaint about "my appointment" the NLU is sure of stays a complaint.

A booking word typed with one slip of the keys ("appointmnets", "bookigns", "записи" as
"зписи") is that word: the model read "my appointmnets" as an order's status and set a
half-made booking aside for it (trial 3, T11).
"""

from __future__ import annotations

import re

from bots.flows.understanding import FALLBACK, Understanding

__all__ = ["CHECK_BOOKINGS", "asks_for_bookings"]

CHECK_BOOKINGS = "check_bookings"  # the dialogue's intent for it (no NLU intent: see above)
SURE = 0.6  # an intent at least this sure, other than the ones below, is what is asked
MISREAD_AS = frozenset(
    {
        "check_order_status",
        "book_appointment",
        "data_request",
        "ask_opening_hours",
        "inform",
        "out_of_scope",
        FALLBACK,
    }
)
_NOUNS = re.compile(
    r"\b(?:запис(?:и|ів|і|ах|ом)?|візит(?:и|ів|у|і)?|прийом(?:и|ів|у|і)?"
    r"|appointments?|bookings?|visits?|reservations?)\b"
    r"|\b(?:am i|i'm|i am) booked\b|\bмене записано\b|\bя записан[аий]?\b",
)
_MINE = re.compile(
    r"\b(?:мій|мої|моя|моє|мого|моїх|моєму|мене|my|mine|i have|have i|i got|am i|i'm|i am|я)\b"
)
# Verbs that ask for something to be done with a visit: the NLU's own intents handle them.
_ACTIONS = re.compile(
    r"\b(?:book|make|schedule|reschedule|move|change|cancel|cancell?ing|delete|remove|drop"
    r"|postpone|shift|free|available)\b"
    r"|\b(?:запиш|записат|записув|скасу|відмін|перенес|перенос|змін|вільн)\w*",
)
# The booking words a typo is looked for in (`_typo_of`): long enough that one slip of the keys
# does not make another word of them.
_TYPO_TARGETS = frozenset(
    {"appointment", "appointments", "booking", "bookings", "reservation", "reservations"}
    | {"записи", "записів", "візити", "візитів", "прийоми", "прийомів"}
)
MIN_TYPO_LENGTH = 6
MIN_REPLACED_LENGTH = 9  # a letter replaced in a shorter word makes other words ("booming")
_WORD = re.compile(r"[^\W\d_]+")
# "Records" kept about the customer, not visits: "які записи про мене у вас є" (data_request)
_ABOUT_ME = re.compile(r"\b(?:про мене|about me|дан(?:і|их)|data|records?)\b")


def asks_for_bookings(text: str | None, understanding: Understanding) -> bool:
    """Whether the message asks which visits the customer has booked (see the module)."""
    if not text or understanding.from_button or any(ch.isdigit() for ch in text):
        return False
    if understanding.intent not in MISREAD_AS and understanding.confidence >= SURE:
        return False
    said = text.lower().replace("’", "'")
    if _ACTIONS.search(said) or _ABOUT_ME.search(said):
        return False
    noun = _NOUNS.search(said) or any(map(_typo_of, _WORD.findall(said)))
    return bool(noun and _MINE.search(said))


def _typo_of(word: str) -> bool:
    """Whether ``word`` is a booking word (`_TYPO_TARGETS`) with one slip: a letter missing or
    added, two neighbours swapped, or (in a long word) a letter replaced."""
    if len(word) < MIN_TYPO_LENGTH or word in _TYPO_TARGETS:
        return False
    return any(_one_slip(word, target) for target in _TYPO_TARGETS)


def _one_slip(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        swapped = len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
        replaced = len(diff) == 1 and len(a) >= MIN_REPLACED_LENGTH
        return replaced or (swapped and a[diff[1]] == b[diff[0]])
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))
