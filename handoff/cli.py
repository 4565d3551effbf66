"""`omnirelay agent add NAME [--skills a,b] [--languages uk,en] [--role R] [--password P]`."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from handoff.auth import create_agent
from handoff.errors import HandoffError
from handoff.models import ROLES
from storage.audit import audit
from storage.db import Database
from storage.errors import StorageError

__all__ = ["add_parser", "main"]


def _list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def add_parser(sub: Any) -> None:
    """Register the `agent` command on the `omnirelay` subparsers."""
    agent = sub.add_parser("agent", help="agents of the handoff console")
    actions = agent.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="create an agent and print its API token once")
    add.add_argument("name")
    add.add_argument("--skills", type=_list, default=[], help="queue topics: orders,bookings")
    add.add_argument("--languages", type=_list, default=["uk", "en"], help="uk,en")
    add.add_argument("--role", choices=ROLES, default="agent")
    add.add_argument("--max-tickets", type=int, default=3)
    add.add_argument("--password", default=None, help="console login password (optional)")


def main(database_url: str, args: argparse.Namespace) -> int:
    """Run `agent add` against ``database_url``; prints the token (the only time it is shown)."""
    try:
        token = asyncio.run(_add(database_url, args))
    except (HandoffError, StorageError) as e:
        print(f"error: {e}")
        return 1
    print(token)
    return 0


async def _add(url: str, args: argparse.Namespace) -> str:
    db = Database(url)
    try:
        agent, token = await create_agent(
            db,
            args.name,
            role=args.role,
            skills=args.skills,
            languages=args.languages,
            max_tickets=args.max_tickets,
            password=args.password,
        )
        detail = {
            "role": agent.role,
            "skills": list(agent.skills),
            "has_password": bool(args.password),
        }
        action, kind = "agent.created", "agent"
        await audit(
            db, actor="cli", action=action, target_type=kind, target_id=agent.id, detail=detail
        )
    finally:
        await db.dispose()
    return token
