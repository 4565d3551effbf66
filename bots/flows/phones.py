"""Phone numbers as customers type them: a number read from a message, a number typed beside a
name ("Олена Петренко 0671234567"), and a mistyped one (too few or too many digits).

A mistyped number is no misunderstanding: the customer answered the question, with a typo. The
booking explains what is wrong with it (how many digits it has, how many it needs) and asks
again, without counting toward the handoff after `MISSES_BEFORE_HANDOFF` misunderstood
messages; only `TYPOS_BEFORE_HANDOFF` typos in a row ask for a person.
"""

from __future__ import annotations

import re

from bots.flows.base import MISSES_BEFORE_HANDOFF, Turn

__all__ = ["TYPOS_BEFORE_HANDOFF", "mistyped_phone", "read_phone", "without_phone"]

TYPOS_BEFORE_HANDOFF = MISSES_BEFORE_HANDOFF + 1
MIN_DIGITS, MAX_DIGITS = 10, 15  # a number of another country: the shortest ... the longest
UA_CODE, UA_DIGITS = "380", 10  # 0671234567, +380671234567
_PHONE_CHARS = re.compile(r"[\d+()\s-]{9,20}")
# A number, or an attempt at one: at least 5 digits in phone characters, maybe with its label.
_PHONE_LIKE = re.compile(
    r"(?:\b(?:tel|phone|mob|тел|телефон|номер|моб)\b\.?:?\s*)?\+?\(?\d[\d()\s-]{3,}\d",
    re.IGNORECASE,
)
_JOINERS = " ,;:-–—/"


def read_phone(turn: Turn) -> str | None:
    """A phone number from the message (the NLU's entity, a shared contact, or digits)."""
    value = turn.understanding.first("phone") or turn.ctx.message.contact_phone
    if value is None and turn.text and _PHONE_CHARS.fullmatch(turn.text.strip()):
        value = turn.text
    if value is None:
        return None
    digits = re.sub(r"\D", "", str(value))
    if not _length_fits(digits):
        return None
    if digits.startswith("0"):
        digits = "38" + digits  # a Ukrainian number typed without the country code
    return f"+{digits}"


def _length_fits(digits: str) -> bool:
    """A Ukrainian number has 10 digits (0671234567), or 12 with the country code; any other
    country's, 10 to 15."""
    if digits.startswith("0"):
        return len(digits) == UA_DIGITS
    if digits.startswith(UA_CODE):
        return len(digits) == len(UA_CODE) + UA_DIGITS - 1
    return MIN_DIGITS <= len(digits) <= MAX_DIGITS


def mistyped_phone(text: str | None) -> str | None:
    """The digits of a phone number typed with too few or too many of them ("067123"), or
    None when the text holds no attempt at a number (or a number of a valid length)."""
    for match in _PHONE_LIKE.finditer(text or ""):
        digits = re.sub(r"\D", "", match.group(0))
        if len(digits) >= 5 and not _length_fits(digits):
            return digits
    return None


def without_phone(text: str | None, phone_texts: list[str]) -> str | None:
    """``text`` without the phone number typed beside a name: the NLU's phone entities
    (``phone_texts``, the words they came from) and anything else shaped like a number
    ("Олена Петренко 0671234567", "I'm Anna, +380 67 123 4567", "Olena, tel. 067123")."""
    if not text:
        return text
    rest = _PHONE_LIKE.sub(" ", text)  # with its label ("tel. 067...")
    for raw in phone_texts:
        rest = rest.replace(raw, " ")
    if rest == text:
        return text
    return " ".join(rest.split()).strip(_JOINERS)
