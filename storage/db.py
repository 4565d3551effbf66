"""The relational database: async engine and sessions, readiness ping, migrations."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from storage import fences
from storage.errors import BackendUnavailable

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["DEFAULT_DATABASE_URL", "Database", "alembic_config", "upgrade"]

T = TypeVar("T")

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./omnirelay.db"
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class Database:
    """An async engine plus session factory for one database URL.

    Use ``async with db.session() as s`` for reads (caller commits) and
    ``async with db.transaction() as s`` for a unit of work committed on success.
    """

    def __init__(self, url: str, *, echo: bool = False, **engine_kwargs: Any) -> None:
        self.url = url
        # Overflow connections are closed when returned; for aiosqlite each new connection is
        # a new thread plus pragmas, so keep a fixed pool that callers wait on instead.
        if url.startswith("sqlite") and ":memory:" not in url:
            engine_kwargs.setdefault("pool_size", 8)
            engine_kwargs.setdefault("max_overflow", 0)
        elif url.startswith("postgresql"):
            engine_kwargs.setdefault("pool_size", 20)
            engine_kwargs.setdefault("max_overflow", 10)
        self.engine: AsyncEngine = create_async_engine(url, echo=echo, **engine_kwargs)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # Read units (`run` with ``write=False``) on PostgreSQL: one statement each on its own
        # (autocommit: no BEGIN and ROLLBACK round trips around it), or, with ``snapshot``, in a
        # read-only REPEATABLE READ transaction whose statements all see one state. The
        # connection's setting is client-side on asyncpg (no round trip) and reset on return.
        self._reads = self._snapshots = self._sessions
        if self.engine.dialect.name == "postgresql":
            autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            self._reads = async_sessionmaker(autocommit, expire_on_commit=False)
            one_state = self.engine.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            self._snapshots = async_sessionmaker(one_state, expire_on_commit=False)
        # SQLite has one writer at a time, and a transaction that reads first and writes later
        # fails with "database is locked" instead of waiting when another writer got there
        # first. In-process, writers queue on this lock instead (no busy-wait sleeps either).
        self._write_lock: asyncio.Lock | None = (
            asyncio.Lock() if self.engine.dialect.name == "sqlite" else None
        )
        self._sync: _SyncSqlite | None = (
            _SyncSqlite(url) if self._write_lock is not None and ":memory:" not in url else None
        )

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session; nothing is committed unless the caller commits."""
        async with self._sessions() as s:
            yield s

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside a transaction: committed on success, rolled back on error.

        Inside a fenced turn (`storage.fences.fenced`) it first checks that the turn's lease is
        still current and raises `FenceLost` (nothing written) when it is not.
        """
        if self._write_lock is None:
            async with self._sessions() as s, s.begin():
                await fences.check(s)
                yield s
            return
        async with self._write_lock, self._sessions() as s, s.begin():
            await fences.check(s)
            yield s

    async def run(
        self, work: Callable[[Session], T], *, write: bool = True, snapshot: bool = False
    ) -> T:
        """Run ``work(session)`` (plain synchronous SQLAlchemy code) as one unit of work:
        committed on success (``write``), or a read, whose writes (if any) never persist.

        A read's statements each see the database as it is when they run, without a
        transaction around them on PostgreSQL (a one-statement read is one round trip, not
        three). A read whose statements must agree with each other (or that streams rows with
        ``yield_per``) passes ``snapshot=True``: one read-only REPEATABLE READ transaction on
        PostgreSQL, one deferred transaction (one WAL snapshot) on SQLite.

        On SQLite the whole unit runs in one hop on a dedicated thread with a synchronous
        connection, instead of one aiosqlite thread hop per statement; writes queue on the
        same lock as `transaction`. On PostgreSQL it runs in an async session (`run_sync`).
        """
        if not write and snapshot and self.dialect == "sqlite":
            work = _begun(work)
        if self._sync is None:
            if not write:
                async with (self._snapshots if snapshot else self._reads)() as s:
                    return await s.run_sync(work)
            async with self._sessions() as s, s.begin():
                return await s.run_sync(work)
        loop = asyncio.get_running_loop()
        if not write:
            return await loop.run_in_executor(self._sync.readers, self._sync.read, work)
        assert self._write_lock is not None
        async with self._write_lock:
            return await loop.run_in_executor(self._sync.writer, self._sync.write, work)

    async def ping(self) -> None:
        """Run ``SELECT 1``; raises `BackendUnavailable` when the database is unreachable."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (OperationalError, DBAPIError, OSError) as e:
            raise BackendUnavailable(f"database unreachable: {e}") from e

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
        if self._sync is not None:
            self._sync.close()


class _SyncSqlite:
    """A synchronous engine on the same SQLite file: one writer thread, two reader threads."""

    def __init__(self, url: str) -> None:
        sync_url = make_url(url).set(drivername="sqlite+pysqlite")
        self.engine: Engine = create_engine(sync_url, pool_size=4, max_overflow=0)
        event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self.readers = ThreadPoolExecutor(2, thread_name_prefix="sqlite-reader")

    def read(self, work: Callable[[Session], T]) -> T:
        # pysqlite begins a transaction only before a write: each SELECT sees the newest state
        with self.sessions() as s:
            return work(s)

    def write(self, work: Callable[[Session], T]) -> T:
        with self.sessions() as s, s.begin():
            return work(s)

    def close(self) -> None:
        self.writer.shutdown(wait=True)
        self.readers.shutdown(wait=True)
        self.engine.dispose()


def _begun(work: Callable[[Session], T]) -> Callable[[Session], T]:
    """``work`` in an explicit (deferred) SQLite transaction: its first read fixes the WAL
    snapshot that the unit's later reads see too (the driver begins one only before a write)."""

    def begun(s: Session) -> T:
        s.connection().exec_driver_sql("BEGIN")
        return work(s)

    return begun


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL survives a crash of the process (what the outbox relies on) and skips
    # an fsync per commit; only an OS crash or power loss can drop the last commits.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # what is deleted or overwritten (an erasure, a retention run) is zeroed on disk, not left
    # in free pages
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def alembic_config(url: str) -> Config:
    """An Alembic `Config` aimed at ``url`` and the migrations shipped inside this package."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    # ConfigParser interpolation: a literal % in a URL (escaped password) must be doubled.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Run ``alembic upgrade <revision>`` on ``url``.

    Blocking, and it runs its own event loop: from async code call it via `asyncio.to_thread`.
    """
    from alembic import command

    try:
        command.upgrade(alembic_config(url), revision)
    except (OperationalError, OSError) as e:
        raise BackendUnavailable(f"cannot migrate database: {e}") from e
