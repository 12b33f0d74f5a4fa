"""Everything the error-sources chapter simulates, from its profile settings.

Each error source is switched on alone, then two together, every run through the shared loop
(:func:`collapse.core.loop.run_generations`):

* statistical error alone: the exact Gaussian family of :mod:`collapse.gaussian` with M
  samples per generation (:func:`statistical_only`); with the expressivity error too when D_0
  is bimodal (:func:`bimodal_statistical_run`);
* expressivity error alone: one Gaussian fitted to infinite data of a bimodal D_0
  (:func:`expressivity_only`);
* approximation error alone: a KDE of infinite data (:func:`exact_kde_runs`) and EM stopped
  early (:func:`em_runs`);
* statistical and approximation error together: a KDE of M samples (:func:`sample_kde_runs`).

Exact-distribution runs are deterministic (their random stream is never drawn from) and keep
the models of chosen generations in the fold ``history.folds["models"]``
(:class:`collapse.core.loop.KeepAt`). :func:`run` runs them all and returns
:class:`ErrorSourceRuns`; :func:`record_metrics` writes the chapter's headline numbers.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

import numpy as np

from ..core.experiment import Progress, Timings
from ..core.loop import History, KeepAt, Metric, run_generations
from ..core.policies import Policy, Replace, policy_from_name
from ..core.seeds import rng_for
from ..gaussian import theory as gaussian_theory
from ..gaussian.experiments import start_distribution_runs
from ..gaussian.family import ExactGaussian, true_data
from ..gaussian.trajectories import Trajectories, recorded_generations, simulate
from .family import (SEPARATION, EarlyStoppedEM, ExactKDE, Mixture1D, MomentMatchedGaussian,
                     SampleKDE, bimodal_distribution, gaussian_distribution, model_mean,
                     model_variance)
from .theory import (W2SquaredTo, expressivity_w2_squared, kde_expected_mean_error,
                     kde_expected_variance)

__all__ = [
    "statistical_only", "bimodal_statistical_run", "run_exact", "expressivity_only",
    "exact_kde_runs", "em_label", "em_runs", "sample_kde_runs", "kde_sample_size",
    "kde_theory_variance", "kde_theory_mean_error", "cancelling_bandwidth",
    "EXPRESSIVITY_POLICIES", "ErrorSourceRuns", "run", "record_metrics",
]

EXPRESSIVITY_POLICIES = ("replace", "accumulate", "mix_real(0.5)")
"""The data policies of the expressivity experiment (with infinite data none changes it)."""


# =============================================================================== finite data
def statistical_only(sample_sizes: Sequence[int], n_seeds: int, n_generations: int,
                     seed: int) -> dict[int, Trajectories]:
    """Statistical error alone: N(0, 1) data, the exact Gaussian family (unbiased fit), M
    samples per generation (exact sufficient-statistics sampler), `replace`. M -> run."""
    family = ExactGaussian("unbiased")
    runs = {}
    for size in sample_sizes:
        rng = rng_for(seed, "error_sources", "statistical", size)
        runs[size] = simulate(family, true_data(family, n_seeds, size, rng), Replace(size),
                              n_generations, rng, f"M = {size:,}")
    return runs


def bimodal_statistical_run(sample_size: int, n_seeds: int, n_generations: int, seed: int,
                            separation: float = SEPARATION) -> Trajectories:
    """Statistical and expressivity error together: generation 0 is a Gaussian fitted to M
    points of the bimodal D_0, later generations to M points of the previous Gaussian."""
    start = gaussian_theory.bimodal_start(separation)
    return start_distribution_runs([start], sample_size, n_seeds, n_generations,
                                   seed)[start.name]


def sample_kde_runs(sample_size: int, bandwidths: Sequence[float], n_seeds: int,
                    n_generations: int, seed: int) -> dict[float, History]:
    """Statistical and approximation error together: a fixed-bandwidth KDE of M points,
    refitted to M samples of itself, from M real N(0, 1) points, S seeds at once.
    h -> History with ``variance`` and ``mean``, shape (N + 1, S)."""
    runs = {}
    for bandwidth in bandwidths:
        rng = rng_for(seed, "error_sources", "kde", sample_size, bandwidth)
        real = rng.standard_normal((n_seeds, sample_size))
        runs[bandwidth] = run_generations(SampleKDE(bandwidth), real, Replace(sample_size),
                                          n_generations, rng,
                                          {"variance": model_variance, "mean": model_mean})
    return runs


def kde_sample_size(history: History) -> int:
    """M of a finite-sample KDE run (the size of every generation's data)."""
    return int(history.sizes[0])


def kde_theory_variance(history: History, bandwidth: float, sigma: float = 1.0) -> np.ndarray:
    """Exact E V_n, n = 0 … N, for the KDE run ``history`` (:func:`kde_expected_variance`)."""
    return kde_expected_variance(kde_sample_size(history), bandwidth, history.n_generations,
                                 sigma)


def kde_theory_mean_error(history: History, bandwidth: float,
                          sigma: float = 1.0) -> np.ndarray:
    """Exact E(m_n − μ)², n = 0 … N, for the KDE run ``history``."""
    return kde_expected_mean_error(kde_sample_size(history), bandwidth, history.n_generations,
                                   sigma)


def cancelling_bandwidth(sample_size: int, bandwidths: Sequence[float],
                         sigma: float = 1.0) -> float:
    """The bandwidth among ``bandwidths`` with h² = σ²/M (E V_n = σ² at every generation), or
    ValueError naming ``kde_bandwidths``."""
    for bandwidth in bandwidths:
        if abs(bandwidth ** 2 * sample_size / sigma ** 2 - 1) < 1e-9:
            return bandwidth
    raise ValueError("kde_bandwidths must include h = σ/√M (M h² = σ²) for the cancellation "
                     f"experiment; got {sorted(bandwidths)} with M = {sample_size}")


# =============================================================================== exact data
def run_exact(family, real: Mixture1D, policy: Policy, n_generations: int,
              metrics: Mapping[str, Metric], keep: Sequence[int] = ()) -> History:
    """A deterministic run on exact distributions; the models of generations ``keep`` are in
    ``history.folds["models"]`` (generation -> :class:`Mixture1D`)."""
    return run_generations(family, real, policy, n_generations,
                           np.random.default_rng(0),  # never drawn from: everything is exact
                           metrics, folds={"models": KeepAt(keep)})


def expressivity_only(n_generations: int, separation: float = SEPARATION,
                      policies: Sequence[Policy | str] = ("replace",),
                      keep: Sequence[int] = (0, 1)) -> dict[str, History]:
    """Expressivity error alone: infinite data from the bimodal D_0, a single Gaussian fitted
    by maximum likelihood each generation. Policy label -> History with ``mean``,
    ``variance`` and ``w2_squared`` (to D_0, exactly via the quantile coupling)."""
    start = gaussian_theory.bimodal_start(separation)

    def w2_squared(model: Mixture1D, data=None, generation=None) -> float:
        return float(start.w2_squared_to_gaussian(model.mean(), math.sqrt(model.variance())))

    metrics = {"mean": model_mean, "variance": model_variance, "w2_squared": w2_squared}
    runs = {}
    for policy in policies:
        policy = policy if isinstance(policy, Policy) else policy_from_name(policy)
        runs[policy.label()] = run_exact(MomentMatchedGaussian(),
                                         bimodal_distribution(separation), policy,
                                         n_generations, metrics, keep)
    return runs


def exact_kde_runs(bandwidth: float, n_generations: int,
                   policies: Sequence[Policy | str]) -> dict[str, History]:
    """Approximation error alone: infinite data from N(0, 1), an exact KDE (bandwidth h)
    each generation, under each policy. Policy label -> History with ``variance``, ``mean``."""
    metrics = {"mean": model_mean, "variance": model_variance}
    runs = {}
    for policy in policies:
        policy = policy if isinstance(policy, Policy) else policy_from_name(policy)
        runs[policy.label()] = run_exact(ExactKDE(bandwidth), gaussian_distribution(), policy,
                                         n_generations, metrics)
    return runs


def em_label(n_iter: int) -> str:
    """How the EM run stopped after ``n_iter`` iterations is named in figures and claims."""
    return f"EM, {n_iter} iteration" + "s" * (n_iter != 1)


def em_runs(iterations: Sequence[int], n_generations: int, separation: float = SEPARATION,
            keep: Sequence[int] = (0,), tail_level: float = 0.99,
            distance_generations: Sequence[int] | None = None) -> dict[int, History]:
    """Approximation error alone: infinite data from the bimodal D_0, a two-component mixture
    fitted by EM stopped after k iterations. k -> History with ``variance``, ``mean``,
    ``component_sd`` (weight-averaged component standard deviation), ``tail_mass`` (mass
    outside D_0's central ``tail_level`` interval) and ``w2_squared`` to D_0 (at
    ``distance_generations``, default :func:`collapse.gaussian.trajectories.
    recorded_generations`; NaN elsewhere)."""
    truth = bimodal_distribution(separation)
    low, high = truth.quantile(np.array([(1 - tail_level) / 2, (1 + tail_level) / 2]))

    def component_sd(model: Mixture1D, data=None, generation=None) -> float:
        return float(model.weights @ np.sqrt(model.variances))

    def tail_mass(model: Mixture1D, data=None, generation=None) -> float:
        return model.tail_mass_outside(low, high)

    if distance_generations is None:
        distance_generations = recorded_generations(n_generations, 20, 20)
    metrics = {"variance": model_variance, "mean": model_mean, "component_sd": component_sd,
               "tail_mass": tail_mass,
               "w2_squared": W2SquaredTo(truth, generations=distance_generations)}
    return {n_iter: run_exact(EarlyStoppedEM(int(n_iter)), truth, Replace(), n_generations,
                              metrics, keep)
            for n_iter in iterations}


# =============================================================================== the chapter
@dataclasses.dataclass
class ErrorSourceRuns:
    """Everything the chapter simulates (:func:`run`).

    ``statistical``: M -> Gaussian runs (``small_sample_size`` and ``large_sample_size``);
    ``expressivity``: policy label -> exact run, its W2² floor ``expressivity_floor``;
    ``exact_kde``: policy label -> infinite-data KDE run (bandwidth ``exact_kde_bandwidth``);
    ``em``: k -> early-stopped EM run; ``kde``: h -> finite-sample KDE run (M =
    ``kde_sample_size``); ``bimodal``: the Gaussian runs from the bimodal D_0 (M =
    ``small_sample_size``); ``timings``: wall seconds per section.
    """

    small_sample_size: int
    large_sample_size: int
    statistical: dict[int, Trajectories]
    expressivity: dict[str, History]
    expressivity_floor: float
    exact_kde_bandwidth: float
    exact_kde: dict[str, History]
    em: dict[int, History]
    kde_sample_size: int
    kde: dict[float, History]
    bimodal: Trajectories
    timings: Timings

    @property
    def cancelling_bandwidth(self) -> float:
        """The KDE bandwidth with h² = σ²/M (errors cancel in expectation)."""
        return cancelling_bandwidth(self.kde_sample_size, list(self.kde))

    @property
    def cancelling(self) -> History:
        """The finite-sample KDE run whose h² = σ²/M."""
        return self.kde[self.cancelling_bandwidth]


def run(settings: Mapping[str, Any], progress: Progress | None = None) -> ErrorSourceRuns:
    """Every experiment of the chapter under ``settings`` (its profile settings)."""
    seed, timings = settings["seed"], Timings()
    small, large = settings["small_sample_size"], settings["large_sample_size"]
    cancelling_bandwidth(settings["kde_sample_size"], settings["kde_bandwidths"])  # fail early

    def report(section: str, text: str) -> None:
        if progress:
            progress(f"{section:<14s} {text} in {timings[section]:.1f} s")

    with timings("statistical"):
        statistical = statistical_only([small, large], settings["n_seeds"],
                                       settings["n_generations"], seed)
    report("statistical", f"M = {small}, {large:,}: {settings['n_seeds']} seeds × "
                          f"{settings['n_generations']} generations")
    with timings("expressivity"):
        expressivity_generations = settings["expressivity_generations"]
        expressivity = expressivity_only(expressivity_generations,
                                         policies=EXPRESSIVITY_POLICIES,
                                         keep=(0, 1, expressivity_generations))
        floor = expressivity_w2_squared()
    report("expressivity", f"{len(expressivity)} policies × {expressivity_generations} "
                           "generations")
    with timings("approximation"):
        policies = [policy_from_name("replace"), policy_from_name("accumulate")] + [
            policy_from_name("mix_real", fraction=fraction)
            for fraction in settings["mix_fractions"]]
        exact_kde = exact_kde_runs(settings["exact_kde_bandwidth"],
                                   settings["exact_kde_generations"], policies)
        em = em_runs(settings["em_iterations"], settings["em_generations"],
                     keep=(settings["em_generations"],))
    report("approximation", f"exact KDE under {len(exact_kde)} policies, EM stopped after "
                            f"{list(settings['em_iterations'])} iterations")
    with timings("kde"):
        kde = sample_kde_runs(settings["kde_sample_size"], settings["kde_bandwidths"],
                              settings["kde_seeds"], settings["kde_generations"], seed)
    report("kde", f"{len(kde)} bandwidths: {settings['kde_seeds']} seeds × "
                  f"{settings['kde_generations']} generations")
    with timings("combined"):
        bimodal = bimodal_statistical_run(small, settings["n_seeds"], settings["n_generations"],
                                          seed)
    report("combined", f"bimodal D₀, M = {small}")
    return ErrorSourceRuns(small, large, statistical, expressivity, floor,
                           settings["exact_kde_bandwidth"], exact_kde, em,
                           settings["kde_sample_size"], kde, bimodal, timings)


# =============================================================================== metrics
def record_metrics(record, runs: ErrorSourceRuns) -> None:
    """The chapter's headline numbers for ``_build/results/error_sources.json``."""
    record.metric("statistical_median_sigma_last", {
        str(size): float(np.median(run.std[-1])) for size, run in runs.statistical.items()})
    record.metric("expressivity_w2_squared", runs.expressivity_floor)
    record.metric("exact_kde_variance_last", {label: float(run["variance"][-1])
                                              for label, run in runs.exact_kde.items()})
    record.metric("em_tail_mass_last", {str(k): float(run["tail_mass"][-1])
                                        for k, run in runs.em.items()})
    record.metric("em_component_sd_last", {str(k): float(run["component_sd"][-1])
                                           for k, run in runs.em.items()})
    record.metric("kde_variance_last", {
        str(h): {"mc_mean": float(run["variance"][-1].mean()),
                 "median": float(np.median(run["variance"][-1])),
                 "exact_mean": float(kde_theory_variance(run, h)[-1]),
                 "fixed_point": kde_sample_size(run) * h ** 2}
        for h, run in runs.kde.items()})
    record.metric("cancel_mean_error_last", float((runs.cancelling["mean"][-1] ** 2).mean()))
    record.metric("timings_seconds", dict(runs.timings))
