"""The append-only audit log (issue 16): who viewed, exported, erased, merged, logged in.

One `AuditEntry` per fact, in the ``audit_log`` table. Two ways to write one:

- `record_audit` adds the row to the caller's session, so it commits (or rolls back) with the
  fact it records (a merge, an erasure, an agent change);
- `audit` writes it in a transaction of its own, for facts that change nothing else (a view,
  a login). Call it after the caller's own transaction is closed (on SQLite writers queue on
  one lock).

An entry holds ids and action details, never a customer's phone, name, e-mail or message text:
`record_audit` refuses a ``detail`` with such keys or values (`AuditDetailRefused`), so an
erasure never has to touch the log.

Append-only: this module has no update path, and the only delete path is
`purge_audit_before` (the retention job's: rows older than a cutoff). On PostgreSQL a trigger
(migration 0010) refuses every UPDATE, DELETE and TRUNCATE of ``audit_log`` unless the
transaction set ``omnirelay.audit_purge`` to ``on``, which only `purge_audit_before` does; on
SQLite a trigger refuses UPDATE.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any, Required, TypedDict, Unpack

from sqlalchemy import Index, String, delete, func, select, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, BigId, utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from storage.db import Database

__all__ = [
    "ACTIONS",
    "AuditDetailRefused",
    "AuditEntry",
    "audit",
    "list_audit",
    "purge_audit_before",
    "record_audit",
]

#: The actions the helpers of issue 16 record (others are accepted, these are documented).
ACTIONS = (
    "login.succeeded",
    "login.failed",
    "login.locked",
    "session.revoked",
    "agent.created",
    "agent.changed",
    "transcript.viewed",
    "customer.viewed",
    "customer.exported",
    "customer.erased",
    "customer.merged",
    "merge.undone",
    "legal_hold.set",
    "legal_hold.cleared",
    "retention.purged",
    "retention.dry_run",
)

# keys a detail must not carry: they would hold personal data
_PERSONAL_KEYS = frozenset(
    {
        "phone",
        "phones",
        "name",
        "names",
        "first_name",
        "last_name",
        "full_name",
        "display_name",
        "username",
        "email",
        "e_mail",
        "text",
        "texts",
        "body",
        "message",
        "messages",
        "note",
        "notes",
        "transcript",
        "address",
    }
)
_PHONE = re.compile(r"\+?\d[\d ()-]{6,}\d")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# dates and times are not phones: taken out before the phone check
_ISO_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?"
)
_MAX_STRING = 200


class AuditDetailRefused(ValueError):
    """An audit ``detail`` that would store personal data (or free text) was refused."""


class AuditEntry(Base):
    """One audited fact: who (``actor``, ``role``) did what (``action``) to what (``target``)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index(None, "at"),
        Index(None, "action", "id"),
        Index(None, "actor", "id"),
        Index(None, "target_type", "target_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(100))  # "agent:12", "admin-token", "system"...
    role: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str | None] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(100))
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None]

    def as_dict(self) -> dict[str, Any]:
        """The entry as JSON-ready values (``at`` in ISO 8601)."""
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "role": self.role,
            "action": self.action,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "ip": self.ip,
            "detail": self.detail or {},
        }


def check_detail(detail: dict[str, Any] | None) -> dict[str, Any] | None:
    """``detail`` unchanged when it holds only ids and short non-personal values.

    Raises `AuditDetailRefused` for a personal key (phone, name, text...), a phone- or
    e-mail-like string, a string over 200 characters, or a value that is not a scalar or a
    list of scalars.
    """
    if detail is None:
        return None
    for key, value in detail.items():
        if str(key).lower() in _PERSONAL_KEYS:
            raise AuditDetailRefused(f"audit detail key {key!r} would hold personal data")
        for item in value if isinstance(value, list | tuple) else [value]:
            _check_value(str(key), item)
    return detail


def _check_value(key: str, value: object) -> None:
    if value is None or isinstance(value, bool | int | float):
        return
    if not isinstance(value, str):
        raise AuditDetailRefused(f"audit detail {key!r}: only scalars or lists of scalars")
    if len(value) > _MAX_STRING or _PHONE.search(_ISO_TIME.sub(" ", value)) or _EMAIL.search(value):
        raise AuditDetailRefused(f"audit detail {key!r} looks like personal data or free text")


async def record_audit(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    role: str | None = None,
    target_type: str | None = None,
    target_id: str | int | None = None,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Add one entry to ``session`` (the caller commits it with the fact it records)."""
    session.add(
        AuditEntry(
            at=at or utcnow(),
            actor=actor[:100],
            role=role,
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            ip=None if ip is None else ip[:64],
            detail=check_detail(detail),
        )
    )


class AuditFields(TypedDict, total=False):
    """The keyword arguments of `audit` (those of `record_audit`)."""

    actor: Required[str]
    action: Required[str]
    role: str | None
    target_type: str | None
    target_id: str | int | None
    ip: str | None
    detail: dict[str, Any] | None
    at: dt.datetime | None


async def audit(db: Database, **fields: Unpack[AuditFields]) -> None:
    """Write one entry in a transaction of its own (views, logins); `record_audit`'s keywords."""
    async with db.transaction() as session:
        await record_audit(session, **fields)


async def list_audit(
    session: AsyncSession,
    *,
    action: str | None = None,
    actor: str | None = None,
    target_type: str | None = None,
    target_id: str | int | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[AuditEntry]:
    """Entries newest first (by id), filtered; ``before_id`` is the cursor of the next page.

    ``since`` is inclusive, ``until`` exclusive.
    """
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    for column, value in (
        (AuditEntry.action, action),
        (AuditEntry.actor, actor),
        (AuditEntry.target_type, target_type),
        (AuditEntry.target_id, None if target_id is None else str(target_id)),
    ):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list((await session.scalars(query)).all())


async def purge_audit_before(session: AsyncSession, cutoff: dt.datetime) -> int:
    """Delete the entries older than ``cutoff``; the number deleted. The caller commits.

    The only delete path of the audit log, for the retention job. On PostgreSQL it allows the
    append-only trigger's DELETE for this statement only (a transaction-local setting, switched
    back off right after).
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        await session.execute(text("SELECT set_config('omnirelay.audit_purge', 'on', true)"))
    result = await session.execute(
        delete(AuditEntry).where(AuditEntry.at < cutoff),
        execution_options={"synchronize_session": False},
    )
    if postgres:
        await session.execute(text("SELECT set_config('omnirelay.audit_purge', 'off', true)"))
    return int(getattr(result, "rowcount", 0) or 0)


async def count_audit(session: AsyncSession) -> int:
    """How many entries the log holds."""
    return int((await session.scalar(select(func.count()).select_from(AuditEntry))) or 0)
