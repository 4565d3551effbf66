"""Fixtures of the analytics suite: the handoff suite's app over the REST channel and the agent
API (`api`), on SQLite + memory and PostgreSQL + Redis."""

from tests.bots.conftest import (  # noqa: F401 (fixtures)
    database_url_for,
    fake_telegram,
    make_settings,
    mode,
    pg_e2e_url,
)
from tests.handoff.conftest import api, handoff_settings  # noqa: F401 (fixtures)
