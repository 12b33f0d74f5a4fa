"""The model families of the error-sources chapter: fitting and sampling only.

*Infinite data* are represented exactly: a dataset is the distribution it was drawn from, a
1-D Gaussian mixture (:class:`Mixture1D`) with a nominal ``mass`` (how much it weighs in a pool;
an infinite sample has no size, only ratios matter). :class:`ExactDistributionData` pools such
datasets into mixtures (`accumulate`, `mix_real`) and "subsamples" them (any number of points
drawn from an infinite sample of p is, again, an infinite sample of p). Three families fit
such data:

* :class:`MomentMatchedGaussian`: maximum likelihood with infinite data (the functional
  expressivity error alone when the data are not Gaussian);
* :class:`ExactKDE`: a Gaussian kernel density estimate of infinitely many points, i.e. the
  distribution convolved with the kernel (the functional approximation error alone);
* :class:`EarlyStoppedEM`: a two-component mixture fitted by a few steps of *population* EM
  (:func:`population_em`, integrals by quadrature; approximation error alone).

*Finite data*: :class:`SampleKDE`, a kernel density estimate of M points per seed
(:class:`KDEModel`), sampled by picking a centre and adding kernel noise (statistical and
approximation error together). :func:`model_mean` and :func:`model_variance` are the loop
metrics shared by all of them.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np
from scipy import special

from ..core.checks import check_sample_size
from ..core.family import ArrayData, GenerationContext

__all__ = [
    "SEPARATION", "check_bandwidth", "Mixture1D", "gaussian_distribution",
    "bimodal_distribution", "ExactDistributionData", "MomentMatchedGaussian", "ExactKDE",
    "population_em", "EarlyStoppedEM", "KDEModel", "SampleKDE", "model_mean", "model_variance",
]

SEPARATION = 0.9  # D_0 = ½N(−0.9, 0.19) + ½N(0.9, 0.19): unit variance, clearly bimodal


def check_bandwidth(value: float, name: str = "bandwidth") -> float:
    """``value`` as a float > 0, or ValueError naming ``name``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number > 0, got {value!r}") from None
    if not number > 0 or not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return number


# =============================================================================== exact data
@dataclasses.dataclass(frozen=True)
class Mixture1D:
    """A 1-D Gaussian mixture Σ_k w_k N(m_k, v_k): ``weights``, ``means``, ``variances`` (K,).

    As a *dataset* it stands for an infinite sample of itself; ``mass`` is its nominal size
    (its weight when pooled with other datasets)."""

    weights: np.ndarray
    means: np.ndarray
    variances: np.ndarray
    mass: int = 1000

    def __post_init__(self):
        for name in ("weights", "means", "variances"):
            object.__setattr__(self, name, np.atleast_1d(np.asarray(getattr(self, name),
                                                                    dtype=float)))
        if not (self.weights.shape == self.means.shape == self.variances.shape) \
                or self.weights.ndim != 1:
            raise ValueError("weights, means and variances must be 1-D arrays of one length")
        if np.any(self.variances <= 0) or np.any(self.weights < 0) \
                or abs(self.weights.sum() - 1) > 1e-9:
            raise ValueError("variances must be > 0 and weights non-negative, summing to 1")
        check_sample_size(self.mass, "mass", minimum=1)

    @property
    def n_components(self) -> int:
        return int(self.weights.size)

    def mean(self) -> float:
        return float(self.weights @ self.means)

    def variance(self) -> float:
        """Σ w_k (v_k + m_k²) − (Σ w_k m_k)²."""
        mean = self.mean()
        return float(self.weights @ (self.variances + (self.means - mean) ** 2))

    def pdf(self, x) -> np.ndarray:
        x = np.asarray(x, float)
        return (self.weights / np.sqrt(2 * np.pi * self.variances) * np.exp(
            -0.5 * (x[..., None] - self.means) ** 2 / self.variances)).sum(-1)

    def cdf(self, x) -> np.ndarray:
        x = np.asarray(x, float)
        return (self.weights * special.ndtr((x[..., None] - self.means)
                                            / np.sqrt(self.variances))).sum(-1)

    def quantile(self, u, grid_points: int = 20001) -> np.ndarray:
        """F^{-1}(u) by monotone interpolation of the CDF on a fine grid (error ≪ 1e-6)."""
        sd = np.sqrt(self.variances)
        x = np.linspace((self.means - 12 * sd).min(), (self.means + 12 * sd).max(),
                        grid_points)
        cdf = np.maximum.accumulate(self.cdf(x))
        keep = np.concatenate([[True], np.diff(cdf) > 0])
        return np.interp(u, cdf[keep], x[keep])

    def tail_mass_outside(self, low: float, high: float) -> float:
        """P(X < low) + P(X > high)."""
        return float(self.cdf(low) + 1 - self.cdf(high))

    def with_mass(self, mass: int) -> "Mixture1D":
        return dataclasses.replace(self, mass=int(mass))

    def merged(self, tolerance: float = 1e-12) -> "Mixture1D":
        """The same distribution with components of (relatively) equal mean and variance
        merged (keeps pools of KDE generations linear in size instead of doubling)."""
        order = np.lexsort((self.variances, self.means))
        weights, means, variances = (self.weights[order], self.means[order],
                                     self.variances[order])
        same = np.concatenate([[False], (np.abs(np.diff(means)) <= tolerance * (
            1 + np.abs(means[1:]))) & (np.abs(np.diff(variances)) <= tolerance * variances[1:])])
        group = np.cumsum(~same) - 1
        merged_weights = np.bincount(group, weights)
        first = np.flatnonzero(~same)
        return Mixture1D(merged_weights, means[first], variances[first], self.mass)


