"""Opting out and in by plain words or a button: "stop", "відписатися", "не надсилайте акції",
"unsubscribe", "підписатися на акції", a marketing message's unsubscribe button.

`read_choice(text, payload)` says what a message asks for, or None when it is no such request.
It never guesses from the NLU: a customer who writes "stop" in the middle of a booking means
"stop this booking", so a bare "stop" counts only as a reply to a proactive message (the caller
decides, `Choice.bare`). Topics are named by their words ("акції" -> marketing, "нагадування"
-> reminders); a request that names none leaves `topics` None (the caller picks the default).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bots.flows.base import payload
from bots.flows.understanding import from_payload

__all__ = [
    "ALL_TOPICS",
    "OPT_IN_INTENT",
    "OPT_OUT_INTENT",
    "Choice",
    "opt_in_payload",
    "opt_out_payload",
    "read_choice",
]

OPT_OUT_INTENT = "unsubscribe"  # a button's payload: /unsubscribe{"topic":"marketing"}
OPT_IN_INTENT = "subscribe"  # /subscribe{"topic":"marketing"}
ALL_TOPICS = "*"

# Word stems of each topic, Ukrainian and English (lower case, matched anywhere in a word).
_TOPIC_WORDS: dict[str, re.Pattern[str]] = {
    topic: re.compile(stems)
    for topic, stems in {
        "marketing": "акці|знижк|пропозиці|розсил|реклам|новин|спам|promo|offer|deal|discount"
        "|marketing|newsletter|news|advert|mailing|sale",
        "reminders": "нагадуван|remind",
        "orders": "замовлен|доставк|посилк|order|shipping|deliver|parcel",
        "service": "опитуван|відгук|оцінк|survey|feedback|follow",
    }.items()
}
_ALL_WORDS = re.compile(
    r"\b(усього|всього|усі|всі|будь-які|all|everything|anything)\b|"
    r"не пиш(іть|и) мені|don'?t (message|contact|write( to)?|text) me|no more messages"
)
_OUT = re.compile(
    r"відпи(сат|сув|ш)\w*|"  # відписатися, відписуюсь, відпишіть мене
    r"\bне (надсилай|присилай|шли|шліть|пиш|відправляй)\w*|"
    r"\bприпин\w* (розсил|спам|писат|надсил)\w*|"
    r"\bбез (розсил|реклам|спам)\w*|"
    r"\bunsub\w*|\bopt[ -]?out\b|"
    r"\b(do not|don'?t|stop) (send|message|messag|text|contact|writ|email)\w*|"
    r"\bno more (messages|offers|promotions|reminders|news)\b|"
    r"\bstop (\w+ )?(messages|offers|promotions|reminders|notifications|marketing|ads|spam)\b|"
    r"\bremove me from\b"
)
_IN = re.compile(
    r"\bпідпи(сат|шіт|ши|суюсь|суюся)\w*|"  # підписатися, підпишіть мене
    r"\b(хочу|можна) (отримувати|отримати)\b|"
    r"\bнадсилайте\b|"
    r"\b(subscribe|opt[ -]?in)\b|"
    r"\bsend me\b|\bi want (your )?(offers|promotions|news|reminders)\b"
)
_BARE_STOP = re.compile(r"^\s*(stop|стоп|stop it|досить|хватит|припиніть)\s*[.!]*\s*$")


@dataclass(frozen=True, slots=True)
class Choice:
    """What a message asks: out of (or into) these topics; `topics` None: none named (the
    caller's default); (`ALL_TOPICS`,): every topic. `bare`: only the word "stop", which is an
    opt-out only as an answer to a proactive message."""

    granted: bool
    topics: tuple[str, ...] | None
    bare: bool = False
    button: bool = False


def read_choice(text: str | None, payload_: str | None) -> Choice | None:
    """The opt-out or opt-in a message asks for, or None."""
    if payload_:
        return _from_button(payload_)
    if not text:
        return None
    lowered = text.strip().lower().replace("’", "'")
    if len(lowered) > 200:
        return None  # a long message is about something else, whatever words it has
    if _BARE_STOP.match(lowered):
        return Choice(granted=False, topics=None, bare=True)
    if _OUT.search(lowered):
        return Choice(granted=False, topics=_topics(lowered))
    if _IN.search(lowered):
        topics = _topics(lowered)
        if topics is None and not re.search(r"підпи|subscribe|opt[ -]?in", lowered):
            return None  # "send me the address" is no opt-in
        return Choice(granted=True, topics=topics)
    return None


def _topics(text: str) -> tuple[str, ...] | None:
    named = tuple(topic for topic, stems in _TOPIC_WORDS.items() if stems.search(text))
    if named:
        return named
    if _ALL_WORDS.search(text):
        return (ALL_TOPICS,)
    return None


def _from_button(raw: str) -> Choice | None:
    understood = from_payload(raw)
    if understood is None or understood.intent not in (OPT_OUT_INTENT, OPT_IN_INTENT):
        return None
    topic = understood.first("topic")
    return Choice(
        granted=understood.intent == OPT_IN_INTENT,
        topics=(str(topic),) if topic else None,
        button=True,
    )


def opt_out_payload(topic: str) -> str:
    """The payload of a message's "unsubscribe" button for `topic`."""
    return payload(OPT_OUT_INTENT, topic=topic)


def opt_in_payload(topic: str) -> str:
    return payload(OPT_IN_INTENT, topic=topic)
