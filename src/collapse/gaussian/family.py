"""The two Gaussian model families of the 1-D recursion: fitting and sampling only.

Both families carry a leading seed axis (S independent chains simulated at once) and work with
:func:`collapse.core.loop.run_generations`:

* :class:`ExactGaussian` works on sufficient statistics (:class:`GaussianStats`: count, mean,
  sum of squared deviations M2). Drawing M points from N(m, s²) and summarising them is replaced
  by drawing the summary directly: x̄ ~ N(m, s²/M) and M2 ~ s²·χ²_{M−1}, independent
  (Cochran's theorem), so a generation costs O(S) whatever M is. Pooling for `accumulate` is
  exact on (count, mean, M2); subsampling points is impossible and raises a clear error.
* :class:`NaiveGaussian` draws all M points (arrays of shape (S, M), :class:`PointSamples`), as
  the authors' notebook does; it is what the policies that need points (`mix_real`,
  `accumulate_subsample`) use.

Both fit the mean and either the unbiased variance (÷(M−1), Theorem 3.1) or the biased one
(÷M, ``np.std``, the authors' code): :data:`ESTIMATORS`.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Sequence

import numpy as np

from ..core.checks import check_sample_size
from ..core.family import ArrayData

__all__ = [
    "ESTIMATORS", "check_estimator", "GaussianFit", "GaussianStats", "SufficientStatistics",
    "PointSamples", "ExactGaussian", "NaiveGaussian", "PARAMETER_METRICS", "true_data",
]

ESTIMATORS = ("unbiased", "biased")


def _check_finite(name: str, *summaries: np.ndarray) -> None:
    """ValueError naming ``name`` when a summary of it (mean, M2: NaN/inf propagate into
    them, O(S) to check) is not finite."""
    if not all(np.all(np.isfinite(summary)) for summary in summaries):
        raise ValueError(f"{name} must be finite numbers (no NaN or inf, no overflow)")


def check_estimator(estimator: str) -> str:
    """Return ``estimator`` if it is one of :data:`ESTIMATORS`, else raise ValueError."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {', '.join(ESTIMATORS)}; got {estimator!r}")
    return estimator


@dataclasses.dataclass(frozen=True)
class GaussianFit:
    """A fitted N(mean, std²) per seed: ``mean`` and ``std`` have shape (S,)."""

    mean: np.ndarray
    std: np.ndarray

    @property
    def n_seeds(self) -> int:
        return int(np.shape(self.mean)[0])


@dataclasses.dataclass(frozen=True)
class GaussianStats:
    """Sufficient statistics of S datasets of ``count`` points each: ``mean`` (S,) and ``m2``
    (S,) = Σ(x − x̄)². Everything a Gaussian fit needs, and exactly poolable."""

    count: int
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def from_samples(cls, samples: np.ndarray) -> "GaussianStats":
        """Summarise points of shape (S, M)."""
        samples = np.asarray(samples, float)
        if samples.ndim != 2:
            raise ValueError(f"samples must have shape (seeds, points), got {samples.shape}")
        check_sample_size(samples.shape[1], "number of points per seed")
        check_sample_size(samples.shape[0], "number of seeds (rows of samples)", minimum=1)
        with np.errstate(invalid="ignore", over="ignore"):  # non-finite: the error below
            mean = samples.mean(axis=1)
            m2 = ((samples - mean[:, None]) ** 2).sum(axis=1)
        _check_finite("samples", mean, m2)
        return cls(samples.shape[1], mean, m2)


class SufficientStatistics:
    """Data type of :class:`GaussianStats`: sized by ``count``, pooled exactly (Chan et al.'s
    parallel formula: M2 = Σ M2_j + Σ n_j (x̄_j − x̄)²), never subsampled."""

    def size(self, data: GaussianStats) -> int:
        return int(data.count)

    def concat(self, parts: Sequence[GaussianStats]) -> GaussianStats:
        parts = list(parts)
        count = sum(part.count for part in parts)
        mean = sum(part.count * part.mean for part in parts) / count
        m2 = sum(part.m2 + part.count * (part.mean - mean) ** 2 for part in parts)
        return GaussianStats(count, mean, m2)

    def take(self, data: GaussianStats, n: int, rng: np.random.Generator):
        raise ValueError(
            "the exact Gaussian family keeps only sufficient statistics (count, mean, M2) and "
            "cannot draw individual points; policies 'accumulate_subsample' and 'mix_real' "
            "need points: run them with NaiveGaussian")


