"""The paper's three sources of error, switched on one at a time (book/error_sources.md).

Shumailov et al. name three errors that compound across generations: *statistical
approximation* (finite samples), *functional expressivity* (the family cannot represent the
truth) and *functional approximation* (the learning procedure is imperfect even with unlimited
data and a family that contains the truth). This module isolates each one with the shared loop
:func:`collapse.loop.run_generations`:

* **infinite data** is represented exactly: a dataset is the distribution it was drawn from, a
  1-D Gaussian mixture (:class:`Mixture1D`) with a nominal ``mass`` (how much it weighs in a
  pool; an infinite sample has no size, only ratios matter). :class:`ExactDistributionData`
  pools such datasets into mixtures (`accumulate`, `mix_real`) and "subsamples" them (any
  number of points drawn from an infinite sample of p is, again, an infinite sample of p).
  Three families fit such data: :class:`MomentMatchedGaussian` (maximum likelihood with
  infinite data: the expressivity error alone), :class:`ExactKDE` (a Gaussian kernel density
  estimate of infinitely many points: the distribution convolved with the kernel) and
  :class:`EarlyStoppedEM` (a two-component mixture fitted by a few EM steps of *population*
  EM, integrals by quadrature): the approximation error alone;
* **finite data**: the exact Gaussian family of :mod:`collapse.gaussian` (statistical error
  alone, or with the expressivity error when D_0 is bimodal) and :class:`SampleKDE` (a kernel
  density estimate of M points, sampled by picking a centre and adding kernel noise:
  statistical and approximation error together).

The theory: :func:`kde_expected_variance` (E V_{n+1} = (1 − 1/M) E V_n + h², fixed point M h²),
:func:`kde_expected_mean_error`, :func:`exact_kde_variance` (infinite data under replace,
accumulate and mix_real) and the exact W2 floor of the expressivity error.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from scipy import special

from . import gaussian, plotting
from . import gaussian_theory as gtheory
from .loop import (Accumulate, GenerationContext, History, MixReal, Policy, Replace,
                   check_fraction, check_sample_size, run_generations)

__all__ = [
    "Mixture1D", "gaussian_distribution", "bimodal_distribution", "ExactDistributionData",
    "MomentMatchedGaussian", "ExactKDE", "EarlyStoppedEM", "KDEModel", "SampleKDE",
    "population_em", "w2_squared_1d", "W2SquaredTo", "model_mean", "model_variance",
    "kde_expected_variance",
    "kde_expected_mean_error", "exact_kde_variance", "expressivity_w2_squared",
    "statistical_only", "expressivity_only", "exact_kde_runs", "em_runs", "sample_kde_runs",
    "bimodal_statistical_runs", "policy_label", "check_bandwidth", "ExactRun", "KDERun",
    "mc_mean_with_se", "max_abs_z", "combination_table", "combination_markdown",
    "cancelling_run", "declare_claims", "evaluate_claims", "SEPARATION",
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
    :func:`collapse.gaussian_theory.bimodal_start`)."""
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
        self.data_type = gaussian.PointSamples()

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
def model_mean(model, data=None, generation=None):
    """Mean of a model of any family here (float, or (S,) for a seed axis)."""
    if isinstance(model, Mixture1D):
        return model.mean()
    return model.mean


def model_variance(model, data=None, generation=None):
    """Variance of a model of any family here (float, or (S,) for a seed axis)."""
    if isinstance(model, Mixture1D):
        return model.variance()
    if isinstance(model, gaussian.GaussianFit):
        return model.std ** 2
    return model.variance


def w2_squared_1d(p: Mixture1D, q: Mixture1D, n_quantiles: int = 4000) -> float:
    """W2²(p, q) = ∫_0^1 (F_p^{-1}(u) − F_q^{-1}(u))² du (midpoint rule in u; numerical)."""
    return W2SquaredTo(q, n_quantiles)(p)


class W2SquaredTo:
    """A loop metric: W2² of each generation's :class:`Mixture1D` to a fixed ``reference``
    (numerical, :func:`w2_squared_1d`), computed only at ``generations`` (NaN elsewhere; all
    generations when None). The reference's quantiles are computed once."""

    def __init__(self, reference: Mixture1D, n_quantiles: int = 4000,
                 generations: Sequence[int] | None = None):
        self.u = (np.arange(n_quantiles) + 0.5) / n_quantiles
        self.reference_quantiles = reference.quantile(self.u)
        self.generations = None if generations is None else set(int(g) for g in generations)

    def __call__(self, model: Mixture1D, data=None, generation: int | None = None) -> float:
        if self.generations is not None and generation not in self.generations:
            return float("nan")
        return float(np.mean((model.quantile(self.u, 8001) - self.reference_quantiles) ** 2))


def expressivity_w2_squared(separation: float = SEPARATION) -> float:
    """W2² between the bimodal D_0 and its maximum-likelihood Gaussian N(0, 1):
    2 − 2κ, κ = E[Φ^{-1}(U) F^{-1}(U)] (by quadrature, :mod:`collapse.gaussian_theory`)."""
    start = gtheory.bimodal_start(separation)
    return float(start.w2_squared_to_gaussian(0.0, 1.0))


