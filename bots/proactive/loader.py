"""Reading a scenarios file: YAML nodes (which know their line) checked one by one, so every
problem is reported as ``file:line: what is wrong`` before the service starts.

The format is described in bots/proactive/scenarios.yml, which is also the bundled default.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import time, timedelta
from pathlib import Path
from typing import NoReturn, TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bots.proactive.scenarios import (
    COMMON_VARIABLES,
    LANGUAGES,
    TRIGGER_VARIABLES,
    TRIGGERS,
    Alert,
    ButtonSpec,
    Cap,
    QuietHours,
    Scenario,
    ScenarioError,
    Scenarios,
    Step,
    Topic,
    fields,
)

__all__ = ["BUNDLED", "load_scenarios", "parse_duration"]

BUNDLED = Path(__file__).resolve().parent / "scenarios.yml"
_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_SECTIONS = frozenset({"quiet_hours", "topics", "scenarios", "alerts", "events", "cancels"})
T = TypeVar("T")


def load_scenarios(path: str | Path | None = None) -> Scenarios:
    """Read and validate a scenarios file (default: the bundled one).

    Raises `ScenarioError` whose message starts with ``file:line:`` of the first problem."""
    file = Path(path) if path is not None else BUNDLED
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError(f"{file}:0: cannot read the scenarios file: {e}") from e
    return _Reader(str(file)).document(text)


def parse_duration(value: str, *, zero: bool = False) -> timedelta:
    """ "2h", "1d", "90d", "1h30m", "45s", "1w" (and "0s" with ``zero``); ValueError otherwise."""
    text = value.strip().lower().replace(" ", "")
    if not text or _DURATION.sub("", text):
        raise ValueError(f"{value!r} is not a duration (like 30m, 2h, 1d, 1h30m)")
    seconds = sum(int(n) * _UNITS[u] for n, u in _DURATION.findall(text))
    if seconds <= 0 and not zero:
        raise ValueError(f"{value!r}: a duration must be longer than zero")
    return timedelta(seconds=seconds)


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, node: Node | None, message: str) -> NoReturn:
        line = node.start_mark.line + 1 if node is not None else 1
        raise ScenarioError(f"{self.file}:{line}: {message}")

    # ---- the document ------------------------------------------------------------------------

    def document(self, text: str) -> Scenarios:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line = mark.line + 1 if mark is not None else 1
            raise ScenarioError(f"{self.file}:{line}: not valid YAML: {e.problem}") from e
        except yaml.YAMLError as e:
            raise ScenarioError(f"{self.file}:1: not valid YAML: {e}") from e
        if root is None:
            raise ScenarioError(f"{self.file}:1: the file is empty")
        top = self.mapping(root, "the file", optional=_SECTIONS)
        if "scenarios" not in top:
            self.fail(root, "the file needs a `scenarios:` section")
        topics = self.each(top.get("topics"), "topics", self.topic)
        scenarios = self.each(top["scenarios"], "scenarios", self.scenario)
        for name, scenario in scenarios.items():
            if scenario.topic not in topics:
                node = self.mapping(top["scenarios"], "scenarios", optional=None)[name]
                known = ", ".join(sorted(topics)) or "none"
                self.fail(
                    node,
                    f"scenario {name}: topic {scenario.topic!r} is not under `topics:` ({known})",
                )
        return Scenarios(
            source=self.file,
            topics=topics,
            scenarios=scenarios,
            alerts=self.each(top.get("alerts"), "alerts", self.alert),
            quiet_hours=self.quiet(top["quiet_hours"]) if "quiet_hours" in top else None,
            events=self.event_map(top.get("events"), "events", scenarios),
            cancels=self.event_map(top.get("cancels"), "cancels", scenarios),
        )

    def each(self, node: Node | None, what: str, build: Callable[[str, Node], T]) -> dict[str, T]:
        if node is None:
            return {}
        out: dict[str, T] = {}
        self.mapping(node, what, optional=None)  # a mapping, without repeated keys
        assert isinstance(node, MappingNode)
        for key, value in node.value:
            name = self.scalar(key, f"a key of {what}")
            if not _NAME.match(name):
                self.fail(key, f"{what}: {name!r} is not a name (lower case, digits, _)")
            out[name] = build(name, value)
        return out

    def event_map(
        self, node: Node | None, what: str, scenarios: dict[str, Scenario]
    ) -> dict[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        if node is None:
            return out
        for event, value in self.mapping(node, what, optional=None).items():
            names = [
                self.scalar(n, f"{what}.{event}") for n in self.sequence(value, f"{what}.{event}")
            ]
            for n in names:
                if n not in scenarios:
                    self.fail(value, f"{what}.{event}: no scenario named {n!r}")
            out[event] = tuple(names)
        return out

    # ---- sections ----------------------------------------------------------------------------

    def quiet(self, node: Node) -> QuietHours:
        m = self.mapping(node, "quiet_hours", required={"start", "end"})
        return QuietHours(
            self.clock(m["start"], "quiet_hours.start"), self.clock(m["end"], "quiet_hours.end")
        )

    def topic(self, name: str, node: Node) -> Topic:
        m = self.mapping(
            node, f"topic {name}", optional={"consent", "quiet_hours", "caps", "unsubscribe"}
        )
        consent = self.scalar(m["consent"], "consent") if "consent" in m else "implied"
        if consent not in ("implied", "required"):
            self.fail(
                m["consent"], f"topic {name}: consent is `implied` or `required`, not {consent!r}"
            )
        caps = []
        for c in self.sequence(m["caps"], f"topic {name}: caps") if "caps" in m else []:
            cap = self.mapping(c, f"topic {name}: a cap", required={"max", "per"})
            caps.append(Cap(self.integer(cap["max"], "max"), self.duration(cap["per"], "per")))
        unsubscribe = (
            self.texts(m["unsubscribe"], f"topic {name}: unsubscribe", set())
            if "unsubscribe" in m
            else None
        )
        return Topic(
            name=name,
            consent="required" if consent == "required" else "implied",
            quiet_hours=self.boolean(m["quiet_hours"], "quiet_hours")
            if "quiet_hours" in m
            else True,
            caps=tuple(caps),
            unsubscribe=unsubscribe,
        )

    def scenario(self, name: str, node: Node) -> Scenario:
        m = self.mapping(
            node,
            f"scenario {name}",
            required={"topic", "trigger", "steps"},
            optional={"cancel_on", "event", "flows"},
        )
        what = f"scenario {name}"
        trigger = self.scalar(m["trigger"], f"{what}: trigger")
        if trigger not in TRIGGERS:
            self.fail(
                m["trigger"], f"{what}: trigger {trigger!r} is not one of {', '.join(TRIGGERS)}"
            )
        event = self.scalar(m["event"], f"{what}: event") if "event" in m else None
        if (trigger == "event") != (event is not None):
            self.fail(node, f"{what}: `event: <type>` goes with (and only with) `trigger: event`")
        flows = (
            tuple(self.scalar(f, "flows") for f in self.sequence(m["flows"], "flows"))
            if "flows" in m
            else ()
        )
        if trigger == "flow_abandoned" and not flows:
            self.fail(node, f"{what}: trigger flow_abandoned needs `flows: [booking, ...]`")
        cancel_on = (
            tuple(self.signal(s, what) for s in self.sequence(m["cancel_on"], "cancel_on"))
            if "cancel_on" in m
            else ()
        )
        steps_node = self.sequence(m["steps"], f"{what}: steps")
        if not steps_node:
            self.fail(m["steps"], f"{what}: at least one step")
        allowed = TRIGGER_VARIABLES.get(trigger)
        variables = None if allowed is None else allowed | COMMON_VARIABLES
        steps = tuple(self.step(i, s, what, trigger, variables) for i, s in enumerate(steps_node))
        return Scenario(
            name=name,
            topic=self.scalar(m["topic"], f"{what}: topic"),
            trigger=trigger,
            steps=steps,
            cancel_on=cancel_on,
            event=event,
            flows=flows,
        )

    def signal(self, node: Node, what: str) -> str:
        value = self.scalar(node, f"{what}: cancel_on")
        if value != "reply" and not (value.startswith("event:") and len(value) > 6):
            self.fail(node, f"{what}: cancel_on lists `reply` or `event:<type>`, not {value!r}")
        return value

    def step(
        self, index: int, node: Node, what: str, trigger: str, variables: frozenset[str] | None
    ) -> Step:
        what = f"{what}, step {index + 1}"
        m = self.mapping(
            node, what, required={"text"}, optional={"before", "after", "buttons", "expires"}
        )
        if ("before" in m) == ("after" in m):
            self.fail(node, f"{what}: give exactly one of `before:` or `after:`")
        if "before" in m and trigger != "booking":
            self.fail(m["before"], f"{what}: `before:` is for booking reminders; use `after:`")
        key = "before" if "before" in m else "after"
        offset = self.duration(m[key], f"{what}: {key}", zero=True)
        buttons = (
            tuple(self.button(b, what, variables) for b in self.sequence(m["buttons"], "buttons"))
            if "buttons" in m
            else ()
        )
        return Step(
            index=index,
            offset=-offset if key == "before" else offset,
            text=self.texts(m["text"], f"{what}: text", variables),
            buttons=buttons,
            expires=self.duration(m["expires"], f"{what}: expires") if "expires" in m else None,
        )

    def button(self, node: Node, what: str, variables: frozenset[str] | None) -> ButtonSpec:
        m = self.mapping(node, f"{what}: a button", required={"title", "payload"})
        title = self.texts(m["title"], f"{what}: button title", variables)
        if isinstance(m["payload"], ScalarNode):
            return ButtonSpec(title, payload=self.scalar(m["payload"], "payload"))
        spec = self.mapping(
            m["payload"], f"{what}: button payload", required={"intent"}, optional=None
        )
        entities = {
            k: self.template(v, f"{what}: payload {k}", variables)
            for k, v in spec.items()
            if k != "intent"
        }
        return ButtonSpec(title, intent=self.scalar(spec["intent"], "intent"), entities=entities)

    def alert(self, name: str, node: Node) -> Alert:
        m = self.mapping(node, f"alert {name}", required={"when", "queue"}, optional={"note"})
        when = self.mapping(
            m["when"], f"alert {name}: when", required={"intent", "times", "within"}
        )
        intent = self.scalar(when["intent"], "intent")
        return Alert(
            name=name,
            intent=None if intent == "any" else intent,
            times=self.integer(when["times"], "times"),
            within=self.duration(when["within"], "within"),
            queue=self.scalar(m["queue"], "queue"),
            note=self.texts(m["note"], f"alert {name}: note", set()) if "note" in m else {},
        )

    # ---- values ------------------------------------------------------------------------------

    def texts(
        self, node: Node, what: str, variables: set[str] | frozenset[str] | None
    ) -> dict[str, str]:
        m = self.mapping(node, what, required=set(LANGUAGES))
        return {lang: self.template(m[lang], f"{what} ({lang})", variables) for lang in LANGUAGES}

    def template(self, node: Node, what: str, variables: set[str] | frozenset[str] | None) -> str:
        value = self.scalar(node, what)
        try:
            used = fields(value)
        except ValueError as e:
            self.fail(node, f"{what}: {e}")
        unknown = sorted(used - variables) if variables is not None else []
        if unknown:
            known = ", ".join(f"{{{v}}}" for v in sorted(variables or ())) or "none"
            self.fail(
                node, f"{what}: unknown variable {{{unknown[0]}}} (this trigger gives {known})"
            )
        return value

    def mapping(
        self,
        node: Node,
        what: str,
        required: set[str] | frozenset[str] = frozenset(),
        optional: set[str] | frozenset[str] | None = frozenset(),
    ) -> dict[str, Node]:
        """The mapping's keys and value nodes: ``required`` ones must be there, and with
        ``optional=None`` any other key may be; else only ``optional`` ones."""
        if not isinstance(node, MappingNode):
            self.fail(node, f"{what} must be a mapping (key: value)")
        out: dict[str, Node] = {}
        for key_node, value in node.value:
            key = self.scalar(key_node, f"a key of {what}")
            if key in out:
                self.fail(key_node, f"{what}: {key!r} appears twice")
            allowed = set(required) | set(optional or ())
            if optional is not None and key not in allowed:
                expected = ", ".join(sorted(allowed))
                self.fail(key_node, f"{what}: unknown key {key!r} (expected {expected})")
            out[key] = value
        missing = sorted(set(required) - set(out))
        if missing:
            self.fail(node, f"{what}: {missing[0]!r} is missing")
        return out

    def sequence(self, node: Node, what: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            self.fail(node, f"{what} must be a list")
        return list(node.value)

    def scalar(self, node: Node, what: str) -> str:
        if not isinstance(node, ScalarNode) or node.tag.endswith(":null"):
            self.fail(node, f"{what} must be a single value")
        return str(node.value)

    def integer(self, node: Node, what: str) -> int:
        value = self.scalar(node, what)
        if not value.isdigit() or int(value) < 1:
            self.fail(node, f"{what} must be a whole number above zero, not {value!r}")
        return int(value)

    def boolean(self, node: Node, what: str) -> bool:
        value = self.scalar(node, what).lower()
        if value not in ("true", "false", "yes", "no"):
            self.fail(node, f"{what} must be true or false, not {value!r}")
        return value in ("true", "yes")

    def duration(self, node: Node, what: str, *, zero: bool = False) -> timedelta:
        try:
            return parse_duration(self.scalar(node, what), zero=zero)
        except ValueError as e:
            self.fail(node, f"{what}: {e}")

    def clock(self, node: Node, what: str) -> time:
        value = self.scalar(node, what)
        found = _CLOCK.match(value)
        if found is None:
            self.fail(node, f'{what} must be a time like "21:00" (quoted), not {value!r}')
        return time(int(found.group(1)), int(found.group(2)))
