"""Open the configured NLU backend: the built-in model (hot-reloaded) or a Rasa server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bots.config import Settings

if TYPE_CHECKING:
    from nlu import NluModel

log = logging.getLogger(__name__)

BUNDLED = "nlu/data/train"  # where the bundled training files lie in any checkout or install


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


def ensure_model(settings: Settings, train: Callable[[Path], None] | None = None) -> Path:
    """Make sure the configured model can be loaded before the service starts: train the
    bundled one if the file is missing (first `omnirelay run`) or was trained on the bundled
    data but cannot be loaded by this installation (an upgrade brought another sentence encoder
    or library version); any other model that cannot be loaded raises `nlu.ModelLoadError`
    (the user's own model is never overwritten). ``train``: how to train (default: in a
    subprocess, `python -m nlu.cli train`, so the service does not keep training's memory)."""
    path = Path(settings.nlu_model)
    if settings.nlu_backend != "builtin":
        return path
    if path.exists():
        stale = _unloadable(path)
        if stale is None:
            return path
        if not stale[1]:
            raise stale[0]
        log.warning("%s; it was trained on the bundled data: training it again", stale[0])
    else:
        log.info("no NLU model at %s: training one on the bundled data", path)
    path.parent.mkdir(parents=True, exist_ok=True)
    (train or _train_in_subprocess)(path)
    return path


def _unloadable(path: Path) -> tuple[Exception, bool] | None:
    """Why ``path`` cannot be loaded here (None: it can), and whether it was trained on the
    bundled data only."""
    from nlu import ModelLoadError
    from nlu.model import check_encoder
    from nlu.modelfile import read_header

    try:
        header, _ = read_header(path)
        check_encoder(path, header.get("meta", {}))
    except ModelLoadError as e:
        return e, _trained_on_bundled_data(path)
    return None


def _trained_on_bundled_data(path: Path) -> bool:
    """The model's header names the bundled training files (`nlu/data/train`) and no others.
    Read without verifying the file: a model refused for its versions still says this."""
    from nlu.modelfile import peek_header

    meta = (peek_header(path) or {}).get("meta")
    names = meta.get("files") if isinstance(meta, dict) else None
    if not isinstance(names, list) or not names:
        return False
    return all(Path(str(f)).parent.as_posix().endswith(BUNDLED) for f in names)


def _train_in_subprocess(path: Path, cmd: list[str] | None = None) -> None:
    """`python -m nlu.cli train` (or ``cmd``), its lines relayed through this process's log
    (its format, text or JSON, and level)."""
    cmd = cmd or [sys.executable, "-m", "nlu.cli", "train", "--out", str(path)]
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8"
    ) as child:
        assert child.stdout is not None
        for line in child.stdout:
            if line.strip():
                log.info("nlu: %s", line.rstrip())
    if child.returncode != 0:
        raise RuntimeError(f"training the bundled NLU model into {path} failed (see above)")