def gaussian_distribution(mean: float = 0.0, variance: float = 1.0, mass: int = 1000
                          ) -> Mixture1D:
    """N(mean, variance) as an infinite dataset."""
    return Mixture1D([1.0], [mean], [variance], mass)


def bimodal_distribution(separation: float = SEPARATION, mass: int = 1000) -> Mixture1D:
    """½N(−a, 1 − a²) + ½N(a, 1 − a²): zero mean, unit variance (the same D_0 as
    :func:`collapse.gaussian.theory.bimodal_start`)."""
    if not 0 < separation < 1:
        raise ValueError(f"separation must be in (0, 1), got {separation!r}")
    spread = 1 - separation ** 2
    return Mixture1D([0.5, 0.5], [-separation, separation], [spread, spread], mass)


class ExactDistributionData:
    """Data type of :class:`Mixture1D` datasets (infinite samples) for the shared loop."""

    def size(self, data: Mixture1D) -> int:
        return int(data.mass)

    def concat(self, parts: Sequence[Mixture1D]) -> Mixture1D:
        """The pool: a mixture of the parts with weights proportional to their masses."""
        parts = list(parts)
        total = sum(part.mass for part in parts)
        weights = np.concatenate([part.weights * part.mass / total for part in parts])
        pooled = Mixture1D(weights / weights.sum(),
                           np.concatenate([part.means for part in parts]),
                           np.concatenate([part.variances for part in parts]), total)
        return pooled.merged()

    def take(self, data: Mixture1D, n: int, rng: np.random.Generator = None) -> Mixture1D:
        """n points of an infinite sample of p are an infinite sample of p (mass n)."""
        return data.with_mass(check_sample_size(n, "n", minimum=1))


class _ExactFamily:
    """A family fitted to exact distributions; its samples are its own distribution."""

    data_type = ExactDistributionData()

    def generate(self, model: Mixture1D, n: int, rng: np.random.Generator = None,
                 context: GenerationContext | None = None) -> Mixture1D:
        return model.with_mass(check_sample_size(n, "n", minimum=1))


class MomentMatchedGaussian(_ExactFamily):
    """A single Gaussian fitted by maximum likelihood to infinite data: N(mean, variance) of
    the data (the expressivity error alone when the data are not Gaussian)."""

    def fit(self, data: Mixture1D, rng: np.random.Generator = None) -> Mixture1D:
        return gaussian_distribution(data.mean(), data.variance(), data.mass)


class ExactKDE(_ExactFamily):
    """A Gaussian kernel density estimate (bandwidth h) of infinitely many points of p: the
    density p * N(0, h²), i.e. every component's variance grows by h² (variance + h²)."""

    def __init__(self, bandwidth: float):
        self.bandwidth = check_bandwidth(bandwidth)

    def fit(self, data: Mixture1D, rng: np.random.Generator = None) -> Mixture1D:
        return dataclasses.replace(data, variances=data.variances + self.bandwidth ** 2)


