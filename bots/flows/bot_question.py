"""A customer asking whether they talk to a bot or a person ("ти бот чи людина?", "are you a
real person?", "is this a bot?").

The NLU has no intent for it (a new one would need held-out examples, and the held-out split
is frozen: see `bots.flows.bookings_question`); the model read it as a request for a person
(the word "людина") and the question opened a ticket (trial 4, G10). This rule reads it: the
bot says what it is and offers a person, without handing over unasked.
"""

from __future__ import annotations

import re

__all__ = ["ASKS_IF_BOT", "asks_if_bot"]

ASKS_IF_BOT = "ask_if_bot"  # the dialogue's intent for it (no NLU intent)

_WHAT = r"(?:а\s+|a\s+|an\s+)?(?:бот\w*|робот\w*|(?:жив\w*\s+|справжн\w*\s+|реальн\w*\s+)?людин\w*|bot|robot|chat\s?bot|human|ai|(?:real\s+|live\s+)?person)"  # noqa: E501
_QUESTION = re.compile(
    r"(?:^|\b)(?:"
    rf"(?:чи\s+)?(?:ти|ви|це)\s+{_WHAT}(?:\s+чи\s+{_WHAT})?"
    rf"|(?:are\s+you|is\s+this|am\s+i\s+(?:talking|speaking|chatting)\s+(?:to|with))\s+{_WHAT}"
    rf"(?:\s+or\s+{_WHAT})?"
    rf"|(?:я\s+)?(?:говорю|розмовляю|спілкуюсь|спілкуюся|пишу)\s+з\s+{_WHAT}"
    r")\s*\??\s*$",
    re.IGNORECASE,
)


# Latin letters typed for their Cyrillic look-alikes inside a Cyrillic word ("бot": trial 5, G15,
# read as a request for a person and handed over at once).
_LOOK_ALIKES = str.maketrans("aceiopxykmth", "асеіорхукмтн")
_CYRILLIC = re.compile(r"[а-яєіїґ]")


def cyrillic_words(text: str) -> str:
    """``text`` (lower case) with each word that has a Cyrillic letter written in Cyrillic only."""
    return " ".join(w.translate(_LOOK_ALIKES) if _CYRILLIC.search(w) else w for w in text.split())


def asks_if_bot(text: str | None) -> bool:
    """Whether ``text`` (as the NLU read it) is nothing but the question "bot or person?"."""
    if not text or len(text) > 80:
        return False
    said = cyrillic_words(text.lower().replace("?", " ? "))
    return _QUESTION.search(said) is not None
