"""Fixtures of the conversation scripts: the bundled NLU model and throw-away databases are
shared with the end-to-end suite."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

from bots.config import Settings
from tests.bots.conftest import nlu_model_path, pg_e2e_url  # noqa: F401 (fixtures)
from tests.conversations.runner import FROZEN_NOW


def conversation_settings(
    request: pytest.FixtureRequest, mode: str, tmp_path: Path, model: Path, **overrides: Any
) -> Settings:
    """Settings of one script's app: embedded (SQLite copy + memory) or scale-out
    (PostgreSQL copy + Redis), the clock pinned to `FROZEN_NOW`."""
    if mode == "embedded":
        path = tmp_path / "omnirelay.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        database_url, redis_url = f"sqlite+aiosqlite:///{path}", None
    else:
        database_url = str(request.getfixturevalue("pg_e2e_url"))
        redis_url = str(request.getfixturevalue("redis_url"))
    values: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "redis_prefix": f"t{uuid.uuid4().hex[:10]}",
        "nlu_model": model,
        "nlu_review_log": None,
        "rest_reply_timeout": 20.0,
        "default_language": "en",
        "queue_lease_ms": 2000,
        "clock_start": FROZEN_NOW,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]
