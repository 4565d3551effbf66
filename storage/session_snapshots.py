"""Rebuild a lost session from the transcript: every processed inbound message stores the
session as its turn saved it (``messages.session_snapshot``), so the newest one of a customer,
within the session TTL, is the session a Redis restart (or a crash of the embedded process)
took away.

Cost: one indexed read (``messages(customer_id, created_at)``) when a session is missing, that
is for a customer's first message and after a loss; nothing on the path of a stored session.
Saves made outside a turn (an agent closing a ticket, a merge of profiles) are not in the
transcript: after a loss the session is the one of the customer's last turn.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session as DbSession

from storage.db import Database
from storage.errors import BackendUnavailable
from storage.models import Message, utcnow
from storage.sessions import RecoveryLoader, Session

__all__ = ["snapshot_loader"]


def snapshot_loader(db: Database, ttl_seconds: float) -> RecoveryLoader:
    """A `RecoveryLoader` reading the newest session snapshot younger than ``ttl_seconds``."""
    ttl = dt.timedelta(seconds=ttl_seconds)

    async def load(customer_id: int) -> Session | None:
        def work(s: DbSession) -> Session | None:
            snapshot = s.execute(
                select(Message.session_snapshot)
                .where(
                    Message.customer_id == customer_id,
                    Message.created_at >= utcnow() - ttl,
                    Message.direction == "in",
                    Message.session_snapshot.is_not(None),
                )
                .order_by(Message.created_at.desc(), Message.id.desc())
                .limit(1)
            ).scalar()
            if not isinstance(snapshot, dict):
                return None
            # the snapshot of a profile merged into this one names the other customer
            return Session.from_dict({**snapshot, "customer_id": customer_id})

        try:
            return await db.run(work, write=False)
        except (SQLAlchemyError, OSError, TimeoutError) as e:
            raise BackendUnavailable(f"session snapshot read failed: {e}") from e

    return load
