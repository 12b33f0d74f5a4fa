"""Files: the project root, atomic writes (never half-written), file fingerprints, and the
use log through which the book's runner learns what a chapter read."""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

__all__ = ["PROJECT_ROOT", "atomic_write_bytes", "atomic_write_text", "sha256_of", "note_use",
           "DATA_LOG", "CHECKPOINT_LOG"]

PROJECT_ROOT = Path(__file__).resolve().parents[3]  # src/collapse/core/io.py -> the repository

#: environment variables naming the files where a chapter's kernel (and its worker processes)
#: notes each data file it read and each checkpoint folder it used; set by the runner
DATA_LOG, CHECKPOINT_LOG = "COLLAPSE_DATA_LOG", "COLLAPSE_CHECKPOINT_LOG"


def atomic_write_bytes(path: str | os.PathLike, payload: bytes) -> None:
    """Write ``payload`` to ``path`` via a temporary file and a rename (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def sha256_of(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def note_use(variable: str, entry: str) -> None:
    """Append ``entry`` as one line to the file named by ``$variable`` (nothing when unset).

    One short ``O_APPEND`` write per entry, so parallel worker processes never interleave. A
    log that cannot be written (a worker on another machine) warns instead of stopping the
    computation; the entry is then missing from the runner's record."""
    target = os.environ.get(variable)
    if not target:
        return
    line = (entry.replace("\n", " ") + "\n").encode("utf-8")
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, line)
        finally:
            os.close(descriptor)
    except OSError as error:
        import warnings
        warnings.warn(f"could not note {entry!r} in ${variable} ({target}): {error}")
