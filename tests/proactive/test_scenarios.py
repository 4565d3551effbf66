"""The scenarios file: the bundled defaults, and every mistake reported as `file:line: what`."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bots.flows.base import payload
from bots.proactive import ScenarioError, load_scenarios
from bots.proactive.loader import BUNDLED, parse_duration
from bots.proactive.scenarios import LANGUAGES, TemplateError

H = dt.timedelta(hours=1)

GOOD = """\
quiet_hours: {start: "21:00", end: "09:00"}
topics:
  reminders: {consent: implied}
  marketing:
    consent: required
    caps: [{max: 2, per: 1d}]
scenarios:
  remind:
    topic: reminders
    trigger: booking
    steps:
      - before: 24h
        text: {uk: "Завтра о {time}", en: "Tomorrow at {time}"}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenarios.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_bundled_file_has_the_demo_clinic_and_shop_scenarios() -> None:
    s = load_scenarios()
    assert s.source == str(BUNDLED)
    assert set(s.scenarios) >= {
        "booking_reminder",
        "flow_nudge",
        "ticket_followup",
        "reengagement",
        "cart_abandoned",
        "order_shipped",
        "order_delayed",
    }
    assert {"reminders", "orders", "service", "marketing"} <= set(s.topics)
    marketing = s.topic("marketing")
    assert marketing.consent == "required"
    assert [(c.max, c.per) for c in marketing.caps] == [(2, 24 * H), (5, 7 * 24 * H)]
    reminder = s.get("booking_reminder")
    assert reminder is not None
    assert [step.offset for step in reminder.steps] == [-24 * H, -2 * H]
    cart = s.for_event("cart_abandoned")
    assert [c.name for c in cart] == ["cart_abandoned"]
    assert [step.offset for step in cart[0].steps] == [2 * H, 24 * H]
    assert set(cart[0].cancel_on) == {"reply", "event:order_placed"}
    assert s.cancelled_by("order_placed") == ["cart_abandoned"]
    assert [x.name for x in s.for_trigger("flow_abandoned")] == ["flow_nudge"]
    alert = s.alerts["repeated_intent"]
    assert (alert.intent, alert.times, alert.within) == (None, 3, 7 * 24 * H)
    assert s.quiet_hours is not None and s.quiet_hours.contains(dt.time(23, 30))
    assert not s.quiet_hours.contains(dt.time(9, 0))
    assert {"order_shipped", "order_delayed", "cart_abandoned", "order_placed"} <= s.known_events()


def test_every_bundled_text_is_in_ukrainian_and_english_with_proper_typography() -> None:
    s = load_scenarios()
    for scenario in s.scenarios.values():
        for step in scenario.steps:
            assert set(step.text) == set(LANGUAGES)
            uk = step.text["uk"]
            assert "'" not in uk and '"' not in uk, uk  # ’ and «» in Ukrainian


def test_reminder_buttons_continue_into_the_reschedule_and_cancel_flows() -> None:
    reminder = load_scenarios().get("booking_reminder")
    assert reminder is not None
    variables = {"booking": "BK-ABC123", "service": "Огляд", "date": "21.12", "time": "15:00"}
    message = reminder.steps[0].render("uk", variables)
    assert message.text.startswith("Нагадуємо: завтра, 21.12, о 15:00")
    assert [(b.title, b.payload) for b in message.buttons] == [
        ("Перенести", payload("reschedule_appointment", booking="BK-ABC123")),
        ("Скасувати", payload("cancel_appointment", booking="BK-ABC123")),
    ]
    assert all(len(b.payload.encode()) <= 64 for b in message.buttons)  # Telegram's limit
    with pytest.raises(TemplateError, match=r"\{time\}"):
        reminder.steps[1].render("en", {"service": "x", "booking": "BK-1"})


def test_a_good_file_loads(tmp_path: Path) -> None:
    s = load_scenarios(write(tmp_path, GOOD))
    remind = s.get("remind")
    assert remind is not None and remind.topic == "reminders"
    anchor = dt.datetime(2026, 12, 21, 13, tzinfo=dt.UTC)
    ((_step, due, expires),) = remind.schedule(anchor)
    assert due == anchor - 24 * H and expires == anchor  # a reminder expires at the visit


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("", 1, "the file is empty"),
        ("scenarios: [\n", 2, "not valid YAML"),
        ("topics: {}\n", 1, "needs a `scenarios:` section"),
        ("scenarioz: {}\nscenarios: {}\n", 1, "unknown key 'scenarioz'"),
        (
            GOOD.replace("trigger: booking", "trigger: bookings"),
            10,
            "trigger 'bookings' is not one of",
        ),
        (GOOD.replace("before: 24h", "before: 24 hours"), 12, "is not a duration"),
        (GOOD.replace("before: 24h", "after: 1h\n        before: 24h"), 12, "exactly one of"),
        (
            GOOD.replace('en: "Tomorrow at {time}"', 'en: "At {tiem}"'),
            13,
            "unknown variable {tiem}",
        ),
        (GOOD.replace(', en: "Tomorrow at {time}"', ""), 13, "'en' is missing"),
        (GOOD.replace("topic: reminders", "topic: news"), 9, "topic 'news' is not under `topics:`"),
        (
            GOOD.replace("consent: required", "consent: maybe"),
            5,
            "consent is `implied` or `required`",
        ),
        (GOOD.replace("max: 2", "max: two"), 6, "whole number above zero"),
        (GOOD.replace('"21:00"', '"25:00"'), 1, 'a time like "21:00"'),
        (
            GOOD + "    cancel_on: [reply, order_placed]\n",
            14,
            "cancel_on lists `reply` or `event:<type>`",
        ),
        (GOOD + "cancels:\n  order_placed: [cart]\n", 15, "no scenario named 'cart'"),
        (
            GOOD + "alerts:\n  a: {when: {intent: any, times: 3}, queue: general}\n",
            15,
            "'within' is missing",
        ),
        (GOOD.replace("  remind:", "  Remind:"), 8, "is not a name"),
        (GOOD.replace("trigger: booking", "trigger: event"), 9, "`event: <type>` goes with"),
        (GOOD.replace('{time}"', '{time:>5}"', 1), 13, "plain {variable} fields"),
        (GOOD.replace("  marketing:", "  reminders:"), 4, "'reminders' appears twice"),
    ],
)
def test_a_bad_file_is_refused_naming_the_file_and_line(
    tmp_path: Path, text: str, line: int, problem: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as caught:
        load_scenarios(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert problem in message


def test_a_missing_file_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"nope\.yml:0: cannot read"):
        load_scenarios(tmp_path / "nope.yml")


def test_durations() -> None:
    assert parse_duration("90d") == dt.timedelta(days=90)
    assert parse_duration("1h30m") == dt.timedelta(minutes=90)
    assert parse_duration("1w") == dt.timedelta(days=7)
    assert parse_duration("0s", zero=True) == dt.timedelta(0)
    for bad in ("0s", "", "2 days", "h", "-1h"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_the_service_refuses_to_start_with_a_bad_file_and_says_where(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("before: 24h", "before: soon"))
    env = {
        **os.environ,
        "OMNIRELAY_SCENARIOS": str(path),
        "OMNIRELAY_REDIS_URL": "redis://127.0.0.1:1/0",  # never reached: the check comes first
        "OMNIRELAY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bots.cli", "gateway", "--port", "0"],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert f"{path}:12: scenario remind, step 1: before:" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