# =============================================================================== theory
def kde_expected_variance(sample_size: int | None, bandwidth: float, n_generations: int,
                          sigma: float = 1.0) -> np.ndarray:
    """E V_n, n = 0 … N, of a fixed-bandwidth KDE refitted to M samples of itself (`replace`).

    Generation 0 is the KDE of M real points of variance σ²: E V_0 = (1 − 1/M)σ² + h² (the
    centres' variance is the biased sample variance, plus the kernel's h²). A sample of M
    points from a KDE of variance V has E[biased sample variance] = (1 − 1/M)V, so
    E V_{n+1} = (1 − 1/M) E V_n + h², whose solution is
    E V_n = M h² + (E V_0 − M h²)(1 − 1/M)^n → M h². ``sample_size=None``: infinite data,
    V_n = σ² + (n + 1) h² exactly."""
    h2 = check_bandwidth(bandwidth) ** 2
    n = np.arange(n_generations + 1, dtype=float)
    if sample_size is None:
        return sigma ** 2 + (n + 1) * h2
    size = float(check_sample_size(sample_size, "sample_size"))
    start = (1 - 1 / size) * sigma ** 2 + h2
    return size * h2 + (start - size * h2) * (1 - 1 / size) ** n


def kde_expected_mean_error(sample_size: int, bandwidth: float, n_generations: int,
                            sigma: float = 1.0) -> np.ndarray:
    """E(m_n − μ)² of the KDE chain's mean: σ²/M + Σ_{i<n} E V_i / M (the mean of M draws
    from a KDE of variance V moves by a martingale step of variance V/M)."""
    size = check_sample_size(sample_size, "sample_size")
    variance = kde_expected_variance(size, bandwidth, n_generations, sigma)
    return sigma ** 2 / size + np.concatenate([[0.0], np.cumsum(variance[:-1]) / size])


def exact_kde_variance(bandwidth: float, n_generations: int, policy: str = "replace",
                       fraction: float | None = None, sigma: float = 1.0) -> np.ndarray:
    """Variance V_n of the infinite-data KDE chain (every component has the same mean) under
    a data policy, exactly; the data of generation n have variance P_n, V_n = P_n + h²:

    * replace: P_n = V_{n−1}, so V_n = σ² + (n + 1) h² (linear growth);
    * accumulate: P_n = (σ² + Σ_{i<n} V_i)/(n + 1) (equal masses), so
      V_n = V_{n−1} + h²/(n + 1): V_n = σ² + h² H_{n+1} (harmonic number, ~ h² ln n);
    * mix_real(f): P_n = fσ² + (1 − f)V_{n−1}, so V_n → σ² + h²/f (bounded)."""
    h2 = check_bandwidth(bandwidth) ** 2
    n = np.arange(n_generations + 1, dtype=float)
    if policy == "replace":
        return sigma ** 2 + (n + 1) * h2
    if policy == "accumulate":
        return sigma ** 2 + h2 * np.cumsum(1.0 / (n + 1))
    if policy == "mix_real":
        f = check_fraction(fraction, "fraction")
        if f == 0:
            return sigma ** 2 + (n + 1) * h2
        return sigma ** 2 + h2 / f + (h2 - h2 / f) * (1 - f) ** n
    raise ValueError(f"unknown policy {policy!r}; allowed: replace, accumulate, mix_real")


# =============================================================================== experiments
def policy_label(policy: str, fraction: float | None = None) -> str:
    return f"mix_real({fraction:g})" if policy == "mix_real" else policy


def _policy(policy: str, fraction: float | None) -> Policy:
    if policy == "replace":
        return Replace()
    if policy == "accumulate":
        return Accumulate()
    if policy == "mix_real":
        return MixReal(fraction)
    raise ValueError(f"unknown policy {policy!r}; allowed: replace, accumulate, mix_real")


def statistical_only(sample_sizes: Sequence[int], n_seeds: int, n_generations: int,
                     seed: int) -> dict[int, gaussian.Trajectories]:
    """Statistical error alone: N(0, 1) data, the exact Gaussian family (unbiased fit), M
    samples per generation (exact sufficient-statistics sampler), `replace`. M -> run."""
    family = gaussian.ExactGaussian("unbiased")
    runs = {}
    for size in sample_sizes:
        rng = gaussian.rng_for(seed, "error_sources", "statistical", size)
        runs[size] = gaussian.simulate(family, gaussian.true_data(family, n_seeds, size, rng),
                                       Replace(size), n_generations, rng, f"M = {size:,}")
    return runs


def bimodal_statistical_runs(sample_size: int, n_seeds: int, n_generations: int, seed: int,
                             separation: float = SEPARATION) -> gaussian.Trajectories:
    """Statistical and expressivity error together: generation 0 is a Gaussian fitted to M
    points of the bimodal D_0, later generations to M points of the previous Gaussian."""
    start = gtheory.bimodal_start(separation)
    return gaussian.start_distribution_runs([start], sample_size, n_seeds, n_generations,
                                            seed)[start.name]


