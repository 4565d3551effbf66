"""A proactive scheduler in a process of its own, for the tests that kill or stop one:
`python -m tests.proactive.scheduler_proc '<json>'`.

The JSON gives the database URL, the fake platforms' addresses, the bot clock's start, the
claim lease and a directory for signals. After each claim the process writes
``claimed-<pid>`` (the job ids) and waits until a file ``go`` appears there: the test kills or
stops it at exactly that point, between the claim and the decision's commit. After each round
it writes ``status-<pid>.json`` (rounds done, decisions taken by this process).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from bots.channels.registry import build_channels
from bots.config import Settings
from bots.flows.clock import Clock
from bots.metrics import Metrics
from bots.proactive import load_scenarios
from bots.proactive.scheduler import Scheduler
from bots.worker.outbox import Outbox
from storage.db import Database
from storage.mailbox import ReplyMailbox


def _no_mailbox() -> ReplyMailbox:
    raise RuntimeError("this process serves no REST requests")


async def main(config: dict[str, Any]) -> None:
    signals = Path(config["signals"])
    pid = os.getpid()
    settings = Settings(_env_file=None, **config["settings"])  # type: ignore[call-arg]
    clock = Clock(dt.datetime.fromisoformat(config["clock"]))
    db = Database(settings.database_url)
    channels = build_channels(settings, mailbox=_no_mailbox, register_webhooks=False, clock=clock)
    for channel in channels.values():
        await channel.start()

    async def after_claim(ids: list[int]) -> None:
        (signals / f"claimed-{pid}").write_text(json.dumps(ids))
        while not (signals / "go").exists():  # noqa: ASYNC110 (a file the test writes)
            await asyncio.sleep(0.01)

    scheduler = Scheduler(
        db=db,
        scenarios=load_scenarios(),
        outbox=Outbox(db, channels, Metrics()),
        clock=clock,
        channels=tuple(channels),
        timezone=settings.timezone,
        default_language="en",
        lease=float(config["lease"]),
        after_claim=after_claim,
    )
    rounds = 0
    while True:
        await scheduler.tick()
        rounds += 1
        status = {"rounds": rounds, "decided": scheduler.decided}
        (signals / f"status-{pid}.json").write_text(json.dumps(status))
        await asyncio.sleep(0.05)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    asyncio.run(main(json.loads(sys.argv[1])))
