"""`omnirelay privacy export <id>` and `omnirelay privacy erase <id>` (and the retention
action `bots.privacy.retention` adds).

``export`` prints the JSON document (or writes it to ``--out``); ``erase`` runs the customer's
erasure job to the end in this process (resuming their unfinished one, if any) and prints the
receipt; exit status 0 when done, 1 when a step failed (run it again to resume), 3 under legal
hold. With ``OMNIRELAY_REDIS_URL`` set the sessions and keys in Redis are erased too; without
it the in-memory backends belong to the running server, so erase through the admin API there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

from bots.config import Settings
from bots.messages import now_utc
from bots.privacy import retention
from bots.privacy.erasure import LegalHoldRefused, job_view
from bots.privacy.service import PrivacyService
from storage.backends import Backends, open_backends
from storage.db import Database
from storage.errors import NotFound

__all__ = ["add_parser", "main"]

log = logging.getLogger(__name__)

CLI_ACTOR = "cli"


def add_parser(sub: Any) -> None:
    """Register ``privacy`` on the `omnirelay` command's subparsers."""
    p = sub.add_parser("privacy", help="a customer's data: export, erase (and retention)")
    actions = p.add_subparsers(dest="action", required=True)
    export = actions.add_parser("export", help="print everything kept about a customer (JSON)")
    export.add_argument("customer_id", type=int)
    export.add_argument("--out", type=Path, default=None, help="write to this file instead")
    erase = actions.add_parser("erase", help="erase a customer everywhere; prints the receipt")
    erase.add_argument("customer_id", type=int)
    retention.add_cli(actions)


def main(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "retention":
        return retention.cli_main(settings, args)
    return asyncio.run(_run(settings, args))


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    db = Database(settings.database_url)
    backends: Backends | None = None
    try:
        if args.action == "erase" and settings.redis_url:
            backends = await open_backends(
                settings.redis_url,
                keys_prefix=settings.redis_prefix,
                lock_lease_ms=settings.lock_lease_ms or settings.queue_lease_ms,  # as the app's
            )
        service = PrivacyService(settings, lambda: (db, backends), now_utc)
        if args.action == "export":
            return await _export(service, args.customer_id, args.out)
        return await _erase(service, args.customer_id)
    except NotFound as e:
        log.error("%s", e)
        return 2
    finally:
        if backends is not None:
            await backends.close()
        await db.dispose()


async def _export(service: PrivacyService, customer_id: int, out: Path | None) -> int:
    doc = await service.export(customer_id, CLI_ACTOR)
    text = json.dumps(doc, ensure_ascii=False, indent=1)
    if out is None:
        sys.stdout.write(text + "\n")
    else:
        await asyncio.to_thread(out.write_text, text + "\n", encoding="utf-8")
    return 0


async def _erase(service: PrivacyService, customer_id: int) -> int:
    try:
        job = await service.request_erasure(customer_id, CLI_ACTOR)
    except LegalHoldRefused as e:
        log.error("%s", e)
        return 3
    job = await service.run(job.id)
    sys.stdout.write(json.dumps(job_view(job), ensure_ascii=False, indent=1) + "\n")
    return 0 if job.state == "done" else 1
