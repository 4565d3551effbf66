"""When a message changes the language the dialogue speaks (the session's language).

The NLU guesses a language for every message from its script (`nlu.lang`): any Latin text reads
as English. A Ukrainian customer's typo ("asdfgh") therefore looked English, the session switched,
and even the Cyrillic "ок" that followed was answered in English. Only a confident reading
switches: a message of at least `MIN_LETTERS_TO_SWITCH_LANGUAGE` letters that the bot understood
(neither the fallback nor out of scope: gibberish, typos), and that is not a name given where the
dialogue asks for one ("Olena" is no evidence of English). Anything else keeps the language.
A customer's first message, before the session speaks any language, needs only
`MIN_LETTERS_FIRST` letters: "Hi" understood as a greeting is answered in English; and one the
bot did not understand sets the language when its letters tell it (Cyrillic, or English words:
trial F24 answered "can u halp with my stuff" in Ukrainian, the business's default).

Latin letters are English only with English words in them (`nlu.lang.looks_english`): one
message of Ukrainian typed in Latin letters ("koly vy pratsiuiete", trial F2), understood or
not, no longer switches a Ukrainian session, or its ticket, to English.

A later message the bot did not understand still switches when its words leave no doubt
(`nlu.lang.clear_language`: two English words or more, or Ukrainian Cyrillic): an English
customer greeted in Ukrainian (Telegram's /start with a Ukrainian app) whose questions the bot
did not understand was answered in Ukrainian, handed to a person in Ukrainian and asked for the
rating in Ukrainian (trial 3, T2). While a person has the conversation the handoff package
follows the language by the same rule (`handoff.hook`).
"""

from __future__ import annotations

from bots.flows.context import FlowContext
from bots.flows.names import read_name_at_step
from bots.flows.templates import LANGUAGES, Templates
from bots.flows.understanding import FALLBACK, Understanding
from nlu.lang import clear_language, looks_english

__all__ = ["MIN_LETTERS_FIRST", "MIN_LETTERS_TO_SWITCH_LANGUAGE", "NAME_STEP", "switches_language"]

MIN_LETTERS_TO_SWITCH_LANGUAGE = 3
MIN_LETTERS_FIRST = 2  # no language yet: nothing to keep
NOT_UNDERSTOOD = frozenset({FALLBACK, "out_of_scope"})
NAME_STEP = "name"


def switches_language(
    ctx: FlowContext, understanding: Understanding, text: str | None, t: Templates
) -> bool:
    """The message's detected language (`understanding.language`) becomes the session's."""
    session = ctx.session
    letters = sum(ch.isalpha() for ch in ctx.message.text or "")
    first = session is None or session.language not in LANGUAGES
    needed = MIN_LETTERS_FIRST if first else MIN_LETTERS_TO_SWITCH_LANGUAGE
    if understanding.language not in LANGUAGES or letters < needed:
        return False
    english = understanding.language == "en"
    said = ctx.message.text or ""
    if understanding.intent in NOT_UNDERSTOOD:
        # nothing understood: a first message whose letters tell its language sets it; a later
        # one only when its words leave no doubt
        if first:
            return not english or looks_english(said)
        if clear_language(said) != understanding.language:
            return False
    elif english and not first and not looks_english(said):
        return False
    at_name = session is not None and session.flow is not None and session.step == NAME_STEP
    return not (at_name and read_name_at_step(text, understanding, t) is not None)
