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
    return bool(_NOUNS.search(said) and _MINE.search(said))
