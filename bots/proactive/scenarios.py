"""Proactive scenarios as data: topics (consent, quiet hours, caps), scenarios (a trigger and
its timed steps with texts per language and buttons), alerts to agents, event mappings.

`bots.proactive.loader.load_scenarios(path)` reads and validates a YAML file into these; the
bundled `scenarios.yml` holds the demo clinic's and shop's defaults. Everything here is frozen:
a `Scenarios` is read once at start and shared.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Literal

import orjson

from bots.messages import Button, OutboundMessage

__all__ = [
    "LANGUAGES",
    "TRIGGERS",
    "Alert",
    "ButtonSpec",
    "Cap",
    "QuietHours",
    "Scenario",
    "ScenarioError",
    "Scenarios",
    "Step",
    "TemplateError",
    "Topic",
]

LANGUAGES = ("uk", "en")
TRIGGERS = ("booking", "flow_abandoned", "ticket_closed_no_csat", "silence", "event")
#: Variables a trigger's caller passes (see the contract in bots/proactive/README.md); a
#: template naming another one fails at load time. Event variables come from the business's
#: system and are checked when the message is due (a missing one: `suppressed`).
TRIGGER_VARIABLES: dict[str, frozenset[str]] = {
    "booking": frozenset({"booking", "service", "staff", "starts_at", "date", "time"}),
    "flow_abandoned": frozenset({"flow"}),
    "ticket_closed_no_csat": frozenset({"ticket"}),
    "silence": frozenset({"days"}),
}
#: Filled by the scheduler for every message, whatever the trigger.
COMMON_VARIABLES = frozenset({"name"})


class ScenarioError(ValueError):
    """A scenarios file that cannot be used; the message starts with ``file:line:``."""


class TemplateError(ValueError):
    """A text could not be filled in (a variable the trigger did not give)."""


@dataclass(frozen=True, slots=True)
class Cap:
    """At most ``max`` messages of a topic per customer in any window of ``per``."""

    max: int
    per: timedelta


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local times between which nothing is sent (``start`` > ``end``: across midnight)."""

    start: time
    end: time

    def contains(self, local: time) -> bool:
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def end_after(self, local: datetime) -> datetime:
        """The first moment at or after ``local`` (aware, local time) when the quiet ends."""
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        return end if end > local else end + timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    consent: Literal["implied", "required"] = "implied"
    quiet_hours: bool = True
    caps: tuple[Cap, ...] = ()
    # a button that opts out of the topic, added to each of its messages (title per language)
    unsubscribe: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class ButtonSpec:
    """A button: a fixed ``payload``, or ``intent`` with entities filled from the variables."""

    title: Mapping[str, str]
    payload: str | None = None
    intent: str | None = None
    entities: Mapping[str, str] = field(default_factory=dict)

    def render(self, language: str, variables: Mapping[str, Any]) -> Button:
        title = fill(self.title[language], variables)
        if self.intent is None:
            return Button(title, self.payload or "")
        values = {k: fill(v, variables) for k, v in self.entities.items()}
        return Button(title, intent_payload(self.intent, values))


@dataclass(frozen=True, slots=True)
class Step:
    index: int
    offset: timedelta  # from the trigger's anchor: negative for `before`
    text: Mapping[str, str]
    buttons: tuple[ButtonSpec, ...] = ()
    expires: timedelta | None = None  # after the due time

    def render(self, language: str, variables: Mapping[str, Any]) -> OutboundMessage:
        """The message in ``language``; raises `TemplateError` for a missing variable. A
        variable given per language (``{"uk": ..., "en": ...}``) is taken in ``language``."""
        variables = {k: localise(v, language) for k, v in variables.items()}
        return OutboundMessage(
            text=fill(self.text[language], variables),
            buttons=tuple(b.render(language, variables) for b in self.buttons),
        )


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    topic: str
    trigger: str  # one of TRIGGERS
    steps: tuple[Step, ...]
    cancel_on: tuple[str, ...] = ()  # "reply", "event:<type>"
    event: str | None = None  # trigger "event": the event type
    flows: tuple[str, ...] = ()  # trigger "flow_abandoned": the flows it watches

    def schedule(self, anchor: datetime) -> list[tuple[Step, datetime, datetime | None]]:
        """(step, due, expires at) of each step for a trigger at ``anchor``. A booking's
        reminders expire at the visit unless the step says sooner."""
        out: list[tuple[Step, datetime, datetime | None]] = []
        for step in self.steps:
            due = anchor + step.offset
            expires = due + step.expires if step.expires is not None else None
            if self.trigger == "booking" and step.offset < timedelta(0):
                expires = anchor if expires is None else min(expires, anchor)
            out.append((step, due, expires))
        return out


