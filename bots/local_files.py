"""Files one process keeps beside its SQLite database (`make run`'s ``omnirelay.db``): what
must outlive a restart but is no table (the web chat's cookie secret, the simulator's record of
replies). A database that is no file (``:memory:``, PostgreSQL) has no such place."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import make_url

__all__ = ["beside_database"]


def beside_database(database_url: str, suffix: str) -> Path | None:
    """``<database file><suffix>`` (``omnirelay.db`` -> ``omnirelay.db.webchat-secret``);
    None when the database is no file."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).with_name(Path(url.database).name + suffix)
