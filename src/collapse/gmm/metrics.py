"""What the loop records of a GMM chain, and the measures of a fitted mixture.

* :data:`PARAMETER_METRICS`: the fitted weights, means, covariances and EM iterations of
  every generation (loop metrics: they keep no state);
* :func:`snapshot_fold`: the training points of chosen seeds at chosen generations, as a
  :class:`collapse.core.loop.KeepAt` fold (saved in checkpoints, so it survives a resume);
* :func:`component_spread` / :func:`mean_spread`: the authors' per-component spread;
* :func:`hdr_log_threshold` / :func:`tail_masses`: Monte-Carlo tail masses against the truth;
* :class:`MixtureHistory`: one (setup, policy) group of a recorded run, with its derived
  quantities (∫(p_0 − p_n)², spreads, tails, snapshots).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
from scipy import stats

from ..core.loop import History, KeepAt
from . import batched_em
from .batched_em import Mixture
from .family import GMMFit
from .theory import gaussian_product_integral, gaussian_w2_squared, l2_squared, mixture_moments

__all__ = ["model_parameters", "PARAMETER_METRICS", "TrainingPoints", "snapshot_fold",
           "component_spread", "mean_spread", "hdr_log_threshold", "tail_masses",
           "at_generation", "single_run_interval", "MixtureHistory"]


# --------------------------------------------------------------------------- loop records
def model_parameters(model) -> dict[str, np.ndarray]:
    """weights (S, K), means (S, K, 2), covariances (S, K, 2, 2), n_iter (S,) of a model of
    either family (a scikit-learn model counts as one seed)."""
    if isinstance(model, GMMFit):
        m = model.mixture
        return {"weights": m.weights, "means": m.means, "covariances": m.covariances,
                "n_iter": model.n_iter}
    return {"weights": model.weights_[None], "means": model.means_[None],
            "covariances": model.covariances_[None], "n_iter": np.array([model.n_iter_])}


PARAMETER_METRICS: dict[str, Callable] = {
    name: (lambda model, data, generation, _name=name: model_parameters(model)[_name])
    for name in ("weights", "means", "covariances", "n_iter")}


class TrainingPoints:
    """``take(model, data)`` of a :class:`KeepAt` fold: a copy of the training points of the
    seeds ``seeds`` (indices on the seed axis), shape (len(seeds), N, 2); data without a
    seed axis (the scikit-learn family) count as one seed."""

    def __init__(self, seeds: Sequence[int]):
        self.seeds = [int(seed) for seed in seeds]

    def __call__(self, model, data) -> np.ndarray:
        points = np.asarray(data)
        points = points[None] if points.ndim == 2 else points
        return points[self.seeds].copy()


def snapshot_fold(generations: Iterable[int], seeds: Sequence[int] = (0,)) -> KeepAt:
    """A fold keeping {generation: training points of ``seeds``} at ``generations``."""
    return KeepAt(generations, TrainingPoints(seeds))


# --------------------------------------------------------------------------- spreads
def component_spread(covariances: np.ndarray) -> np.ndarray:
    """√(tr Σ / 2) per component (the authors' per-component std): (..., K, 2, 2) -> (..., K)."""
    return np.sqrt(np.trace(covariances, axis1=-2, axis2=-1) / 2)


def mean_spread(weights: np.ndarray, covariances: np.ndarray) -> np.ndarray:
    """Σ_k w_k √(tr Σ_k / 2): the per-component spread averaged with the mixture weights
    ((..., K), (..., K, 2, 2) -> (...))."""
    return (weights * component_spread(covariances)).sum(-1)


# --------------------------------------------------------------------------- tails
def hdr_log_threshold(mixture: Mixture, level: float, n_samples: int,
                      rng: np.random.Generator) -> np.ndarray:
    """log t with P_{X~p}(p(X) >= t) = level: the log-density cut of p's ``level``
    highest-density region, estimated from ``n_samples`` draws per seed (S,)."""
    samples = batched_em.sample_mixture(mixture, n_samples, rng)
    return np.quantile(batched_em.log_density(samples, mixture), 1 - level, axis=1)


def tail_masses(model: Mixture, truth: Mixture, truth_log_thresholds: Mapping[float, float],
                truth_samples: np.ndarray, n_samples: int, rng: np.random.Generator) -> dict:
    """Monte-Carlo tail metrics of generation-n mixtures ``model`` (S seeds) against the
    true distribution ``truth`` (one seed), for each HDR level α:

    * ``outside[α]`` (S,): P_{Y~q_n}(p(Y) < t_α) — mass q_n puts outside the true α-HDR
      (α = 0.99 gives 0.01 for a perfect fit);
    * ``covered[α]`` (S,): P_{X~p}(q_n(X) >= s_α), s_α the α-HDR cut of q_n itself — the
      true mass still inside q_n's α-HDR (α for a perfect fit).

    ``truth_samples``: (M, 2) fixed draws from the truth; ``n_samples`` draws from each q_n.
    """
    n_seeds = model.n_seeds
    draws = batched_em.sample_mixture(model, n_samples, rng)               # (S, M, 2)
    truth_at_draws = batched_em.log_density(draws, truth)
    model_at_draws = batched_em.log_density(draws, model)
    model_at_truth = batched_em.log_density(
        np.broadcast_to(truth_samples, (n_seeds,) + truth_samples.shape), model)
    outside, covered = {}, {}
    for level, threshold in truth_log_thresholds.items():
        outside[level] = (truth_at_draws < threshold).mean(1)
        own_cut = np.quantile(model_at_draws, 1 - level, axis=1)
        covered[level] = (model_at_truth >= own_cut[:, None]).mean(1)
    return {"outside": outside, "covered": covered}


# --------------------------------------------------------------------------- recorded runs
def single_run_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Where one more run's value falls with probability ``level``, from the S seeds' values
    (S,), taken as normal: mean ± t_{S−1} · sd · √(1 + 1/S) (a prediction interval; apply it
    to logarithms of positive, skewed quantities). (nan, nan) with fewer than two seeds."""
    values = np.asarray(values, float).ravel()
    if values.size < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf((1 + level) / 2, values.size - 1) * values.std(ddof=1) \
        * np.sqrt(1 + 1 / values.size)
    return float(values.mean() - half), float(values.mean() + half)


def at_generation(values: np.ndarray, generation: int) -> np.ndarray:
    """Row ``generation`` of per-generation ``values`` (G+1, ...), the last row for a run
    shorter than ``generation``."""
    return values[min(generation, len(values) - 1)]


@dataclasses.dataclass
class MixtureHistory:
    """Every generation's fitted mixtures of one (setup, policy) group: row n = generation n.

    weights (G+1, S, K), means (G+1, S, K, 2), covariances (G+1, S, K, 2, 2), n_iter (G+1, S),
    sizes (G+1,) training-set size per generation; ``wall_seconds``/``cpu_seconds`` and
    ``batch``: of the whole batch the group ran in; ``tails``: from :func:`tail_masses` at
    ``tail_generations``, arrays (E, S) per level; ``snapshots``: generation -> training
    points (N, 2) of the group's first seed."""

    setup: str
    policy: str
    n_points: int
    n_components: int
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    n_iter: np.ndarray
    sizes: np.ndarray
    wall_seconds: float = float("nan")
    cpu_seconds: float = float("nan")
    tail_generations: np.ndarray | None = None
    tails: dict | None = None
    snapshots: dict = dataclasses.field(default_factory=dict)
    batch: str = ""

    @classmethod
    def from_history(cls, history: History, setup: str, policy: str, n_points: int,
                     n_components: int, seeds: slice = slice(None), **extra: Any
                     ) -> "MixtureHistory":
        """The seeds ``seeds`` of a loop run recorded with :data:`PARAMETER_METRICS`."""
        m = history.metrics
        return cls(setup, policy, n_points, n_components, m["weights"][:, seeds],
                   m["means"][:, seeds], m["covariances"][:, seeds], m["n_iter"][:, seeds],
                   history.sizes, wall_seconds=history.seconds, **extra)

    @property
    def n_generations(self) -> int:
        return self.weights.shape[0] - 1

    @property
    def n_seeds(self) -> int:
        return self.weights.shape[1]

    @property
    def generations(self) -> np.ndarray:
        return np.arange(self.n_generations + 1)

    def mixture(self, generation: int) -> Mixture:
        return Mixture(self.weights[generation], self.means[generation],
                       self.covariances[generation])

    def _flat(self) -> Mixture:
        g, s, k = self.weights.shape
        return Mixture(self.weights.reshape(g * s, k), self.means.reshape(g * s, k, 2),
                       self.covariances.reshape(g * s, k, 2, 2))

    def l2_to_generation0(self) -> np.ndarray:
        """∫(p_0 − p_n)² per generation and seed (G+1, S): the authors' distance."""
        g, s, _ = self.weights.shape
        first = Mixture(*(np.broadcast_to(v[None], (g,) + v.shape).reshape((g * s,) + v.shape[1:])
                          for v in (self.weights[0], self.means[0], self.covariances[0])))
        return l2_squared(first, self._flat()).reshape(g, s)

    def l2_to(self, reference: Mixture) -> np.ndarray:
        """∫(p − p_n)² per generation and seed (G+1, S) to a one-seed mixture p (e.g. the
        setup's true mixture)."""
        g, s, _ = self.weights.shape
        return l2_squared(reference, self._flat()).reshape(g, s)

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Overall mean (G+1, S, 2) and covariance (G+1, S, 2, 2) of every fitted mixture."""
        return mixture_moments(self.weights, self.means, self.covariances)

    def w2_to_generation0(self) -> np.ndarray:
        """W2² between the Gaussians with the overall mean and covariance of p_0 and of p_n,
        per generation and seed (G+1, S): a lower bound on W2²(p_0, p_n) (Gelbrich) that is
        not dominated by how peaked p_n is (:func:`~collapse.gmm.theory.gaussian_w2_squared`)."""
        mean, covariance = self.moments()
        return gaussian_w2_squared(mean[:1], covariance[:1], mean, covariance)

    def density_square_integral(self) -> np.ndarray:
        """∫ p_n² per generation and seed (G+1, S): the part of ∫(p_0 − p_n)² that only
        measures how peaked p_n is (1/(4π s²) for one isotropic Gaussian of spread s)."""
        g, s, _ = self.weights.shape
        flat = self._flat()
        return gaussian_product_integral(flat, flat).reshape(g, s)

    def spread(self) -> np.ndarray:
        """Weight-averaged per-component spread Σ_k w_k √(tr Σ_k/2): (G+1, S)."""
        return mean_spread(self.weights, self.covariances)

    def tail_halving_generation(self, kind: str, level: float) -> int | None:
        """First evaluated generation at which the median over seeds of ``tails[kind][level]``
        is at most half its generation-0 value (None: not within the run)."""
        medians = np.median(self.tails[kind][level], axis=1)
        below = np.flatnonzero(medians <= 0.5 * medians[0])
        return int(self.tail_generations[below[0]]) if below.size else None