@dataclass(frozen=True, slots=True)
class Alert:
    """A task for agents (not a message to the customer) when a rule fires: ``intent``
    (or any intent, ``None``) asked ``times`` times within ``within``."""

    name: str
    intent: str | None
    times: int
    within: timedelta
    queue: str
    note: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Scenarios:
    """A validated scenarios file. Build it with `load_scenarios`."""

    source: str
    topics: Mapping[str, Topic]
    scenarios: Mapping[str, Scenario]
    alerts: Mapping[str, Alert] = field(default_factory=dict)
    quiet_hours: QuietHours | None = None
    events: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    cancels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def get(self, name: str) -> Scenario | None:
        return self.scenarios.get(name)

    def topic(self, name: str) -> Topic:
        """The topic's rules; a topic the file does not list gets the defaults."""
        return self.topics.get(name) or Topic(name)

    def for_trigger(self, kind: str) -> list[Scenario]:
        """The scenarios started by a trigger kind ("booking", "silence", ...)."""
        return [s for s in self.scenarios.values() if s.trigger == kind]

    def for_event(self, event_type: str) -> list[Scenario]:
        """The scenarios an event of the business starts: the file's `events:` mapping when
        it names the type, else the scenarios whose trigger is that event."""
        names = self.events.get(event_type)
        if names is not None:
            return [self.scenarios[n] for n in names]
        return [s for s in self.scenarios.values() if s.event == event_type]

    def cancelled_by(self, event_type: str) -> list[str]:
        """Names of the scenarios whose pending messages an event cancels (`cancels:`, and
        each scenario's own ``cancel_on: [event:<type>]``)."""
        names = list(self.cancels.get(event_type, ()))
        names += [
            s.name
            for s in self.scenarios.values()
            if f"event:{event_type}" in s.cancel_on and s.name not in names
        ]
        return names

    def known_events(self) -> set[str]:
        """Every event type the file reacts to (starts or cancels something)."""
        return (
            set(self.events)
            | set(self.cancels)
            | {s.event for s in self.scenarios.values() if s.event}
            | {c[6:] for s in self.scenarios.values() for c in s.cancel_on if c[:6] == "event:"}
        )


def intent_payload(intent: str, entities: Mapping[str, Any]) -> str:
    """The flows' button payload, `/intent{"slot":"value"}` (as `bots.flows.base.payload`
    builds it; not imported from there, since the flows call into this package)."""
    if not entities:
        return f"/{intent}"
    return f"/{intent}{orjson.dumps(dict(entities)).decode()}"


def localise(value: Any, language: str) -> Any:
    """A value given per language (``{"uk": "Огляд", "en": "Check-up"}``) in ``language``
    (else English, else any); any other value as it is."""
    if isinstance(value, Mapping) and value and set(value) <= set(LANGUAGES):
        return value.get(language) or value.get("en") or next(iter(value.values()))
    return value


def fill(template: str, variables: Mapping[str, Any]) -> str:
    """``str.format``-style, with only plain ``{name}`` fields; `TemplateError` when one of
    them is missing."""
    try:
        return template.format_map(_Strict(variables))
    except KeyError as e:
        raise TemplateError(f"variable {{{e.args[0]}}} is missing") from e
    except (ValueError, IndexError, AttributeError) as e:
        raise TemplateError(f"template {template!r}: {e}") from e


def fields(template: str) -> set[str]:
    """The variable names a template uses; ValueError when it is malformed."""
    names: set[str] = set()
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValueError(f"use plain {{variable}} fields, not {{{name}}}")
        names.add(name)
    return names


class _Strict(dict[str, Any]):
    def __missing__(self, key: str) -> Any:
        raise KeyError(key)
