"""What a model family implements for the generational loop (DESIGN.md, "One loop, many models").

A *family* owns fitting and generating; a *data type* says how datasets of that family are
sized, pooled and subsampled. Three representations of "data" share this interface:

* arrays of samples (GMM, discrete, the naive Gaussian sampler): pooled by concatenation
  (:class:`ArrayData`);
* sufficient statistics (the exact Gaussian sampler): pooled exactly, but cannot be subsampled;
* samplers (the VAE: fresh decoder samples every batch) and prompted generation (the language
  model: ``generate`` receives a :class:`GenerationContext` holding the real and previous data,
  so it can prompt with either).

A family may carry a leading *seed axis* (many independent chains simulated at once); the loop
does not care, it hands the one ``numpy.random.Generator`` to the family.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Protocol, Sequence

import numpy as np

__all__ = ["DataType", "ArrayData", "GenerationContext", "Family"]


class DataType(Protocol):
    """How one family's datasets are sized, pooled and subsampled."""

    def size(self, data: Any) -> int:
        """Number of points in ``data`` (per seed, for a batched family)."""

    def concat(self, parts: Sequence[Any]) -> Any:
        """One dataset holding every point of ``parts`` (the `accumulate` pool)."""

    def take(self, data: Any, n: int, rng: np.random.Generator) -> Any:
        """``n`` points drawn uniformly without replacement from ``data``."""


class ArrayData:
    """Datasets that are arrays of samples along ``axis`` (0, or 1 after a leading seed axis)."""

    def __init__(self, axis: int = 0):
        self.axis = axis

    def size(self, data: np.ndarray) -> int:
        return int(np.shape(data)[self.axis])

    def concat(self, parts: Sequence[np.ndarray]) -> np.ndarray:
        return np.concatenate(list(parts), axis=self.axis)

    def take(self, data: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        size = self.size(data)
        if n > size:
            raise ValueError(f"cannot take {n} points from a dataset of {size}")
        if self.axis == 0:
            return data[rng.choice(size, size=n, replace=False)]
        # batched: an independent subsample for every seed
        keys = rng.random((data.shape[0], size))
        index = np.argsort(keys, axis=1)[:, :n]
        return self.gather(data, index)

    def gather(self, data: np.ndarray, index: np.ndarray) -> np.ndarray:
        """The points at ``index`` along the point axis: ``index`` has shape (n,) for
        ``axis=0`` and (S, n) for ``axis=1`` (a separate choice for every seed)."""
        data, index = np.asarray(data), np.asarray(index)
        if self.axis == 0:
            return data[index]
        index = index.reshape(index.shape + (1,) * (data.ndim - 2))
        return np.take_along_axis(data, index, axis=1)


@dataclasses.dataclass(frozen=True)
class GenerationContext:
    """What a family may need besides the model to produce generation n+1's data.

    ``generation`` is the index of the model that generates (the data feeds generation+1),
    ``real`` the original real data, ``previous`` the data the generating model was fitted to.
    Prompted families (the language model) choose their prompts from these.
    """

    generation: int
    real: Any
    previous: Any


class Family(Protocol):
    """A model family: fits a model to data and generates new data from a model."""

    data_type: DataType

    def fit(self, data: Any, rng: np.random.Generator) -> Any:
        """The model fitted to ``data`` (generation n's estimate)."""

    def generate(self, model: Any, n: int, rng: np.random.Generator,
                 context: GenerationContext) -> Any:
        """A dataset of ``n`` points produced by ``model`` (a sampler is a valid dataset)."""
