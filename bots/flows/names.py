"""Reading a person's name where one is asked for, and telling it from a request.

A name step used to store whatever looked like words: "continue in Telegram" became the name
"Continue In Telegram". A message is a name only when nothing says it is a request: not a
button or a slash command, not a button's title typed out, not more than four words, no digits,
no word that names something the bot does or that a request is made of ("continue", "book",
"хочу", "telegram", "у", "my"...), and not an intent the NLU is sure of other than the ones a bare
name reads as. An introduction ("мене звати Тарас") is a name whatever the NLU thinks of it, as
long as what follows the introduction passes the same checks. A phone number typed beside the
name ("Олена Петренко 0671234567", trial F22) is set aside first (`bots.flows.phones`).
"""

from __future__ import annotations

import re
from functools import cache

from bots.flows.phones import without_phone
from bots.flows.smalltalk import PRAISE_WORDS
from bots.flows.templates import LANGUAGES, Templates
from bots.flows.understanding import Understanding

__all__ = ["is_request", "local_name", "read_name", "read_name_at_step"]

# What the NLU makes of a bare name: "Оксана Лисенко" reads as inform, "Dr Who" as out of scope,
# most as nothing it knows (the fallback).
NAME_INTENTS = frozenset({"inform", "nlu_fallback", "out_of_scope"})
SURE = 0.6  # an intent at least this sure is what the message asks for, not a name
MAX_NAME_WORDS = 4
# An introduction before the name, maybe after a greeting ("hi, im Yurii": trial 3's T10 booked
# "Im Yurii Bondarenko"); "im" and "its" are "i'm" and "it's" typed without the apostrophe.
NAME_PREFIX = re.compile(
    r"^\s*(?:(?:hi|hello|hey|привіт|вітаю|добрий день)\s*[,!.]?\s+)?"
    r"(?:my name is|my name's|name is|i am|i'm|im|it's|its|this is|name:?|мене звати|мене звуть"
    r"|моє ім'я|мене кличуть|я|це|ім'я:?)\s+",
    re.IGNORECASE,
)
_NAME = re.compile(r"^[^\W\d_][^\W\d_' .-]*(?:[ '.-]+[^\W\d_]+){0,4}\.?$")
_WORDS = re.compile(r"[^\W_]+(?:['-][^\W_]+)*")
# Words no personal name is made of: verbs and nouns of what the bot does, channels, question
# words, pronouns and prepositions, and praise (`PRAISE_WORDS`: "чудово" became the name
# "Чудово", trial 3, T12). Names that are also words ("Віра", "Hope", "Grace", "Will", "May",
# "Can") are left out on purpose.
REQUEST_WORDS = PRAISE_WORDS | frozenset(
    """
    continue switch move book booking appointment cancel change check order orders status
    help please thanks thank bye goodbye hello hi stop start want need like talk speak call
    person human agent operator manager price prices cost address hours open link account
    telegram viber instagram whatsapp chat messenger phone number code yes no ok okay sure
    what when where why how which who in into to the an my me you your our with for at on of
    from about not don't do does did could would should let go here there this that
    продовжити продовжимо перейти перейдімо хочу хочемо треба потрібно можна можете будь
    ласка дякую спасибі бувай привіт вітаю добрий день стоп скасувати змінити перенести
    записатися запишіть запис замовлення статус людина людиною оператор менеджер ціна ціни
    вартість адреса графік години телеграм телеграмі телеграму вайбер вайбері інстаграм
    інстаграмі месенджер номер телефон код так ні ок окей що коли де чому як який яка скільки
    хто в у на з із зі до від для про по за мені мій моє моя ваш ваша вас вам нам ми ви не
    ось от тримайте
    """.split()  # noqa: SIM905 (a word list reads better as text than as 160 literals)
)
# beginnings of the inflected forms ("продовжуємо", "записати", "замовленням", "скасуйте")
REQUEST_STEMS = (
    "продовж", "запис", "замовл", "скасу", "перенес", "перенос", "допомож", "зв'яз", "з'єдна",
    "телеграм", "вайбер", "інстаграм", "поговор", "передзвон", "підключ", "прив'яз",
    "continu", "cancel", "reschedul", "connect", "transfer",
)  # fmt: skip


def read_name(text: str | None) -> str | None:
    """A person's name typed on its own ("Olena Petrenko", "мене звати Олена"), or None."""
    if not text:
        return None
    name = NAME_PREFIX.sub("", text.strip()).strip(" .,!")
    if 2 <= len(name) <= 60 and _NAME.match(name):
        return " ".join(part[:1].upper() + part[1:] for part in name.split())
    return None


def is_request(text: str | None, understanding: Understanding, t: Templates) -> bool:
    """Whether a message typed where a name is asked for asks for something instead."""
    stripped = (text or "").strip()
    if understanding.from_button or stripped.startswith("/"):
        return True  # a button, or a command typed as one ("/start", "/book_appointment")
    if stripped.lower().strip(" .!?") in _button_titles(t):
        return True
    rest = NAME_PREFIX.sub("", stripped)
    words = [  # an initial ("В. Коваль") is no preposition "в"
        m.group(0).lower()
        for m in _WORDS.finditer(rest)
        if len(m.group(0)) > 1 or rest[m.end() : m.end() + 1] != "."
    ]
    if not words or len(words) > MAX_NAME_WORDS or any(ch.isdigit() for ch in rest):
        return True
    if any(w in REQUEST_WORDS or w.startswith(REQUEST_STEMS) for w in words):
        return True
    if rest != stripped:
        return False  # introduced as a name ("мене звати Тарас" may read as account linking)
    return understanding.intent not in NAME_INTENTS and understanding.confidence >= SURE


def read_name_at_step(text: str | None, understanding: Understanding, t: Templates) -> str | None:
    """The name a message gives where one is asked for, beside the phone number if that is
    typed with it ("Олена Петренко 0671234567"); None for a request or a non-name."""
    text = without_phone(text, understanding.texts.get("phone", []))
    return None if is_request(text, understanding, t) else read_name(text)


@cache
def _button_titles(t: Templates) -> frozenset[str]:
    """Every button title the bot shows, lowercased, in every language: typed out, it asks for
    what the button does. Titles with a placeholder ("Continue in {channel}") are left to the
    word checks."""
    titles: set[str] = set()
    for language in LANGUAGES:
        for key, value in t.all(language).items():
            if key.endswith("_buttons") and isinstance(value, dict):
                titles.update(str(v).lower() for v in value.values())
            elif key.endswith("_button") and isinstance(value, str) and "{" not in value:
                titles.add(value.lower())
    return frozenset(titles)


def local_name(default: str, names: dict[str, str], language: str) -> str:
    """A name kept per language ("Олена Коваленко" / "Dr. Olena Kovalenko") in
    ``language``; ``default`` (the one plain name) where there is none for it."""
    return names.get(language) or default
