"""Open the configured NLU backend: the built-in model (hot-reloaded) or a Rasa server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from bots.config import Settings

if TYPE_CHECKING:
    from nlu import NluModel

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def open_nlu(settings: Settings) -> AsyncIterator[NluModel]:
    """The model the worker parses with (`nlu.NluModel`), closed on exit."""
    if settings.nlu_backend == "rasa":
        from nlu import RasaHttpModel

        if not settings.rasa_url:
            raise ValueError("OMNIRELAY_NLU_BACKEND=rasa needs OMNIRELAY_RASA_URL")
        client = RasaHttpModel(settings.rasa_url, timeout=settings.rasa_timeout)
        try:
            yield client
        finally:
            await client.close()
        return

    from nlu import HotReloadingModel

    path = Path(settings.nlu_model)
    if not await asyncio.to_thread(path.exists):
        raise FileNotFoundError(
            f"NLU model {path} not found: train it with `omnirelay nlu train --out {path}` "
            "(`make run` does this on first start)"
        )
    model = await asyncio.to_thread(lambda: HotReloadingModel(path))
    log.info("NLU model loaded from %s", path)
    yield model


def ensure_model(settings: Settings) -> Path:
    """Train the bundled model if the configured file is missing (first `omnirelay run`)."""
    path = Path(settings.nlu_model)
    if settings.nlu_backend == "builtin" and not path.exists():
        from nlu import train_model

        log.info("no NLU model at %s: training one on the bundled data", path)
        path.parent.mkdir(parents=True, exist_ok=True)
        train_model(None, path, progress=lambda line: log.info("nlu: %s", line))
    return path
