"""Random streams: every experiment's seeds come from here, so that one master seed fixes a
chapter and adding an experiment never changes another one's numbers."""
from __future__ import annotations

import zlib
from typing import Any

import numpy as np

__all__ = ["rng_for", "seed_sequence_for", "spawn_seed_sequences", "integer_seeds"]


def seed_sequence_for(seed: int, *labels: Any) -> np.random.SeedSequence:
    """SeedSequence(seed) with ``labels`` hashed (crc32 of their repr) into its entropy: an
    independent stream per experiment label."""
    words = [zlib.crc32(repr(label).encode()) for label in labels]
    return np.random.SeedSequence([int(seed), *words])


def rng_for(seed: int, *labels: Any) -> np.random.Generator:
    """A ``numpy.random.Generator`` on :func:`seed_sequence_for` (seed, *labels)."""
    return np.random.default_rng(seed_sequence_for(seed, *labels))


def spawn_seed_sequences(seed: int | np.random.SeedSequence, n: int
                         ) -> list[np.random.SeedSequence]:
    """``n`` independent child seed sequences of ``seed`` (one per chain or job)."""
    parent = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return parent.spawn(n)


def integer_seeds(seed: int, n: int) -> np.ndarray:
    """``n`` 32-bit integer seeds derived from ``seed`` (for libraries that take an int, such as
    ``torch.manual_seed`` or transformers' ``set_seed``), shape (n,)."""
    return np.random.SeedSequence(seed).generate_state(n)