@dataclasses.dataclass
class ExactRun:
    """A deterministic run on exact distributions: per-generation metrics (N+1,) and the
    models of the recorded generations (``models[n]``)."""

    label: str
    history: History
    models: dict[int, Mixture1D]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.history[name]


class _ModelKeeper:
    """A loop metric that keeps the models of chosen generations."""

    def __init__(self, generations: Sequence[int]):
        self.generations, self.models = set(int(g) for g in generations), {}

    def __call__(self, model, data, generation):
        if generation in self.generations:
            self.models[generation] = model
        return generation in self.generations


def _run_exact(family, real: Mixture1D, policy: Policy, n_generations: int,
               metrics: Mapping[str, Callable], label: str,
               keep: Sequence[int] = ()) -> ExactRun:
    keeper = _ModelKeeper(keep)
    history = run_generations(family, real, policy, n_generations,
                              np.random.default_rng(0),  # unused: everything is exact
                              {**metrics, "kept": keeper})
    return ExactRun(label, history, keeper.models)


def expressivity_only(n_generations: int, separation: float = SEPARATION,
                      policies: Sequence[tuple[str, float | None]] = (("replace", None),),
                      keep: Sequence[int] = (0, 1)) -> dict[str, ExactRun]:
    """Expressivity error alone: infinite data from the bimodal D_0, a single Gaussian fitted
    by maximum likelihood each generation. label -> run with ``mean``, ``variance`` and
    ``w2_squared`` (to D_0, exactly via the quantile coupling)."""
    start = gtheory.bimodal_start(separation)
    metrics = {"mean": model_mean, "variance": model_variance,
               "w2_squared": lambda model, data, generation: float(
                   start.w2_squared_to_gaussian(model.mean(), math.sqrt(model.variance())))}
    return {policy_label(policy, fraction): _run_exact(
        MomentMatchedGaussian(), bimodal_distribution(separation), _policy(policy, fraction),
        n_generations, metrics, policy_label(policy, fraction), keep)
        for policy, fraction in policies}


def exact_kde_runs(bandwidth: float, n_generations: int,
                   policies: Sequence[tuple[str, float | None]]) -> dict[str, ExactRun]:
    """Approximation error alone: infinite data from N(0, 1), an exact KDE (bandwidth h)
    each generation, under each policy. label -> run with ``variance`` and ``mean``."""
    metrics = {"mean": model_mean, "variance": model_variance}
    return {policy_label(policy, fraction): _run_exact(
        ExactKDE(bandwidth), gaussian_distribution(), _policy(policy, fraction), n_generations,
        metrics, policy_label(policy, fraction)) for policy, fraction in policies}


def em_runs(iterations: Sequence[int], n_generations: int, separation: float = SEPARATION,
            keep: Sequence[int] = (0,), tail_level: float = 0.99,
            distance_generations: Sequence[int] | None = None) -> dict[int, ExactRun]:
    """Approximation error alone: infinite data from the bimodal D_0, a two-component mixture
    fitted by EM stopped after k iterations. k -> run with ``variance``, ``component_sd``
    (weight-averaged component standard deviation), ``tail_mass`` (mass outside D_0's central
    ``tail_level`` interval) and ``w2_squared`` to D_0 (at ``distance_generations``, default
    :func:`collapse.gaussian.recorded_generations`; NaN elsewhere)."""
    truth = bimodal_distribution(separation)
    low, high = truth.quantile(np.array([(1 - tail_level) / 2, (1 + tail_level) / 2]))
    metrics = {
        "variance": model_variance, "mean": model_mean,
        "component_sd": lambda model, data, generation: float(
            model.weights @ np.sqrt(model.variances)),
        "tail_mass": lambda model, data, generation: model.tail_mass_outside(low, high),
        "w2_squared": W2SquaredTo(truth, generations=(
            gaussian.recorded_generations(n_generations, 20, 20)
            if distance_generations is None else distance_generations)),
    }
    runs = {}
    for n_iter in iterations:
        runs[n_iter] = _run_exact(EarlyStoppedEM(int(n_iter)), truth, Replace(), n_generations,
                                  metrics, f"EM, {n_iter} iteration" + "s" * (n_iter != 1),
                                  keep)
    return runs


@dataclasses.dataclass
class KDERun:
    """S seeds of the finite-sample KDE chain: ``variance`` and ``mean`` (N+1, S)."""

    sample_size: int
    bandwidth: float
    variance: np.ndarray
    mean: np.ndarray
    seconds: float

    @property
    def n_generations(self) -> int:
        return self.variance.shape[0] - 1

    def theory_variance(self, sigma: float = 1.0) -> np.ndarray:
        return kde_expected_variance(self.sample_size, self.bandwidth, self.n_generations,
                                     sigma)

    def theory_mean_error(self, sigma: float = 1.0) -> np.ndarray:
        return kde_expected_mean_error(self.sample_size, self.bandwidth, self.n_generations,
                                       sigma)


