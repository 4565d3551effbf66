"""What the dialogue needs from one customer message: intent, entities, language."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import orjson

FALLBACK = "nlu_fallback"

#: Who decided what a message means (`bots.flows.understood`):
#: ``nlu``: the model's intent, taken as it was;
#: ``button``: a tapped button, its title typed out, a shared contact, a payload typed as text;
#: ``rule``: one of the dialogue's rules, over the model's answer or without one (a yes or no at
#: a yes/no question, an unsure intent not acted on, the bookings question, a farewell, a slash
#: command, a bare order number);
#: ``value``: the flow that asked for a value read the message as one (a name, a date...).
By: TypeAlias = Literal["nlu", "button", "rule", "value"]

# Button payloads follow Rasa's convention: "/intent" or '/intent{"slot": "value"}'.
_PAYLOAD = re.compile(r"^/(?P<intent>[A-Za-z_][\w.-]*)(?P<entities>\{.*\})?$", re.S)

# Demo order numbers look like A1001; customers type "#a1001", "А1001" (Cyrillic А) or "a 1001".
_ORDER = re.compile(r"(?<![\w])#?\s?([A-Za-zА-Яа-яІіЇїЄєҐґ])\s?-?(\d{4,8})(?![\w])")
_CYR_TO_LAT = str.maketrans("АаВвЕеКкМмНнОоРрСсТтХхІі", "AaBbEeKkMmHhOoPpCcTtXxIi")
LAST_BUTTONS = "last_buttons"  # session.data: [title, payload] of the last reply's buttons
_NOT_WORD = re.compile(r"[^\w]+")


@dataclass(slots=True)
class Understanding:
    intent: str
    confidence: float = 1.0
    entities: dict[str, list[Any]] = field(default_factory=dict)
    language: str | None = None
    from_button: bool = False
    texts: dict[str, list[str]] = field(default_factory=dict)  # entity -> the words it came from
    by: By = "nlu"  # who read it; the dialogue's rules set "rule" where they change the intent

    def first(self, entity: str) -> Any:
        values = self.entities.get(entity)
        return values[0] if values else None


def from_payload(payload: str) -> Understanding | None:
    match = _PAYLOAD.match(payload.strip())
    if not match:
        return None
    entities: dict[str, list[Any]] = {}
    if match.group("entities"):
        try:
            doc = orjson.loads(match.group("entities"))
        except orjson.JSONDecodeError:
            return None
        if isinstance(doc, dict):
            entities = {str(k): [v] for k, v in doc.items()}
    return Understanding(
        intent=match.group("intent"), entities=entities, from_button=True, by="button"
    )


def from_title(text: str | None, buttons: object) -> Understanding | None:
    """A button of the dialogue's last reply typed out instead of tapped ("Змінити", "Так,
    скасувати", "Ср 11.03 15:00"): that button's payload, as if tapped; the NLU read such
    titles as something else ("Змінити" as rescheduling, trial F6). ``buttons``:
    ``[[title, payload], ...]`` (`LAST_BUTTONS`); case, spacing and punctuation aside."""
    said = _plain(text)
    if not said or not isinstance(buttons, list):
        return None
    for item in buttons:
        if isinstance(item, list) and len(item) == 2 and _plain(str(item[0])) == said:
            return from_payload(str(item[1]))
    return None


def _plain(text: str | None) -> str:
    return " ".join(_NOT_WORD.sub(" ", (text or "").casefold()).split())


# Commands messengers send or customers type: Telegram's "/start" opens every new chat.
COMMANDS = {"start": "greet", "help": "greet", "menu": "greet"}


def from_command(text: str | None, language: str | None = None) -> Understanding | None:
    """A slash command typed as text: "/start", "/help" and "/menu" greet (the NLU read
    "/start" as "stop") in the customer's language; "/<intent>" or '/<intent>{...}' is that
    button's payload typed out, in ``language`` (the NLU's reading of the text); None for
    anything else."""
    stripped = (text or "").strip()
    if not stripped.startswith("/"):
        return None
    command = stripped[1:].split(maxsplit=1)[0].lower() if len(stripped) > 1 else ""
    if command in COMMANDS:
        return Understanding(intent=COMMANDS[command], by="rule")
    understood = from_payload(stripped)
    if understood is not None:
        understood.language = language
    return understood


def from_parse(parse: Any) -> Understanding:
    entities: dict[str, list[Any]] = {}
    texts: dict[str, list[str]] = {}
    for entity in parse.entities:
        entities.setdefault(entity.entity, []).append(entity.value)
        texts.setdefault(entity.entity, []).append(entity.text)
    number = find_order_number(parse.text)
    if number and "order_number" not in entities:
        entities["order_number"] = [number]
    return Understanding(
        intent=parse.intent,
        confidence=parse.confidence,
        entities=entities,
        language=parse.language,
        texts=texts,
    )


def find_order_number(text: str | None) -> str | None:
    """The first thing in `text` shaped like an order number, normalised ("а1001" -> "A1001")."""
    if not text:
        return None
    match = _ORDER.search(text)
    if not match:
        return None
    letter = match.group(1).translate(_CYR_TO_LAT).upper()
    if not ("A" <= letter <= "Z"):
        return None
    return f"{letter}{match.group(2)}"


def normalise_order_number(value: Any) -> str | None:
    return find_order_number(str(value)) if value is not None else None
