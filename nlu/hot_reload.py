"""A model that follows its file: workers pick up a newly trained model without a restart."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from nlu.errors import ModelLoadError
from nlu.model import BuiltinModel, load_model
from nlu.types import ParseResult

log = logging.getLogger(__name__)
Signature = tuple[int, int]


def _signature(path: Path) -> Signature | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class HotReloadingModel:
    """Wraps a model file path; on ``parse`` checks the file at most every ``check_interval`` s.

    A changed file is loaded in a thread executor and swapped in atomically; a broken new file is
    logged and the current model kept (it is retried when the file changes again).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        model: BuiltinModel | None = None,
        check_interval: float = 5.0,
        fallback_threshold: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.check_interval = check_interval
        self._clock = clock
        self._sig = _signature(self.path)
        self._sha = _file_sha(self.path) if self._sig else ""
        self.fallback_threshold = fallback_threshold
        self._model = model if model is not None else load_model(self.path)
        self._model.fallback_threshold = fallback_threshold
        self._next_check = clock() + check_interval
        self._lock = asyncio.Lock()
        self.reloads = 0

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        check_interval: float = 5.0,
        fallback_threshold: float | None = None,
    ) -> HotReloadingModel:
        """Load the first model in an executor (no blocking of the event loop)."""
        model = await asyncio.get_running_loop().run_in_executor(None, load_model, Path(path))
        return cls(
            path, model=model, check_interval=check_interval, fallback_threshold=fallback_threshold
        )

    @property
    def model(self) -> BuiltinModel:
        """The model currently answering."""
        return self._model

    def info(self) -> dict[str, Any]:
        """The current model's metadata plus the file path and reload count."""
        return {**self._model.info(), "path": str(self.path), "reloads": self.reloads}

    async def parse(
        self,
        text: str,
        *,
        language: str | None = None,
        now: datetime | None = None,
        tz: str | None = None,
    ) -> ParseResult:
        """Parse with the current model, first reloading it if the file changed."""
        if self._clock() >= self._next_check:
            await self.reload_if_changed()
        return await self._model.parse(text, language=language, now=now, tz=tz)

    async def reload_if_changed(self) -> bool:
        """Check the file now; return True when a new model was swapped in."""
        if self._lock.locked():
            return False  # another task is already reloading
        async with self._lock:
            self._next_check = self._clock() + self.check_interval
            sig = _signature(self.path)
            if sig is None or sig == self._sig:
                return False
            loop = asyncio.get_running_loop()
            try:
                sha = await loop.run_in_executor(None, _file_sha, self.path)
                if sha == self._sha:
                    self._sig = sig
                    return False
                new = await loop.run_in_executor(None, load_model, self.path)
            except (ModelLoadError, OSError) as e:
                log.warning("keeping the current NLU model; new file rejected: %s", e)
                self._sig = sig
                return False
            new.fallback_threshold = self.fallback_threshold
            self._model, self._sig, self._sha = new, sig, sha
            self.reloads += 1
            log.info("NLU model reloaded from %s (data %s)", self.path, new.meta.get("data_hash"))
            return True