def population_em(data: Mixture1D, n_components: int = 2, n_iter: int = 1,
                  grid_points: int = 4001) -> Mixture1D:
    """A K-component Gaussian mixture fitted by ``n_iter`` steps of EM on the exact
    distribution ``data`` (infinite samples: every expectation is an integral against p,
    computed by the trapezoid rule on a grid covering ±12 component standard deviations).

    Initialisation: hard responsibilities splitting p at its K-quantiles (for K = 2 the median:
    what two-means clustering converges to on a symmetric p; scikit-learn initialises with
    k-means), then an M-step; ``n_iter`` = 0 stops there. Any M-step reproduces the data's mean
    and variance exactly, whatever the responsibilities (Σ_k w_k(v_k + m_k²) = E[x²])."""
    n_components = check_sample_size(n_components, "n_components", minimum=1)
    if isinstance(n_iter, bool) or not isinstance(n_iter, (int, np.integer)) or n_iter < 0:
        raise ValueError(f"n_iter must be an integer >= 0, got {n_iter!r}")
    sd = np.sqrt(data.variances)
    x = np.linspace((data.means - 12 * sd).min(), (data.means + 12 * sd).max(), grid_points)
    if (x[1] - x[0]) > sd.min() / 10:
        raise ValueError(f"grid too coarse for a component of sd {sd.min():.3g}: raise "
                         f"grid_points (now {grid_points})")
    mass = data.pdf(x) * np.gradient(x)          # trapezoid weights: ∫ f p dx ≈ Σ f·mass
    mass[[0, -1]] *= 0.5
    mass /= mass.sum()
    cdf = np.cumsum(mass)
    cuts = np.interp(np.arange(1, n_components) / n_components, cdf, x)
    labels = np.searchsorted(cuts, x)
    responsibilities = np.eye(n_components)[labels].T    # (K, G)

    def m_step(resp):
        weights = resp @ mass
        means = (resp * x) @ mass / weights
        variances = (resp * (x - means[:, None]) ** 2) @ mass / weights
        return weights, means, variances

    weights, means, variances = m_step(responsibilities)
    for _ in range(n_iter):
        log_joint = (np.log(weights / np.sqrt(2 * np.pi * variances))[:, None]
                     - 0.5 * (x - means[:, None]) ** 2 / variances[:, None])
        responsibilities = np.exp(log_joint - log_joint.max(axis=0))
        responsibilities /= responsibilities.sum(axis=0)
        weights, means, variances = m_step(responsibilities)
    return Mixture1D(weights / weights.sum(), means, variances, data.mass)


class EarlyStoppedEM(_ExactFamily):
    """A two-component Gaussian mixture fitted to infinite data by EM stopped after
    ``n_iter`` iterations (:func:`population_em`): the family contains the truth, the data
    are unlimited, only the procedure is imperfect."""

    def __init__(self, n_iter: int, n_components: int = 2, grid_points: int = 4001):
        self.n_iter, self.n_components, self.grid_points = n_iter, n_components, grid_points

    def fit(self, data: Mixture1D, rng: np.random.Generator = None) -> Mixture1D:
        return population_em(data, self.n_components, self.n_iter, self.grid_points)


# =============================================================================== finite data
@dataclasses.dataclass(frozen=True)
class KDEModel:
    """Gaussian KDEs of S datasets: ``centres`` (S, M) and the common ``bandwidth`` h.

    Its distribution is (1/M) Σ_j N(c_j, h²): mean = mean of the centres, variance =
    (1/M) Σ (c_j − c̄)² + h²."""

    centres: np.ndarray
    bandwidth: float

    @property
    def mean(self) -> np.ndarray:
        return self.centres.mean(axis=1)

    @property
    def variance(self) -> np.ndarray:
        return self.centres.var(axis=1) + self.bandwidth ** 2


class SampleKDE:
    """A Gaussian KDE with fixed bandwidth h fitted to M points per seed (data (S, M)); a
    sample of n points picks n centres uniformly with replacement and adds N(0, h²) noise."""

    def __init__(self, bandwidth: float):
        self.bandwidth = check_bandwidth(bandwidth)
        self.data_type = ArrayData(axis=1)

    def fit(self, data: np.ndarray, rng: np.random.Generator = None) -> KDEModel:
        points = np.asarray(data, dtype=float)
        if points.ndim != 2:
            raise ValueError(f"SampleKDE fits points of shape (seeds, M), got {points.shape}")
        check_sample_size(points.shape[1], "number of points per seed")
        return KDEModel(points.copy(), self.bandwidth)

    def generate(self, model: KDEModel, n: int, rng: np.random.Generator,
                 context: GenerationContext | None = None) -> np.ndarray:
        n = check_sample_size(n, "sample size M")
        seeds, size = model.centres.shape
        picked = np.take_along_axis(model.centres, rng.integers(0, size, (seeds, n)), axis=1)
        return picked + model.bandwidth * rng.standard_normal((seeds, n))


# =============================================================================== metrics
def model_mean(model: Mixture1D | KDEModel, data=None, generation=None):
    """Loop metric: the mean of a :class:`Mixture1D` (float) or :class:`KDEModel` ((S,))."""
    if isinstance(model, Mixture1D):
        return model.mean()
    return model.mean


def model_variance(model: Mixture1D | KDEModel, data=None, generation=None):
    """Loop metric: the variance of a :class:`Mixture1D` (float) or :class:`KDEModel` ((S,))."""
    if isinstance(model, Mixture1D):
        return model.variance()
    return model.variance
