"""Task success: every conversation script plus generated variations, in-process, through the
real pipeline (REST channel, embedded mode, clock pinned like the tests: Tuesday 10.03.2026).

    python tests/benchmarks/bench_tasks.py --out bench-results/tasks.json     (make bench-tasks)

A *task* is one thing a customer came to do: book, move or cancel a visit, check an order, ask
a question. The conversation scripts (tests/conversations/scripts) are one row of their own;
those written to end in a handoff are reported apart ("escalation scripts").

The generated variations are meant to be honest: the opening request of every task is an
example of the bundled **held-out** NLU split (nlu/data/test/*.yml, never trained on), with its
entity annotations filled with the demo business's services, order numbers and dates; the slots
come in a random order (all up front, partly, or asked one by one); both languages; casing and
typo noise; and a simulated customer answers each question of the bot from a pool of realistic
answers (confirmations from the held-out ``affirm`` examples), taps an offered button when the
wanted time is taken, rephrases (another held-out example) when the bot drops the request, and
corrects a wrong summary. Everything is drawn from one seeded generator, so a run is repeatable.

A task is completed when the business state shows it (the booking exists for the wanted service
at the wanted or the accepted time; the visit is cancelled or moved; the order's number and
status, or the FAQ fact, are in a reply) without a handoff within 12 customer messages. The
simulator reads the session's step to know what was asked: it understands the bot perfectly, so
the figure measures the bot's understanding of the customer, not the other way round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bots.config import Settings  # noqa: E402
from storage.db import upgrade  # noqa: E402
from tests.benchmarks.tasks.generation import heldout, tasks  # noqa: E402
from tests.benchmarks.tasks.judging import run_scripts, run_variations  # noqa: E402
from tests.benchmarks.tasks.phrases import (  # noqa: E402
    AFFIRM,
    HELDOUT,
    LANGUAGES,
    MAX_TURNS,
    NOISE,
    SEED,
    TRANSCRIPTS,
)
from tests.benchmarks.tasks.report import machine, print_table, summarise  # noqa: E402
from tests.conversations.runner import FROZEN_NOW  # noqa: E402


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    data = heldout()
    HELDOUT.update(data)
    for lang in LANGUAGES:  # confirmations: the held-out affirm examples, and a plain yes
        AFFIRM[lang] = [*data[lang]["affirm"], "yes" if lang == "en" else "так"]
    per_example = {"booking": 4, "reschedule": 2, "cancel": 2, "order_status": 2, "faq": 1}
    per_example["booking"] = args.booking_per_example
    generated = tasks(args.seed, per_example)
    if args.limit:
        generated = random.Random(args.seed).sample(generated, min(args.limit, len(generated)))
    work = Path(tempfile.mkdtemp(prefix="bench-tasks-"))
    try:
        model = Path(args.model) if args.model else work / "nlu.model"
        if not model.exists():
            from nlu import train_model

            train_model(None, model)  # the bundled train split only
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
        outcomes = [] if args.variations_only else await run_scripts(settings_for)
        if not args.scripts_only:
            outcomes += await run_variations(settings_for({}), generated)
        report = summarise(outcomes, args.transcripts)
        report["seconds"] = round(time.perf_counter() - started, 1)
        report["command"] = " ".join(["python", *sys.argv])
        report["machine"] = machine()
        report["seed"] = args.seed
        report["method"] = (
            "openings: held-out NLU test split (nlu/data/test), entities filled with the demo "
            "business's services, order numbers and dates; slots up front, partly or one by "
            f"one; {NOISE:.0%} of messages with casing or a typo; answers from fixed pools; "
            f"at most {MAX_TURNS} customer messages per task"
        )
        return report
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=None, help="an NLU model file (default: train one)")
    parser.add_argument("--out", default=None, help="write the JSON report here")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--booking-per-example", type=int, default=4)
    parser.add_argument("--limit", type=int, default=0, help="a random sample of the tasks")
    parser.add_argument(
        "--transcripts", type=int, default=TRANSCRIPTS, help="failed tasks' transcripts kept"
    )
    parser.add_argument("--variations-only", action="store_true")
    parser.add_argument("--scripts-only", action="store_true")
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    print_table(report)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
