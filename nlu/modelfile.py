"""Model file format: a magic line, a JSON header with a SHA-256 of the payload, then the payload.

The payload (a pickle of the trained pipeline: arrays, vocabularies, CRFsuite bytes) is only
unpickled after the magic, the format version, the numpy version and the checksum are verified:
a truncated, corrupted or foreign file is refused with a clear message instead of being fed to
``pickle``. Only load model files you (or your CI) trained: a checksum proves integrity, not
origin.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from nlu.errors import ModelLoadError

MAGIC = b"OMNIRELAY-NLU\n"
FORMAT_VERSION = 1
# The payload holds numpy arrays and plain Python objects (no scikit-learn estimators), so only
# numpy's major.minor must match; the other versions are recorded for the report.
PINNED_LIBRARIES = ("numpy",)


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries a model depends on."""
    out = {}
    for name in (
        "scikit-learn",
        "sklearn-crfsuite",
        "numpy",
        "scipy",
        "dateparser",
        "phonenumbers",
    ):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def write_model_file(path: str | Path, header: dict[str, Any], payload_obj: Any) -> None:
    """Write atomically (temp file + rename) so a reloading worker never sees half a file."""
    payload = pickle.dumps(payload_obj, protocol=pickle.HIGHEST_PROTOCOL)
    head = dict(header)
    head["format_version"] = FORMAT_VERSION
    head["payload_sha256"] = hashlib.sha256(payload).hexdigest()
    head["payload_size"] = len(payload)
    head_bytes = json.dumps(head, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n"
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC)
            f.write(head_bytes)
            f.write(payload)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; workers may run as another user
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


HEADER_BYTES = 1 << 20  # a model file's JSON header is a few kB


def peek_header(path: str | Path) -> dict[str, Any] | None:
    """A model file's header as written, read without verifying the file (its payload, its
    library versions, its encoder): what a refused model says it was trained on. None when the
    file cannot be read or is no model file."""
    try:
        with Path(path).open("rb") as f:
            head = f.read(HEADER_BYTES)
        if not head.startswith(MAGIC):
            return None
        header = json.loads(head[len(MAGIC) : head.index(b"\n", len(MAGIC))])
    except (OSError, ValueError):
        return None
    return header if isinstance(header, dict) else None


def read_header(path: str | Path) -> tuple[dict[str, Any], bytes]:
    """Read and verify a model file; return its header and the verified payload bytes."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError as e:
        raise ModelLoadError(f"{p}: no model file (train one with `omnirelay nlu train`)") from e
    except OSError as e:
        raise ModelLoadError(f"{p}: cannot read model file: {e}") from e
    if not raw.startswith(MAGIC):
        raise ModelLoadError(f"{p}: not an omnirelay NLU model file (bad magic header)")
    nl = raw.find(b"\n", len(MAGIC))
    try:
        header: dict[str, Any] = json.loads(raw[len(MAGIC) : nl].decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise ModelLoadError(f"{p}: corrupted model header: {e}") from e
    if header.get("format_version") != FORMAT_VERSION:
        raise ModelLoadError(
            f"{p}: model format {header.get('format_version')!r} is not supported "
            f"(this version reads {FORMAT_VERSION}); retrain the model"
        )
    payload = raw[nl + 1 :]
    if len(payload) != header.get("payload_size") or (
        hashlib.sha256(payload).hexdigest() != header.get("payload_sha256")
    ):
        raise ModelLoadError(f"{p}: model file is corrupted or truncated (checksum mismatch)")
    have = library_versions()
    for lib in PINNED_LIBRARIES:
        built = str(header.get("versions", {}).get(lib, "?"))
        if _major_minor(built) != _major_minor(have[lib]):
            raise ModelLoadError(
                f"{p}: model was trained with {lib} {built}, this environment has {have[lib]}; "
                "retrain the model (`omnirelay nlu train`)"
            )
    return header, payload


def read_model_file(path: str | Path) -> tuple[dict[str, Any], Any]:
    """Verify, then unpickle; any failure becomes ``ModelLoadError``."""
    header, payload = read_header(path)
    try:
        obj = pickle.loads(payload)
    except Exception as e:  # a verified but unreadable payload: report, don't crash the worker
        raise ModelLoadError(f"{path}: cannot decode model payload: {e}") from e
    return header, obj
