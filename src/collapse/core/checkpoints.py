"""Checkpoints of the generational loop: each finished generation saved, resume after the last
complete one."""
from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import Protocol

from .io import CHECKPOINT_LOG, atomic_write_bytes, note_use

__all__ = ["Checkpointer", "PickleCheckpointer"]


class Checkpointer(Protocol):
    """Saves each finished generation and finds the last complete one to resume from."""

    def save(self, generation: int, state: dict) -> None:
        """Persist ``state`` (model, data, pool, metrics and folds so far, rng state)."""

    def latest(self) -> tuple[int, dict] | None:
        """(generation, state) of the last complete, uncorrupted checkpoint, or None."""


class PickleCheckpointer:
    """One pickle per generation in ``directory``, written atomically, with a sha256 sidecar.

    A checkpoint whose bytes do not match its recorded hash (a torn or corrupted write) is not
    trusted: :meth:`latest` skips it and resumes from the one before.
    """

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        # the runner keeps folders a chapter used; `collapse clean --checkpoints` prunes others
        note_use(CHECKPOINT_LOG, str(self.directory.resolve()))

    def _path(self, generation: int) -> Path:
        return self.directory / f"generation-{generation:06d}.pkl"

    def save(self, generation: int, state: dict) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        payload = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        digest = hashlib.sha256(payload).hexdigest()
        atomic_write_bytes(self._path(generation), payload)
        atomic_write_bytes(self._path(generation).with_suffix(".sha256"), digest.encode())

    def latest(self) -> tuple[int, dict] | None:
        if not self.directory.is_dir():
            return None
        for path in sorted(self.directory.glob("generation-*.pkl"), reverse=True):
            sidecar = path.with_suffix(".sha256")
            try:
                payload = path.read_bytes()
                expected = sidecar.read_text().strip()
            except OSError:
                continue
            if hashlib.sha256(payload).hexdigest() != expected:
                continue
            try:
                return int(path.stem.split("-")[1]), pickle.loads(payload)
            except Exception:  # unreadable despite matching hash: recompute, do not trust
                continue
        return None
