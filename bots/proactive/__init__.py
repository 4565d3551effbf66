"""Proactive messages (issue 14): reminders, follow-ups and triggered scenarios that the
business sends first, exactly once, within caps, outside quiet hours and only with consent.

- `scenarios.py` / `loader.py` / `scenarios.yml`: what to send and when, as data;
- `triggers.py`: `trigger`, `cancel`, `signal` (in the caller's transaction), consent, history;
- `policy.py`: the decision about one due message (expired, suppressed, deferred, unreachable,
  capped, sent) and `channels_choice.py`: which channel may carry it;
- `scheduler.py`: claims due jobs with a lease in any worker process and hands messages to the
  outbox (started by `bots.app` for the roles "all" and "worker").
"""

from __future__ import annotations

from bots.proactive.loader import load_scenarios
from bots.proactive.scenarios import Scenario, ScenarioError, Scenarios, TemplateError, Topic
from bots.proactive.triggers import (
    ConsentView,
    DecisionView,
    JobView,
    UnknownScenario,
    cancel,
    consents,
    history,
    set_consent,
    signal,
    trigger,
)

__all__ = [
    "ConsentView",
    "DecisionView",
    "JobView",
    "Scenario",
    "ScenarioError",
    "Scenarios",
    "TemplateError",
    "Topic",
    "UnknownScenario",
    "cancel",
    "consents",
    "history",
    "load_scenarios",
    "set_consent",
    "signal",
    "trigger",
]
