"""Continuity across channels: over the cross-channel conversation scripts
(tests/conversations/cross_channel/scripts), the share where the second channel continued
without the customer repeating anything already given.

    python tests/benchmarks/bench_continuity.py --out bench-results/continuity.json

Every script runs in-process on the embedded backends (SQLite + memory), each turn through the
real, signed Telegram / Viber / Instagram webhook routes, with the bot's replies read from the
platforms' loopback fakes and the clock pinned as in the tests.

Definition (tests/conversations/cross_channel/continuity.py): a *switch* is a customer turn on
another channel than their previous one; what was *given* is every slot filled in the session
just before it (active flow, a flow suspended by linking, the saved profile's name and phone).
A script *continued* when, from each switch until the task ends or the next switch, no turn
left the bot asking for a given slot again (the session's step: booking service/date/time/
name/phone, reschedule date/time/visit, order number), and the script ran to its end. Scripts
whose switches carry nothing given do not count. Scripts marked `xfail` (known bugs) count like
any other: the figure is what a customer gets today.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
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
from tests.conversations.cross_channel.continuity import continuity  # noqa: E402
from tests.conversations.cross_channel.harness import (  # noqa: E402
    channel_settings,
    cross_scripts,
    open_fakes,
    play,
)
from tests.conversations.runner import FROZEN_NOW  # noqa: E402


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


async def run_all(model: Path, work: Path) -> list[dict[str, Any]]:
    template = work / "template.db"
    await asyncio.to_thread(upgrade, f"sqlite+aiosqlite:///{template}")
    rows: list[dict[str, Any]] = []
    for script in cross_scripts():
        path = work / f"{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(template, path)
        started = time.perf_counter()
        async with open_fakes() as fakes:
            values: dict[str, Any] = {
                "database_url": f"sqlite+aiosqlite:///{path}",
                "nlu_model": model,
                "nlu_review_log": None,
                "rest_reply_timeout": 30.0,
                "default_language": "en",
                "queue_lease_ms": 2000,
                "clock_start": FROZEN_NOW,
                **channel_settings(fakes),
                **(script.doc.get("settings") or {}),
            }
            settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
            conversation, failure = await play(settings, fakes, script)
        result = continuity(conversation.records, failed=failure is not None)
        rows.append(
            {
                "script": script.path.name,
                "name": script.name,
                "applies": result.applies,
                "continued": result.continued,
                "switches_with_something_given": result.switches,
                "repeats": result.repeats,
                "completed": failure is None,
                "failure": str(failure) if failure else None,
                "known_bug": script.doc.get("xfail"),
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
    return rows


def summarise(rows: list[dict[str, Any]], command: str) -> dict[str, Any]:
    applicable = [r for r in rows if r["applies"]]
    continued = [r for r in applicable if r["continued"]]
    return {
        "metric": "share of cross-channel scripts where the second channel continued without "
        "asking again for anything already given",
        "definition": (__doc__ or "").split("Definition", 1)[-1].strip(),
        "scripts": len(rows),
        "applicable": len(applicable),
        "continued": len(continued),
        "share_continued": round(len(continued) / len(applicable), 4) if applicable else None,
        "scripts_completed": sum(r["completed"] for r in rows),
        "per_script": rows,
        "command": command,
        "machine": machine(),
    }


def print_report(report: dict[str, Any]) -> None:
    print(f"{'script':<52} {'applies':>7} {'continued':>9} {'completed':>9}")
    for r in report["per_script"]:
        print(f"{r['script']:<52} {r['applies']!s:>7} {r['continued']!s:>9} {r['completed']!s:>9}")
        for repeat in r["repeats"]:
            print(f"    repeat: {repeat}")
        if r["failure"]:
            print(f"    stopped: {r['failure'][:200]}")
    share = report["share_continued"]
    shown = "n/a" if share is None else f"{share:.1%}"
    print(
        f"\ncontinuity: {report['continued']}/{report['applicable']} scripts with a channel "
        f"switch continued without repeating anything ({shown}); "
        f"{report['scripts_completed']}/{report['scripts']} scripts ran to their end"
    )
    print(f"command: {report['command']}")
    print(f"machine: {report['machine']}")


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-continuity-"))
    try:
        model = Path(args.model) if args.model else work / "nlu.model"
        if not model.exists():
            from nlu import train_model

            await asyncio.to_thread(train_model, None, model)
        rows = await run_all(model, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return summarise(rows, shlex.join([Path(sys.executable).name, *sys.argv]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--model", default=None, help="an NLU model file (default: train one)")
    parser.add_argument("--out", default=None, help="write the JSON report here")
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    print_report(report)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