def sample_kde_runs(sample_size: int, bandwidths: Sequence[float], n_seeds: int,
                    n_generations: int, seed: int) -> dict[float, KDERun]:
    """Statistical and approximation error together: a fixed-bandwidth KDE of M points,
    refitted to M samples of itself, from M real N(0, 1) points, S seeds at once. h -> run."""
    runs = {}
    for bandwidth in bandwidths:
        family = SampleKDE(bandwidth)
        rng = gaussian.rng_for(seed, "error_sources", "kde", sample_size, bandwidth)
        real = rng.standard_normal((n_seeds, sample_size))
        started = time.perf_counter()
        history = run_generations(family, real, Replace(sample_size), n_generations, rng,
                                  {"variance": model_variance, "mean": model_mean})
        runs[bandwidth] = KDERun(sample_size, bandwidth, history["variance"], history["mean"],
                                 time.perf_counter() - started)
    return runs


# =============================================================================== summaries
def mc_mean_with_se(values: np.ndarray, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Monte-Carlo mean over the seed ``axis`` and its standard error (sd/√S)."""
    values = np.asarray(values, float)
    count = values.shape[axis]
    return values.mean(axis=axis), values.std(axis=axis, ddof=1) / math.sqrt(count)


def max_abs_z(simulated: np.ndarray, exact: np.ndarray, axis: int = -1) -> float:
    """max over generations of |MC mean − exact| / SE (seeds on ``axis``)."""
    mean, se = mc_mean_with_se(simulated, axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (mean - exact) / se, 0.0)
    return float(np.abs(z).max())


def combination_table(statistical, bimodal, expressivity_floor: float, kde_runs, exact_kde,
                      generations: Sequence[int]) -> list[dict]:
    """Rows of the "errors combined" table: each configuration, which sources are on, and its
    median (MC mean for exact runs) variance and distance to D_0 at ``generations``."""
    rows = []

    def row(name, sources, variance, distance, variance_mean=None):
        rows.append({"configuration": name, "sources": sources, "variance": variance,
                     "distance": distance, "variance_mean": variance_mean})

    small = min(statistical)
    run = statistical[small]
    row(f"Gaussian fit, Gaussian D₀, M = {small}", "statistical",
        [float(np.median(run.std[run.row(g)] ** 2)) for g in generations],
        [float(np.median(run.w2_squared()[run.row(g)])) for g in generations],
        [float(np.mean(run.std[run.row(g)] ** 2)) for g in generations])
    start = gtheory.bimodal_start(SEPARATION)
    row("Gaussian fit, bimodal D₀, M → ∞", "expressivity", [1.0 for _ in generations],
        [expressivity_floor for _ in generations])
    w2 = start.w2_squared_to_gaussian(bimodal.mean, bimodal.std)
    row(f"Gaussian fit, bimodal D₀, M = {int(bimodal.sizes[0])}", "statistical + expressivity",
        [float(np.median(bimodal.std[bimodal.row(g)] ** 2)) for g in generations],
        [float(np.median(w2[bimodal.row(g)])) for g in generations],
        [float(np.mean(bimodal.std[bimodal.row(g)] ** 2)) for g in generations])
    for bandwidth, kde in kde_runs.items():
        exact = exact_kde_variance(bandwidth, max(generations))
        row(f"KDE h = {bandwidth:g}, Gaussian D₀, M → ∞", "approximation",
            [float(exact[g]) for g in generations], [None for _ in generations])
        row(f"KDE h = {bandwidth:g}, Gaussian D₀, M = {kde.sample_size}",
            "statistical + approximation",
            [float(np.median(kde.variance[g])) for g in generations],
            [None for _ in generations], [float(np.mean(kde.variance[g])) for g in generations])
    return rows


def combination_markdown(rows: list[dict], generations: Sequence[int]) -> str:
    """The combination table as Markdown."""
    head = (["configuration", "error sources on"]
            + [f"V at n = {g:,}: median [mean]" for g in generations]
            + [f"median W2² to D₀ at n = {g:,}" for g in generations])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row["configuration"], row["sources"]]
        means = row["variance_mean"] or [None] * len(row["variance"])
        cells += [f"{v:.3g}" + ("" if m is None else f" [{m:.3g}]")
                  for v, m in zip(row["variance"], means)]
        cells += ["—" if d is None else f"{d:.3g}" for d in row["distance"]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# =============================================================================== figures
def plot_statistical(ax, runs: Mapping[int, gaussian.Trajectories]) -> None:
    """σ_n (median, 10–90% band over seeds) for each M, with the exact quantiles dashed."""
    for index, (size, run) in enumerate(sorted(runs.items())):
        plotting.band(ax, run.generations, run.std, label=f"M = {size:,}",
                      color=plotting.color(index))
        exact = np.sqrt(gtheory.variance_quantiles([0.1, 0.5, 0.9], size, run.generations,
                                                   "unbiased"))
        for row, quantile in enumerate((0.1, 0.5, 0.9)):
            plotting.theory(ax, run.generations, exact[row],
                            label="exact quantiles (10, 50, 90%)" if index == 0 and row == 1
                            else None, linewidth=0.9)
    ax.set(xlabel="generation n", ylabel="fitted σₙ (truth σ = 1)", ylim=(0, 1.25))
    ax.legend(loc="lower left")


def plot_expressivity(axes, runs: Mapping[str, ExactRun], floor: float,
                      separation: float = SEPARATION) -> None:
    """Left: D_0 and the Gaussians of generations 0 and N. Right: W2² to D_0 by policy."""
    truth = bimodal_distribution(separation)
    x = np.linspace(-3.2, 3.2, 600)
    left, right = axes
    left.fill_between(x, truth.pdf(x), color="#bbbbbb", alpha=0.6, label="D₀ (bimodal)")
    run = next(iter(runs.values()))
    for index, generation in enumerate(sorted(run.models)):
        left.plot(x, run.models[generation].pdf(x), color=plotting.color(index),
                  linestyle="-" if index == 0 else "--",
                  label=f"generation {generation}")
    left.set(xlabel="x", ylabel="density", title="Gaussian fitted with infinite data")
    left.legend(loc="upper right")
    for index, (label, run) in enumerate(runs.items()):
        right.plot(run.history.generations, run["w2_squared"], color=plotting.color(index),
                   label=label, linewidth=2.5 - 0.6 * index)
    plotting.theory(right, [0, len(run["w2_squared"]) - 1], [floor, floor],
                    label="exact: 2 − 2κ")
    right.set(xlabel="generation n", ylabel="W2² to D₀", ylim=(0, 2.2 * floor),
              title="expressivity error by generation")
    right.legend(loc="lower right")


def plot_exact_kde(ax, runs: Mapping[str, ExactRun], bandwidth: float,
                   sigma: float = 1.0) -> None:
    """Excess variance Vₙ − σ² of the infinite-data KDE chain under each policy (log-log),
    exact recursion dashed."""
    for index, (label, run) in enumerate(runs.items()):
        generations = run.history.generations
        ax.plot(generations + 1, run["variance"] - sigma ** 2, color=plotting.color(index),
                label=label, linewidth=2.2)
        policy, fraction = _parse_label(label)
        exact = exact_kde_variance(bandwidth, generations[-1], policy, fraction, sigma)
        plotting.theory(ax, generations + 1, exact - sigma ** 2,
                        label="exact recursion" if index == 0 else None)
    ax.set(xlabel="generation n + 1", ylabel="excess variance Vₙ − σ²", xscale="log",
           yscale="log", title=f"KDE of infinite data, h = {bandwidth:g}")
    ax.legend(loc="upper left")


def _parse_label(label: str) -> tuple[str, float | None]:
    if label.startswith("mix_real("):
        return "mix_real", float(label[len("mix_real("):-1])
    return label, None


def plot_em(axes, runs: Mapping[int, ExactRun], separation: float = SEPARATION) -> None:
    """Left: D_0 and generation N of the EM chains. Right: tail mass outside D_0's central
    99% interval against generation."""
    truth = bimodal_distribution(separation)
    left, right = axes
    x = np.linspace(-2.6, 2.6, 800)
    left.fill_between(x, truth.pdf(x), color="#bbbbbb", alpha=0.6, label="D₀")
    for index, (n_iter, run) in enumerate(runs.items()):
        last = max(run.models)
        left.plot(x, run.models[last].pdf(x), color=plotting.color(index),
                  label=f"{run.label}: generation {last}")
        right.plot(run.history.generations, run["tail_mass"], color=plotting.color(index),
                   label=run.label)
    right.axhline(0.01, **plotting.PAPER_STYLE, label="D₀: 1%")
    left.set(xlabel="x", ylabel="density", title="EM stopped early, infinite data",
             ylim=(0, 1.55 * max(run.models[max(run.models)].pdf(x).max() for run in runs.values())))
    left.legend(loc="upper center", fontsize=7.5, ncol=2)
    right.set(xlabel="generation n", ylabel="mass outside D₀'s central 99%", yscale="log",
              title="the tails vanish; the variance stays 1")
    right.legend(loc="lower left", fontsize=7.5)


def plot_sample_kde(axes, runs: Mapping[float, KDERun]) -> None:
    """Left: Vₙ of the finite-sample KDE (bands; thin: MC mean; dashed: exact E Vₙ; dotted:
    M h²). Right: MC mean of (mₙ − μ)² against its exact value."""
    left, right = axes
    for index, (bandwidth, run) in enumerate(runs.items()):
        generations = np.arange(run.n_generations + 1)
        colour = plotting.color(index)
        plotting.band(left, generations, run.variance,
                      label=f"h = {bandwidth:g} (M h² = {run.sample_size * bandwidth ** 2:g})",
                      color=colour)
        left.plot(generations, run.variance.mean(axis=1), color=colour, linewidth=0.7,
                  alpha=0.9)
        plotting.theory(left, generations, run.theory_variance(),
                        label="exact E Vₙ" if index == 0 else None)
        right.plot(generations, (run.mean ** 2).mean(axis=1), color=colour,
                   label=f"h = {bandwidth:g}")
        plotting.theory(right, generations, run.theory_mean_error(),
                        label="exact" if index == 0 else None)
    left.set(xlabel="generation n", ylabel="KDE variance Vₙ", yscale="log",
             title=f"KDE of M = {run.sample_size} samples")
    left.legend(loc="upper left", fontsize=7.5)
    right.set(xlabel="generation n", ylabel="MC mean of (mₙ − μ)²",
              title="the location still drifts")
    right.legend(loc="upper left")


def plot_combined(axes, statistical: gaussian.Trajectories, bimodal: gaussian.Trajectories,
                  floor: float, kde: KDERun, separation: float = SEPARATION) -> None:
    """Left: W2² to D_0 with statistical, expressivity, and both errors (compound). Right:
    variance with statistical, approximation, and both errors (cancel)."""
    left, right = axes
    start = gtheory.bimodal_start(separation)
    plotting.band(left, statistical.generations + 1, statistical.w2_squared(),
                  label="statistical only (Gaussian D₀)", color=plotting.color(0))
    left.plot([1, statistical.generations[-1] + 1], [floor, floor], color=plotting.color(1),
              linewidth=2, label="expressivity only (M → ∞)")
    plotting.band(left, bimodal.generations + 1,
                  start.w2_squared_to_gaussian(bimodal.mean, bimodal.std),
                  label="both (bimodal D₀, M samples)", color=plotting.color(2))
    left.set(xscale="log", yscale="log", xlabel="generation n + 1",
             ylabel="W2² to D₀", title="expressivity + statistical: they add")
    left.legend(loc="upper left", fontsize=7.5)

    generations = np.arange(kde.n_generations + 1)
    plotting.band(right, statistical.generations, statistical.std ** 2,
                  label="statistical only: Gaussian fit", color=plotting.color(0))
    right.plot(generations, exact_kde_variance(kde.bandwidth, kde.n_generations),
               color=plotting.color(1), linewidth=2, label="approximation only: KDE, M → ∞")
    plotting.band(right, generations, kde.variance,
                  label=f"both: KDE of M = {kde.sample_size}", color=plotting.color(2))
    plotting.theory(right, generations, kde.theory_variance(), label="exact E Vₙ")
    right.set(yscale="log", xlabel="generation n", ylabel="variance Vₙ (truth 1)",
              title="statistical + approximation (h² = σ²/M): they cancel")
    right.legend(loc="lower left", fontsize=7.5)


# =============================================================================== claims
def cancelling_run(kde_runs: Mapping[float, KDERun], sigma: float = 1.0) -> KDERun:
    """The finite-sample KDE run whose h² = σ²/M (E Vₙ = σ² at every generation)."""
    for bandwidth, run in kde_runs.items():
        if abs(bandwidth ** 2 * run.sample_size / sigma ** 2 - 1) < 1e-9:
            return run
    raise ValueError("kde_bandwidths must include h = σ/√M (M h² = σ²) for the cancellation "
                     f"experiment; got {sorted(kde_runs)}")


def declare_claims(record, settings: Mapping[str, Any]) -> None:
    """Fix every claim's criterion before the experiments run."""
    small, large = settings["small_sample_size"], settings["large_sample_size"]
    record.declare_claim(
        "statistical-only", "Finite samples alone make the fitted Gaussian collapse; the error "
        "disappears as the number of samples grows",
        "statistical approximation error: the primary error, it vanishes as M → ∞",
        f"M = {small}: median σ_N < 0.1 at the last generation N, and the exact median lies "
        f"inside the simulated 45–55% quantiles; M = {large:,}: the 10–90% band of σ_N lies "
        "within [0.95, 1.05]",
        reproduced_if=lambda v: v["small_median"] < 0.1 and v["median_inside"]
        and v["large_low"] >= 0.95 and v["large_high"] <= 1.05,
        partially_if=lambda v: v["small_median"] < 0.1 and v["large_low"] >= 0.9)
    record.declare_claim(
        "expressivity-first-generation", "With infinite data the expressivity error appears at "
        "the first fit and then stays fixed",
        "functional expressivity error: without the other two errors it can only occur at the "
        "first generation (paper's text, paraphrased; example: one Gaussian for two)",
        "bimodal D₀, one Gaussian fitted to the exact distribution: W2² to D₀ at generation 0 "
        "equals the exact 2 − 2κ (to 1e-9) and no later generation differs from it by more "
        "than 1e-9, under replace, accumulate and mix_real",
        reproduced_if=lambda v: v["first_error"] < 1e-9 and v["later_change"] < 1e-9)
    record.declare_claim(
        "approximation-kde", "An imperfect procedure alone moves the distribution every "
        "generation: a KDE of infinite data adds h² to the variance each time",
        "functional approximation error: arises even with infinite data and perfect "
        "expressivity (paper's text); the KDE recursion is derived here",
        "infinite data, replace: |Vₙ − (σ² + (n + 1)h²)| < 1e-9 at every generation "
        "(the opposite of collapse: the variance grows without bound)",
        reproduced_if=lambda v: v < 1e-9)
    record.declare_claim(
        "approximation-em", "EM stopped early, with infinite data and the true family, keeps "
        "the variance but sharpens the modes: the tails vanish",
        "not in the paper (an approximation error of the GMM family's own procedure)",
        "for the fewest EM iterations: |Vₙ − 1| < 1e-8 at every generation, the mass outside "
        "D₀'s central 99% falls below half its D₀ value (1%) by the last generation and the W2² "
        "to D₀ grows; with the most iterations the tail mass stays within 10% of 1%",
        reproduced_if=lambda v: v["variance_error"] < 1e-8 and v["fewest_tail"] < 0.005
        and v["fewest_w2_growth"] > 1 and abs(v["most_tail"] / 0.01 - 1) < 0.1,
        partially_if=lambda v: v["variance_error"] < 1e-8 and v["fewest_tail"] < 0.01)
    record.declare_claim(
        "kde-recursion", "A KDE refitted to M samples of itself: E V_{n+1} = (1 − 1/M) E Vₙ + h², "
        "so the variance goes to M h²",
        "not in the paper (derived here)",
        "every bandwidth: |MC mean − exact E Vₙ| ≤ 4 SE at generations 1, M/10, M, 3M and the "
        "last, and the exact E V_N within 2% of M h² when N ≥ 5M",
        reproduced_if=lambda v: v["max_z"] <= 4 and (v["n_over_m"] < 5 or v["max_gap"] <= 0.02),
        partially_if=lambda v: v["max_z"] <= 6)
    record.declare_claim(
        "errors-compound", "Errors can compound: expressivity and statistical errors add",
        "errors compound across generations; more often than not they cascade (paper's text, "
        "paraphrased)",
        f"M = {small}, generation 1: MC mean W2² to D₀ with both errors lies within ±10% of the "
        "sum of the parts (expressivity floor + statistical-only MC mean) and above the larger "
        "part by more than 4 SE (partially: above the larger part only)",
        reproduced_if=lambda v: abs(v["ratio_to_sum"] - 1) <= 0.1 and v["z"] > 4,
        partially_if=lambda v: v["z"] > 4)
    record.declare_claim(
        "errors-cancel", "Errors can cancel: with h² = σ²/M the KDE's kernel inflation offsets "
        "the finite-sample shrinkage",
        "better expressiveness can counteract statistical noise as well as compound it "
        "(paper's text, paraphrased)",
        f"KDE, M = {settings['kde_sample_size']}, h² = σ²/M: MC mean V_N within 4 SE of σ² at "
        "the last generation, while the statistical error alone leaves median σ²_N ≤ 0.5σ² and "
        "the approximation error alone V_N ≥ 1.5σ²",
        reproduced_if=lambda v: abs(v["z"]) <= 4 and v["statistical"] <= 0.5
        and v["approximation"] >= 1.5)
    record.declare_claim(
        "cancel-is-partial", "The cancellation is partial: the location still drifts",
        "not in the paper (derived here)",
        "the same KDE chain: MC mean of (m_N − μ)² within 4 SE of the exact (N + 1)σ²/M and "
        "≥ 10× its generation-0 value σ²/M",
        reproduced_if=lambda v: abs(v["z"]) <= 4 and v["growth"] >= 10)
    record.declare_claim(
        "policies-bound-approximation", "Fresh real data bounds the approximation error; "
        "accumulating slows it to logarithmic growth",
        "not in the paper (exact recursions derived here)",
        "infinite-data KDE: the loop's Vₙ equals σ² + h²·H_{n+1} (accumulate) and "
        "σ² + h²/f + (h² − h²/f)(1 − f)ⁿ (mix_real(f)) to 1e-9 at every generation",
        reproduced_if=lambda v: v < 1e-9)


def evaluate_claims(record, settings: Mapping[str, Any], statistical, expressivity, floor,
                    exact_kde, em, kde_runs, bimodal) -> None:
    """Measure every declared claim on this run."""
    small, large = settings["small_sample_size"], settings["large_sample_size"]
    run_small, run_large = statistical[small], statistical[large]
    last = run_small.generations[-1]
    exact_median = float(np.sqrt(gtheory.variance_quantiles([0.5], small, [last],
                                                            "unbiased")[0, 0]))
    low45, median, high55 = np.quantile(run_small.std[-1], [0.45, 0.5, 0.55])
    large_low, large_high = np.quantile(run_large.std[-1], [0.1, 0.9])
    record.evaluate("statistical-only",
                    {"small_median": median, "median_inside": low45 <= exact_median <= high55,
                     "large_low": large_low, "large_high": large_high},
                    f"M = {small}: median σ_N = {median:.4f} (exact {exact_median:.4f}) at "
                    f"N = {last:,}; M = {large:,}: 10–90% of σ_N = [{large_low:.4f}, "
                    f"{large_high:.4f}]")

    first = abs(expressivity["replace"]["w2_squared"][0] - floor)
    change = max(float(np.abs(run["w2_squared"] - run["w2_squared"][0]).max())
                 for run in expressivity.values())
    record.evaluate("expressivity-first-generation",
                    {"first_error": first, "later_change": change},
                    f"W2²₀ = {expressivity['replace']['w2_squared'][0]:.6f} (exact "
                    f"{floor:.6f}); largest later change {change:.1e} over "
                    f"{len(expressivity)} policies")

    bandwidth = settings["exact_kde_bandwidth"]
    replace = exact_kde["replace"]["variance"]
    gap = float(np.abs(replace - exact_kde_variance(bandwidth, len(replace) - 1)).max())
    record.evaluate("approximation-kde", gap,
                    f"V₀ = {replace[0]:.4f} → V_N = {replace[-1]:.3f} (N = {len(replace) - 1:,}, "
                    f"h = {bandwidth:g}); largest gap to σ² + (n+1)h²: {gap:.1e}")

    fewest, most = em[min(em)], em[max(em)]
    variance_error = max(float(np.abs(run["variance"] - 1).max()) for run in em.values())
    w2 = fewest["w2_squared"]
    finite = np.flatnonzero(np.isfinite(w2))
    growth = float(w2[finite[-1]] / w2[finite[1]]) if len(finite) > 1 else float("nan")
    record.evaluate("approximation-em",
                    {"variance_error": variance_error, "fewest_tail": fewest["tail_mass"][-1],
                     "fewest_w2_growth": growth, "most_tail": most["tail_mass"][-1]},
                    f"max |Vₙ − 1| = {variance_error:.1e}; tail mass at N: "
                    + ", ".join(f"{run.label} {run['tail_mass'][-1]:.2%}" for run in em.values())
                    + f"; W2² to D₀ ×{growth:.0f} from n = {finite[1]} to {finite[-1]} "
                    f"({fewest.label})")

    zs, gaps, n_over_m = [], [], None
    for bandwidth, run in kde_runs.items():
        size, horizon = run.sample_size, run.n_generations
        checks = sorted({g for g in (1, size // 10, size, 3 * size, horizon) if g <= horizon})
        mean, se = mc_mean_with_se(run.variance[checks])
        zs.append(float(np.abs((mean - run.theory_variance()[checks]) / se).max()))
        gaps.append(abs(run.theory_variance()[-1] / (size * bandwidth ** 2) - 1))
        n_over_m = horizon / size
    record.evaluate("kde-recursion", {"max_z": max(zs), "max_gap": max(gaps),
                                      "n_over_m": n_over_m},
                    f"max |z| = {max(zs):.1f} over {len(kde_runs)} bandwidths; exact E V_N / "
                    f"(M h²) − 1 up to {max(gaps):.1%}")

    start = gtheory.bimodal_start(SEPARATION)
    both = start.w2_squared_to_gaussian(bimodal.mean, bimodal.std)[bimodal.row(1)]
    alone = run_small.w2_squared()[run_small.row(1)]
    excess = both.mean() - max(floor, alone.mean())
    se = math.sqrt(both.var(ddof=1) / both.size + alone.var(ddof=1) / alone.size)
    record.evaluate("errors-compound",
                    {"ratio_to_sum": both.mean() / (floor + alone.mean()), "z": excess / se},
                    f"generation 1: both {both.mean():.4f}, statistical only {alone.mean():.4f}, "
                    f"expressivity only {floor:.4f}: both / (sum of the parts) = "
                    f"{both.mean() / (floor + alone.mean()):.2f}, {excess / se:.1f} SE above the "
                    "larger part")

    cancel = cancelling_run(kde_runs)
    mean, se = mc_mean_with_se(cancel.variance[-1])
    horizon = cancel.n_generations
    stat_row = run_small.row(horizon) if horizon in run_small.generations else -1
    stat_median = float(np.median(run_small.std[stat_row] ** 2))
    approximation = float(exact_kde_variance(cancel.bandwidth, horizon)[-1])
    record.evaluate("errors-cancel", {"z": (mean - 1) / se, "statistical": stat_median,
                                      "approximation": approximation},
                    f"N = {horizon:,}: both {mean:.3f} ± {se:.3f} (MC mean ± SE); statistical "
                    f"only: median σ² = {stat_median:.2g}; approximation only: {approximation:.2f}")

    error = cancel.mean[-1] ** 2
    mean_error, se_error = mc_mean_with_se(error)
    exact = cancel.theory_mean_error()[-1]
    record.evaluate("cancel-is-partial", {"z": (mean_error - exact) / se_error,
                                          "growth": exact * cancel.sample_size},
                    f"MC mean (m_N − μ)² = {mean_error:.3f} ± {se_error:.3f}, exact {exact:.3f} "
                    f"= {exact * cancel.sample_size:.0f} × σ²/M")

    worst, exact_bandwidth = 0.0, settings["exact_kde_bandwidth"]
    for label, run in exact_kde.items():
        policy, fraction = _parse_label(label)
        exact_curve = exact_kde_variance(exact_bandwidth, len(run["variance"]) - 1, policy,
                                         fraction)
        worst = max(worst, float(np.abs(run["variance"] - exact_curve).max()))
    finals = ", ".join(f"{label} {run['variance'][-1]:.3f}" for label, run in exact_kde.items())
    record.evaluate("policies-bound-approximation", worst,
                    f"largest gap {worst:.1e}; V_N: {finals}")