class PointSamples(ArrayData):
    """Points of shape (S, M) (``ArrayData(axis=1)``) with a faster exact subsample.

    ``take(data, n)`` draws, for every seed independently, a uniformly random n-subset of the
    M points. For n ≤ M/8 it draws n indices with replacement and redraws the duplicates until
    none is left: the procedure treats every index alike, so the resulting set is uniform over
    n-subsets, and it costs O(S·n log n) instead of sorting S·M random keys (which makes
    `accumulate_subsample`'s growing pool quadratic in the number of generations). For
    n > M/8 it sorts random keys as ``ArrayData`` does (few duplicates to redraw otherwise).
    """

    def __init__(self):
        super().__init__(axis=1)

    def take(self, data: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        size = self.size(data)
        if n > size:
            raise ValueError(f"cannot take {n} points from a dataset of {size}")
        if 8 * n > size:
            return super().take(data, n, rng)
        index = rng.integers(0, size, (data.shape[0], n))
        while True:
            index.sort(axis=1)
            duplicate = np.zeros(index.shape, bool)
            duplicate[:, 1:] = index[:, 1:] == index[:, :-1]
            n_duplicates = int(duplicate.sum())
            if not n_duplicates:
                return np.take_along_axis(data, index, axis=1)
            index[duplicate] = rng.integers(0, size, n_duplicates)


class _GaussianFamily:
    sampler = "gaussian"

    def __init__(self, estimator: str = "unbiased"):
        self.estimator = check_estimator(estimator)

    def _divisor(self, count: int) -> int:
        check_sample_size(count, "number of points fitted")
        return count - 1 if self.estimator == "unbiased" else count

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.estimator!r})"


class ExactGaussian(_GaussianFamily):
    """Gaussian family on sufficient statistics (exact sampler, O(S) per generation)."""

    sampler = "exact"
    data_type = SufficientStatistics()

    def fit(self, data: GaussianStats, rng: np.random.Generator = None) -> GaussianFit:
        if not isinstance(data, GaussianStats):
            raise ValueError(f"ExactGaussian fits GaussianStats, got {type(data).__name__}; "
                             "summarise points with GaussianStats.from_samples")
        _check_finite("data (its mean and M2)", data.mean, data.m2)
        if np.any(np.asarray(data.m2) < 0):
            raise ValueError("data.m2 (sums of squared deviations) must be >= 0")
        return GaussianFit(np.array(data.mean, float),
                           np.sqrt(data.m2 / self._divisor(data.count)))

    def generate(self, model: GaussianFit, n: int, rng: np.random.Generator,
                 context: Any = None) -> GaussianStats:
        n = check_sample_size(n, "sample size M")
        shape = np.shape(model.mean)
        mean = model.mean + model.std * rng.standard_normal(shape) / math.sqrt(n)
        m2 = model.std ** 2 * rng.chisquare(n - 1, shape)
        return GaussianStats(n, mean, m2)


class NaiveGaussian(_GaussianFamily):
    """Gaussian family on points (draws all M points per seed, as the authors' code)."""

    sampler = "naive"
    data_type = PointSamples()

    def fit(self, data: np.ndarray, rng: np.random.Generator = None) -> GaussianFit:
        data = np.asarray(data, float)
        if data.ndim != 2:
            raise ValueError(f"NaiveGaussian fits points of shape (seeds, M), got {data.shape}")
        divisor = self._divisor(data.shape[1])
        with np.errstate(invalid="ignore", over="ignore"):  # non-finite: the error below
            mean = data.mean(axis=1)
            m2 = ((data - mean[:, None]) ** 2).sum(axis=1)
        _check_finite("data", mean, m2)
        return GaussianFit(mean, np.sqrt(m2 / divisor))

    def generate(self, model: GaussianFit, n: int, rng: np.random.Generator,
                 context: Any = None) -> np.ndarray:
        n = check_sample_size(n, "sample size M")
        return model.mean[:, None] + model.std[:, None] * rng.standard_normal(
            (model.n_seeds, n))


def _fitted_mean(model: GaussianFit, data: Any, generation: int) -> np.ndarray:
    return model.mean


def _fitted_std(model: GaussianFit, data: Any, generation: int) -> np.ndarray:
    return model.std


PARAMETER_METRICS: dict[str, Callable] = {"mean": _fitted_mean, "std": _fitted_std}
"""The loop metrics of every Gaussian run: the fitted mean and standard deviation, (S,) each."""


def true_data(family: _GaussianFamily, n_seeds: int, sample_size: int,
              rng: np.random.Generator, mu: float = 0.0, sigma: float = 1.0):
    """Generation 0's real data: M points from N(mu, sigma²) per seed, in ``family``'s form."""
    n_seeds = check_sample_size(n_seeds, "n_seeds", minimum=1)
    if not np.isfinite(mu):
        raise ValueError(f"mu must be a finite number, got {mu!r}")
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a finite number > 0, got {sigma!r}")
    truth = GaussianFit(np.full(n_seeds, float(mu)), np.full(n_seeds, float(sigma)))
    return family.generate(truth, sample_size, rng)
