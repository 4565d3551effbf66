"""The NLU branch of omnirelay's exception family."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class NluError(Exception):
    """Base class of every error raised by the ``nlu`` package."""


class DataError(NluError):
    """Training data that cannot be used, located by file and (1-based) line."""

    def __init__(self, message: str, *, file: str | Path | None = None, line: int | None = None):
        self.reason = message
        self.file = str(file) if file is not None else None
        self.line = line
        where = ""
        if self.file is not None:
            where = self.file if line is None else f"{self.file}:{line}"
            where += ": "
        super().__init__(f"{where}{message}")


@contextmanager
def collecting(errors: list[DataError] | None) -> Iterator[None]:
    """Around one piece of data (a file, a block, an example): a `DataError` inside is raised
    when ``errors`` is None, otherwise added to it and that piece skipped, so one run of
    ``omnirelay nlu validate`` reports every broken piece instead of the first."""
    try:
        yield
    except DataError as e:
        if errors is None:
            raise
        errors.append(e)


class ModelLoadError(NluError):
    """A model file that is missing, corrupted or built by an incompatible version."""


class NluUnavailable(NluError):
    """The NLU backend (for example a remote Rasa server) cannot answer right now."""
