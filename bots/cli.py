"""The `omnirelay` command."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from collections.abc import Sequence

from bots.config import Settings
from bots.log_masking import secrets_of
from bots.logs import setup_logging
from bots.privacy import cli as privacy_cli
from bots.privacy import retention
from handoff import cli as handoff_cli
from storage.analytics import cli as analytics_cli

log = logging.getLogger("omnirelay")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="omnirelay", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("run", "gateway + workers + web chat in one process (embedded defaults)"),
        ("gateway", "webhooks only; needs OMNIRELAY_REDIS_URL to reach the workers"),
        ("worker", "queue workers only (serves /healthz, /readyz, /metrics); needs Redis"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--host", default=None)
        p.add_argument(
            "--port",
            type=int,
            default=None,
            help="default: OMNIRELAY_WORKER_PORT (8081)"
            if name == "worker"
            else "default: OMNIRELAY_PORT (8080)",
        )
    db = sub.add_parser("db", help="database migrations")
    db.add_argument("action", choices=["upgrade"])
    demo = sub.add_parser("demo", help="demo business data")
    demo.add_argument("action", choices=["seed"])
    handoff_cli.add_parser(sub)
    analytics_cli.add_parser(sub)
    privacy_cli.add_parser(sub)  # export, erase, and retention (bots.privacy.retention)
    sub.add_parser("nlu", help="train, test, parse, validate and review NLU data", add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["nlu"]:
        from nlu.cli import main as nlu_main

        # the files the service reads and writes: one setting each, one default (bots.config)
        known = Settings()
        return nlu_main(args_list[1:], model=known.nlu_model, review_log=known.nlu_review_log)
    args = _parser().parse_args(args_list)
    settings = Settings()
    setup_logging(settings.log_level, settings.log_format, secrets_of(settings))
    if args.command == "db":
        return _db_upgrade(settings)
    if args.command == "demo":
        return asyncio.run(_demo_seed(settings))
    if args.command == "agent":
        return handoff_cli.main(settings.database_url, args)
    if args.command == "analytics":
        return analytics_cli.main(
            settings.database_url, args, settings.timezone, settings.analytics_fcr_days
        )
    if args.command == "privacy":
        return privacy_cli.main(settings, args)
    return _serve(settings, args.command, args.host, args.port)


def _db_upgrade(settings: Settings) -> int:
    from storage.db import upgrade

    upgrade(settings.database_url)
    log.info("database at %s is up to date", _safe_url(settings.database_url))
    return 0


async def _demo_seed(settings: Settings) -> int:
    from bots.demo import seed_demo
    from storage.db import Database

    db = Database(settings.database_url)
    try:
        added = await seed_demo(db)
    finally:
        await db.dispose()
    log.info("demo data: %d rows added (orders, services, staff, bookings)", added)
    return 0


def _serve(settings: Settings, role: str, host: str | None, port: int | None) -> int:
    from bots.app import create_app, freeze_heap
    from bots.keys import DRAIN
    from bots.nlu_setup import ensure_model
    from bots.shutdown import serve

    if role in ("gateway", "worker") and not settings.redis_url:
        log.error("`omnirelay %s` needs OMNIRELAY_REDIS_URL: the halves meet over Redis", role)
        return 2
    if role == "run" and settings.database_url.startswith("sqlite"):
        _db_upgrade(settings)
    if role in ("run", "worker"):
        from nlu import ModelLoadError

        try:
            ensure_model(settings)
        except (ModelLoadError, RuntimeError) as e:  # one clear line, no traceback
            log.error("%s", e)
            return 2
    if port is None:
        # a worker has a port of its own: the gateway's OMNIRELAY_PORT may be in the same env
        port = settings.worker_port if role == "worker" else settings.port
    host = host or settings.host
    if role == "run":
        from bots.gateway.simulator import wants_simulator

        # the simulator's sandbox URLs need the address this process will listen on
        settings = settings.model_copy(
            update={
                "host": host,
                "port": port,
                "simulator": wants_simulator(settings),
            }
        )
    from bots.proactive import ScenarioError

    try:
        app = create_app(settings, "all" if role == "run" else role)  # type: ignore[arg-type]
    except ScenarioError as e:  # OMNIRELAY_SCENARIOS: "file:line: what is wrong", nothing more
        log.error("%s", e)
        return 2
    if role in ("run", "worker"):  # one process at a time runs it (a lease in the database)
        app.cleanup_ctx.append(retention.retention_task)
    freeze_heap(app)  # this process runs this one app
    welcome = _welcome(settings, host, port) if role == "run" else None
    code = serve(app, host, port, app[DRAIN], welcome)
    # The process exits next. Python's last garbage collection at exit would walk the whole heap
    # (the NLU model's objects: seconds after "shutdown complete", on a supervisor's clock);
    # nothing left needs collecting, so it is spared that walk.
    gc.freeze()
    return code


def _welcome(settings: Settings, host: str, port: int) -> str:
    """Where to go once `omnirelay run` listens (the README's first screen, in one line)."""
    from handoff.dashboard import PATH as DASHBOARD

    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    chat = f"{base}/ to chat as a customer, " if settings.simulator else ""
    return (
        f"open {chat}{base}/console for agents (first: .venv/bin/omnirelay agent add NAME"
        f" --password SECRET), {base}{DASHBOARD} for the numbers"
    )


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    raise SystemExit(main())
