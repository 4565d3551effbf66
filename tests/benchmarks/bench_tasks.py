"""Task success: every conversation script plus generated variations, in-process, through the
real pipeline (REST channel, embedded mode, clock pinned like the tests).

    python tests/benchmarks/bench_tasks.py --out bench-results/tasks.json

A *task* is one thing a customer came to do: book, move or cancel a visit, check an order, ask
a question. Scripts (tests/conversations/scripts) count as tasks unless they are written to end
in a handoff (those are reported apart, as "escalation scripts behaving as designed").
Variations are generated: paraphrased openings, slots given all at once or one by one, both
languages; a simulated customer answers whatever the bot asks (reading the session's step) until
the task is done, a person is asked for, or 12 messages have gone by. Prints a table and writes
JSON: the share of tasks completed without a handoff and the average number of turns per task.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bots.config import Settings  # noqa: E402
from storage.db import upgrade  # noqa: E402
from tests.conversations.runner import (  # noqa: E402
    FROZEN_NOW,
    Conversation,
    Script,
    ScriptFailure,
    load_scripts,
    running_app,
)

MAX_TURNS = 12

SERVICES = {
    "en": {
        "cleaning": "a teeth cleaning",
        "consultation": "a dental consultation",
        "filling": "a tooth filling",
        "whitening": "teeth whitening",
        "facial": "a facial",
    },
    "uk": {
        "cleaning": "чистку зубів",
        "consultation": "консультацію стоматолога",
        "filling": "пломбування зуба",
        "whitening": "відбілювання зубів",
        "facial": "чистку обличчя",
    },
}
OPENINGS = {
    "en": ["book", "I'd like to book", "can I make an appointment for", "I want to book"],
    "uk": ["запишіть мене на", "хочу записатися на", "можна записатися на", "хочу на"],
}
BARE = {"en": "I'd like to book an appointment", "uk": "хочу записатися"}
DAYS = {"en": ["tomorrow", "on Friday", "on Saturday"], "uk": ["завтра", "в п'ятницю", "в суботу"]}
TIMES = {"en": ["at 3pm", "at 11:00", "at 12:30"], "uk": ["о 15:00", "об 11:00", "о 12:30"]}
NAMES = {"en": "Olena Petrenko", "uk": "Олена Петренко"}
YES = {"en": "yes", "uk": "так"}
ORDER_OPENINGS = {
    "en": ["where is my order?", "I want to check my order status", "status of order {n}", "{n}"],
    "uk": ["де моє замовлення", "хочу перевірити статус замовлення", "статус замовлення {n}"],
}
FAQ = {
    "en": [
        ("what are your opening hours", "08:00"),
        ("when are you open on saturday", "09:00"),
        ("where are you located", "Khreshchatyk"),
        ("what's your address", "Khreshchatyk"),
        ("how much is whitening", "4500"),
        ("what are your prices", "UAH"),
    ],
    "uk": [
        ("коли ви працюєте", "08:00"),
        ("який у вас графік роботи", "08:00"),
        ("де ви знаходитесь", "Хрещатик"),
        ("яка адреса", "Хрещатик"),
        ("скільки коштує відбілювання", "4500"),
        ("ціни", "грн"),
    ],
}
MANAGE = {
    "en": {"cancel": ["cancel my appointment", "I can't come, please cancel my visit"],
           "reschedule": ["I want to reschedule", "can I move my appointment"]},
    "uk": {"cancel": ["хочу скасувати запис", "скасуйте мій візит"],
           "reschedule": ["хочу перенести візит", "можна перенести запис"]},
}  # fmt: skip


@dataclass
class Outcome:
    kind: str
    label: str
    done: bool
    handoff: bool
    turns: int
    error: str | None = None


@dataclass
class Task:
    kind: str
    label: str
    language: str
    goal: dict[str, Any]
    customer: dict[str, Any] = field(default_factory=dict)


def variations() -> list[Task]:
    tasks: list[Task] = []
    for lang in ("en", "uk"):
        for i, (code, phrase) in enumerate(SERVICES[lang].items()):
            for j, opening in enumerate(OPENINGS[lang]):
                day, at = DAYS[lang][(i + j) % 3], TIMES[lang][(i * 2 + j) % 3]
                shapes = {
                    "all": f"{opening} {phrase} {day} {at}",
                    "service": f"{opening} {phrase}",
                    "service+day": f"{opening} {phrase} {day}",
                    "bare": BARE[lang],
                }
                shape = list(shapes)[j % 4]
                goal = {"first": shapes[shape], "service": phrase, "day": day, "time": at}
                tasks.append(Task("booking", f"{lang} {code} {shape}: {goal['first']}", lang, goal))
        for opening, n in itertools.product(ORDER_OPENINGS[lang], ("A1001", "A1004", "A1007")):
            first = opening.format(n=n)
            tasks.append(Task("order_status", f"{lang} {first}", lang, {"first": first, "n": n}))
        for question, expect in FAQ[lang]:
            tasks.append(
                Task("faq", f"{lang} {question}", lang, {"first": question, "want": expect})
            )
        for mode, phrases in MANAGE[lang].items():
            for first in phrases:
                # each customer's visit at an hour of its own (Monday 16.03, 10:00-17:00)
                at = f"2026-03-16 {10 + sum(t.kind in MANAGE['en'] for t in tasks)}:00"
                customer = {"bookings": [{"service": "cleaning", "at": at}]}
                goal = {"first": first, "mode": mode, "day": DAYS[lang][1], "time": TIMES[lang][1]}
                tasks.append(Task(mode, f"{lang} {first}", lang, goal, customer))
    return tasks


async def simulate(conversation: Conversation, task: Task) -> Outcome:
    """Play the customer of `task` until it is done, escalated, or MAX_TURNS went by."""
    goal, lang = task.goal, task.language
    said_time = task.kind == "booking" and goal["time"] in goal["first"]
    reply = await conversation.send("c", {"say": goal["first"]})
    for _ in range(MAX_TURNS):
        session = await conversation.session("c")
        if session.handoff:
            return _outcome(conversation, task, done=False, handoff=True)
        if session.flow is None:
            return _outcome(conversation, task, done=await _done(conversation, task, reply.text))
        step = session.step
        if step == "service":
            message: dict[str, Any] = {"say": goal["service"]}
        elif step == "date":
            message = {"say": f"{goal['day']} {goal['time']}"}
            said_time = True
        elif step == "time":
            message = {"tap": 1} if said_time and reply.buttons else {"say": goal["time"]}
            said_time = True
        elif step == "name":
            message = {"say": NAMES[lang]}
        elif step == "phone":
            message = {"say": "+380501234567"}
        elif step == "confirm":
            message = {"say": YES[lang]}
        elif step == "ask_number":
            message = {"say": goal.get("n", "A1001")}
        else:
            message = {"tap": 1} if reply.buttons else {"say": YES[lang]}
        reply = await conversation.send("c", message)
    return _outcome(conversation, task, done=False, error="too many turns")


async def _done(conversation: Conversation, task: Task, last_text: str) -> bool:
    bookings = await conversation.bookings("c")
    if task.kind == "booking":
        return len(bookings) == 1
    if task.kind == "cancel":
        return not bookings
    if task.kind == "reschedule":
        return len(bookings) == 1 and bookings[0].starts_at.day == 13  # moved to Friday 13.03
    if task.kind == "order_status":
        return task.goal["n"] in last_text
    return str(task.goal["want"]) in last_text


def _outcome(
    c: Conversation, task: Task, *, done: bool, handoff: bool = False, error: str | None = None
) -> Outcome:
    return Outcome(task.kind, task.label, done, handoff, c.turns_sent["c"], error)


async def run_scripts(settings_for: Any) -> list[Outcome]:
    out = []
    for script in load_scripts():
        designed_handoff = _expects_handoff(script)
        async with running_app(settings_for(script.doc.get("settings") or {})) as client:
            conversation = Conversation(client, script)
            error = None
            try:
                await conversation.setup()
                await conversation.run()
            except ScriptFailure as e:
                error = str(e)
            handoff = False
            for alias in script.customers:
                with contextlib.suppress(ScriptFailure):
                    handoff = handoff or bool((await conversation.session(alias)).handoff)
        kind = "escalation script" if designed_handoff else "script"
        turns = sum(conversation.turns_sent.values())
        out.append(Outcome(kind, script.path.stem, error is None, handoff, turns, error))
    return out


def _expects_handoff(script: Script) -> bool:
    last = script.turns[-1].get("state") or {}
    return last.get("handoff") == "pending"


async def run_variations(settings: Settings) -> list[Outcome]:
    out = []
    async with running_app(settings) as client:
        for task in variations():
            script = Script(task.label, Path(task.kind), {"c": dict(task.customer)}, [{}])
            conversation = Conversation(client, script)
            await conversation.setup()
            try:
                out.append(await simulate(conversation, task))
            except ScriptFailure as e:
                out.append(Outcome(task.kind, task.label, False, False, 0, str(e)))
    return out


def summarise(outcomes: list[Outcome]) -> dict[str, Any]:
    tasks = [o for o in outcomes if o.kind != "escalation script"]
    done = [o for o in tasks if o.done and not o.handoff]
    by_kind: dict[str, dict[str, Any]] = {}
    for kind in sorted({o.kind for o in outcomes}):
        group = [o for o in outcomes if o.kind == kind]
        ok = [o for o in group if o.done and not o.handoff]
        by_kind[kind] = {
            "tasks": len(group),
            "passed": sum(o.done for o in group),  # every expectation held (scripts)
            "completed_without_handoff": len(ok),
            "handoffs": sum(o.handoff for o in group),
            "share": round(len(ok) / len(group), 4),
            "avg_turns": round(sum(o.turns for o in group) / len(group), 2),
        }
    return {
        "tasks": len(tasks),
        "completed_without_handoff": len(done),
        "share_completed_without_handoff": round(len(done) / max(1, len(tasks)), 4),
        "avg_turns_per_task": round(sum(o.turns for o in tasks) / max(1, len(tasks)), 2),
        "avg_turns_per_completed_task": round(sum(o.turns for o in done) / max(1, len(done)), 2),
        "by_kind": by_kind,
        "not_completed": [
            {"kind": o.kind, "task": o.label, "handoff": o.handoff, "error": o.error}
            for o in outcomes
            if not (o.done and not o.handoff) and o.kind != "escalation script"
        ],
        "escalation_scripts_as_designed": sum(
            o.done for o in outcomes if o.kind == "escalation script"
        ),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-tasks-"))
    try:
        model = Path(args.model) if args.model else work / "nlu.model"
        if not model.exists():
            from nlu import train_model

            train_model(None, model)
        template = work / "template.db"
        await asyncio.to_thread(upgrade, f"sqlite+aiosqlite:///{template}")

        def settings_for(overrides: dict[str, Any]) -> Settings:
            path = work / f"{uuid.uuid4().hex[:8]}.db"
            shutil.copyfile(template, path)
            values: dict[str, Any] = {
                "database_url": f"sqlite+aiosqlite:///{path}",
                "nlu_model": model,
                "nlu_review_log": None,
                "rest_reply_timeout": 30.0,
                "default_language": "en",
                "clock_start": FROZEN_NOW,
                **overrides,
            }
            return Settings(_env_file=None, **values)  # type: ignore[call-arg]

        started = time.perf_counter()
        outcomes = await run_scripts(settings_for) if not args.variations_only else []
        outcomes += await run_variations(settings_for({}))
        report = summarise(outcomes)
        report["seconds"] = round(time.perf_counter() - started, 1)
        return report
    finally:
        shutil.rmtree(work, ignore_errors=True)


def print_table(report: dict[str, Any]) -> None:
    print(
        f"{'kind':<20} {'tasks':>6} {'passed':>7} {'no-handoff':>11} {'share':>7} "
        f"{'handoffs':>9} {'turns':>6}"
    )
    for kind, row in report["by_kind"].items():
        print(
            f"{kind:<20} {row['tasks']:>6} {row['passed']:>7} "
            f"{row['completed_without_handoff']:>11} "
            f"{row['share']:>7.1%} {row['handoffs']:>9} {row['avg_turns']:>6}"
        )
    print(
        f"\nall tasks: {report['tasks']}, completed without a handoff: "
        f"{report['share_completed_without_handoff']:.1%}, "
        f"average turns per task: {report['avg_turns_per_task']}"
    )
    for miss in report["not_completed"]:
        print(f"  not completed: [{miss['kind']}] {miss['task']} {miss['error'] or ''}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None, help="an NLU model file (default: train one)")
    parser.add_argument("--out", default=None)
    parser.add_argument("--variations-only", action="store_true")
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    print_table(report)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
