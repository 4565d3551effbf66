"""The web chat's cookie secret for one process that was given none: made once and kept in a
file beside its SQLite database (``omnirelay.db`` -> ``omnirelay.db.webchat-secret``, mode
0600), so that a restart of `make run` does not turn every visitor into a stranger (trial 3's
T9: the widget sat on "reconnecting…" with 401s and the visitor's bookings were out of reach).
Without a database file (``:memory:``, PostgreSQL without Redis) there is nowhere to keep it: a
secret per process, as before, with the start-up warning.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from bots.local_files import beside_database

__all__ = ["kept_secret", "secret_file"]

log = logging.getLogger(__name__)


def secret_file(database_url: str) -> Path | None:
    """Where the secret of an SQLite database file is kept; None without a file."""
    return beside_database(database_url, ".webchat-secret")


def kept_secret(database_url: str) -> bytes | None:
    """The kept secret (made now when there is none yet); None when it cannot be kept."""
    path = secret_file(database_url)
    if path is None:
        return None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    except OSError as e:
        log.warning("webchat: cannot keep a cookie secret in %s (%s)", path, e)
        return None
    token = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(token + "\n")
    log.info("webchat: made the visitors' cookie secret, kept in %s", path)
    return token.encode()


def _read(path: Path) -> bytes | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as e:
        log.warning("webchat: cannot read the cookie secret in %s (%s)", path, e)
        return None
    if len(text) < 32:
        log.warning("webchat: %s holds no cookie secret (delete it to make a new one)", path)
        return None
    return text.encode()
