"""Everything the Gaussian chapter simulates, from its profile settings.

:func:`run` runs, in order, the authors' single runs, the many-seed sweep over M and both
estimators, the non-Gaussian starting distributions, every data policy and the comparison of
the two samplers, and returns them as :class:`GaussianRuns`; :func:`record_metrics` writes the
chapter's headline numbers. Each experiment draws from its own stream
(:func:`collapse.core.seeds.rng_for` with the master seed and the experiment's labels), so
adding or reordering experiments never changes another one's numbers.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from scipy import stats

from ..core.experiment import Progress, Timings
from ..core.policies import (Accumulate, AccumulateSubsample, Growing, MixReal, Replace,
                             policy_from_name)
from ..core.seeds import rng_for
from ..core.stats import mc_mean_with_se
from . import theory
from .family import ExactGaussian, GaussianStats, NaiveGaussian, true_data
from .summaries import breakdown_generations, median_std_table
from .trajectories import Trajectories, simulate

__all__ = [
    "authors_runs", "variance_sweep", "start_distribution_runs", "PolicySpec", "policy_specs",
    "policy_runs", "SamplerComparison", "compare_samplers", "GaussianRuns", "run",
    "record_metrics", "policy_trajectories", "policy_run",
]

SweepKey = tuple[str, int]  # (estimator, M)


# =============================================================================== experiments
def authors_runs(sample_sizes: Sequence[int], n_generations: int, seed: int) \
        -> dict[int, Trajectories]:
    """The authors' experiment: one run per M, all M points drawn (naive sampler), biased
    estimator (``np.std``), μ = 0, σ = 1. Returns M -> Trajectories with S = 1."""
    family = NaiveGaussian("biased")
    runs = {}
    for size in sample_sizes:
        rng = rng_for(seed, "authors", size)
        runs[size] = simulate(family, true_data(family, 1, size, rng), Replace(size),
                              n_generations, rng, f"M = {size}",
                              keep=np.arange(n_generations + 1))
    return runs


def variance_sweep(sample_sizes: Sequence[int], estimators: Sequence[str], n_seeds: int,
                   n_generations: Callable[[int], int] | int, seed: int,
                   progress: Progress | None = None) -> dict[SweepKey, Trajectories]:
    """Many seeds, exact sampler, `replace`: (estimator, M) -> Trajectories."""
    runs = {}
    for estimator in estimators:
        family = ExactGaussian(estimator)
        for size in sample_sizes:
            generations = n_generations(size) if callable(n_generations) else n_generations
            rng = rng_for(seed, "sweep", estimator, size)
            runs[estimator, size] = simulate(family, true_data(family, n_seeds, size, rng),
                                             Replace(size), generations, rng,
                                             f"M = {size}, {estimator}")
            if progress:
                progress(f"  {estimator:8s} M = {size:>6}: {n_seeds} seeds × {generations} "
                         f"generations in {runs[estimator, size].seconds:.1f} s")
    return runs


def start_distribution_runs(starts: Sequence[theory.StartDistribution], sample_size: int,
                            n_seeds: int, n_generations: int, seed: int,
                            estimator: str = "unbiased") -> dict[str, Trajectories]:
    """Theorem 3.1's generality: generation 0 is fitted to M points of a non-Gaussian D_0,
    later generations are Gaussian (exact sampler). name -> Trajectories."""
    family = ExactGaussian(estimator)
    runs = {}
    for start in starts:
        rng = rng_for(seed, "start", start.name)
        real = GaussianStats.from_samples(start.sample(rng, (n_seeds, sample_size)))
        runs[start.name] = simulate(family, real, Replace(sample_size), n_generations, rng,
                                    start.name)
    return runs


# =============================================================================== policies
@dataclasses.dataclass(frozen=True)
class PolicySpec:
    """One row of the policy comparison: how it is run and at what scale."""

    label: str
    make_policy: Callable[[], Any]
    sampler: str  # "exact" or "naive"
    n_seeds: int
    n_generations: int
    theory_schedule: Callable[[int], np.ndarray] | None = None  # N -> M_0..M_N, if theory


def policy_specs(sample_size: int, n_generations: int, n_seeds: int,
                 fractions: Sequence[float], naive_seeds: int, naive_generations: int,
                 subsample_seeds: int, subsample_generations: int) -> list[PolicySpec]:
    """Every data policy at base size M = ``sample_size`` (see the chapter's scale table)."""
    size = sample_size

    def constant(n):
        return np.full(n + 1, size, float)

    def linear(n):
        return size * (np.arange(n + 1) + 1.0)

    def quadratic(n):
        return size * (np.arange(n + 1) + 1.0) ** 2

    specs = [
        PolicySpec("replace (constant M)", lambda: Replace(size), "exact", n_seeds,
                   n_generations, constant),
        PolicySpec("growing, Mᵢ ∝ i", lambda: Growing(lambda n: size * (n + 1),
                                                         f"{size}·(i+1)"),
                   "exact", n_seeds, n_generations, linear),
        PolicySpec("growing, Mᵢ ∝ i²", lambda: Growing(lambda n: size * (n + 1) ** 2,
                                                          f"{size}·(i+1)²"),
                   "exact", n_seeds, n_generations, quadratic),
        PolicySpec("accumulate", lambda: Accumulate(size), "exact", n_seeds, n_generations),
    ]
    for fraction in fractions:
        specs.append(PolicySpec(f"mix_real({fraction:g})",
                                lambda fraction=fraction: MixReal(fraction, size), "naive",
                                naive_seeds, naive_generations))
    specs.append(PolicySpec("accumulate_subsample", lambda: AccumulateSubsample(size), "naive",
                            subsample_seeds, subsample_generations))
    return specs


def policy_runs(specs: Sequence[PolicySpec], sample_size: int, seed: int,
                estimator: str = "unbiased", progress: Progress | None = None) \
        -> dict[str, Trajectories]:
    """Run every policy of ``specs`` through the loop: label -> Trajectories."""
    runs = {}
    for spec in specs:
        family = ExactGaussian(estimator) if spec.sampler == "exact" else NaiveGaussian(estimator)
        rng = rng_for(seed, "policy", spec.label)
        runs[spec.label] = simulate(family, true_data(family, spec.n_seeds, sample_size, rng),
                                    spec.make_policy(), spec.n_generations, rng, spec.label,
                                    keep=np.arange(spec.n_generations + 1))
        if progress:
            progress(f"  {spec.label:22s} {spec.sampler:5s} sampler: {spec.n_seeds} seeds × "
                     f"{spec.n_generations} generations in {runs[spec.label].seconds:.1f} s")
    return runs


def policy_trajectories(policy: str, n_seeds: int, n_generations: int,
                        rng: np.random.Generator, *, real_rng: np.random.Generator,
                        settings: Mapping[str, Any]) -> Trajectories:
    """The unbiased fit under ``policy`` (a name :func:`~collapse.core.policies.policy_from_name`
    accepts; M = ``settings["sample_size"]``, also M₀ of `growing`), every generation kept.

    Generation 0 is fitted to M points of N(0, 1) per seed drawn from ``real_rng`` (so runs
    given equal ``real_rng`` streams start from the same data); the loop draws from ``rng``.
    Policies that draw points from a pool (``needs_points``) run on the naive sampler, the
    others on the exact sufficient-statistics one."""
    size = settings["sample_size"]
    chosen = policy_from_name(policy, sample_size=size)
    points = real_rng.standard_normal((n_seeds, size))
    family = NaiveGaussian("unbiased") if chosen.needs_points else ExactGaussian("unbiased")
    real = points if chosen.needs_points else GaussianStats.from_samples(points)
    return simulate(family, real, chosen, n_generations, rng, chosen.label(),
                    keep=np.arange(n_generations + 1))


def policy_run(policy: str, n_seeds: int, n_generations: int, rng: np.random.Generator, *,
               real_rng: np.random.Generator, settings: Mapping[str, Any]) -> np.ndarray:
    """The cross-family comparison's protocol (:class:`collapse.core.experiment.PolicyRunner`):
    W2² of the fit to the truth N(0, 1), shape (n_generations + 1, n_seeds), of
    :func:`policy_trajectories` (``settings``: ``sample_size``)."""
    return policy_trajectories(policy, n_seeds, n_generations, rng, real_rng=real_rng,
                               settings=settings).w2_squared()


# =============================================================================== samplers
@dataclasses.dataclass
class SamplerComparison:
    """Exact and naive sampler on the same (M, S, N): their trajectories, two-sample KS tests
    of σ̂ and μ̂ at the last generation, and the wall-time ratio naive/exact."""

    exact: Trajectories
    naive: Trajectories
    ks_std: Any
    ks_mean: Any

    @property
    def speed_ratio(self) -> float:
        return self.naive.seconds / self.exact.seconds


def compare_samplers(sample_size: int, n_seeds: int, n_generations: int, seed: int,
                     estimator: str = "unbiased", min_seconds: float = 0.2) -> SamplerComparison:
    """Run `replace` with both samplers (independent streams) through the loop.

    Timing: each sampler's run is repeated (same seed, same result) until ``min_seconds`` of
    wall time have been spent, and the fastest repeat is kept (as ``timeit`` does): the exact
    run takes milliseconds, too short to time once on a shared machine.
    """
    keep = np.arange(n_generations + 1)
    runs = {}
    for family in (ExactGaussian(estimator), NaiveGaussian(estimator)):
        spent, best = 0.0, None
        while best is None or spent < min_seconds:
            rng = rng_for(seed, "samplers", family.sampler)
            run = simulate(family, true_data(family, n_seeds, sample_size, rng),
                           Replace(sample_size), n_generations, rng,
                           f"{family.sampler} sampler", keep=keep)
            spent += run.seconds
            best = run if best is None or run.seconds < best.seconds else best
        runs[family.sampler] = best
    exact, naive = runs["exact"], runs["naive"]
    return SamplerComparison(exact, naive, stats.ks_2samp(exact.std[-1], naive.std[-1]),
                             stats.ks_2samp(exact.mean[-1], naive.mean[-1]))


# =============================================================================== the chapter
@dataclasses.dataclass
class GaussianRuns:
    """Everything the chapter simulates (:func:`run`), and the scales figures and text need.

    ``authors``: M -> the authors' single run; ``sweep``: (estimator, M) -> many-seed run, for
    the chapter's ``sample_sizes`` (``n_generations`` each) and the authors' sizes (their
    ``authors_generations``); ``starts``: name -> D_0 and ``start_runs``: name -> run (Gaussian
    D_0 first); ``policies``: label -> run, one per ``specs`` row; ``samplers``: the sampler
    comparison; ``timings``: wall seconds per experiment.
    """

    sample_sizes: list[int]
    n_seeds: int
    authors_generations: int
    start_sample_size: int
    policy_sample_size: int
    authors: dict[int, Trajectories]
    sweep: dict[SweepKey, Trajectories]
    starts: dict[str, theory.StartDistribution]
    start_runs: dict[str, Trajectories]
    specs: list[PolicySpec]
    policies: dict[str, Trajectories]
    samplers: SamplerComparison
    timings: Timings

    @property
    def long_sweep(self) -> dict[SweepKey, Trajectories]:
        """The sweep at the chapter's ``sample_sizes`` only (the long many-seed runs)."""
        return {key: run for key, run in self.sweep.items() if key[1] in self.sample_sizes}

    def sizes_up_to(self, largest: int) -> list[int]:
        """The chapter's ``sample_sizes`` that are ≤ ``largest`` (for figures that would be
        unreadable with every M)."""
        return [size for size in self.sample_sizes if size <= largest]


def run(settings: Mapping[str, Any], progress: Progress | None = None) -> GaussianRuns:
    """Every experiment of the chapter under ``settings`` (its profile settings)."""
    seed, timings = settings["seed"], Timings()
    with timings("authors"):
        authors = authors_runs(settings["authors_sample_sizes"], settings["authors_generations"],
                               seed)
    with timings("sweep"):
        sample_sizes = list(settings["sample_sizes"])
        all_sizes = sorted(set(sample_sizes) | set(settings["authors_sample_sizes"]))

        def generations_for(size: int) -> int:
            return (settings["n_generations"] if size in sample_sizes
                    else settings["authors_generations"])

        if progress:
            progress(f"exact sampler, {settings['n_seeds']} seeds per run:")
        sweep = variance_sweep(all_sizes, theory.ESTIMATORS, settings["n_seeds"],
                               generations_for, seed, progress)
    with timings("starts"):
        heavy_tailed, bimodal = theory.student_t_start(3.0), theory.bimodal_start(0.9)
        gaussian_start = theory.gaussian_start()
        starts = {start.name: start for start in (heavy_tailed, bimodal, gaussian_start)}
        start_runs = start_distribution_runs(
            [gaussian_start, heavy_tailed, bimodal], settings["start_sample_size"],
            settings["start_seeds"], settings["start_generations"], seed)
    with timings("policies"):
        specs = policy_specs(
            settings["policy_sample_size"], settings["policy_generations"],
            settings["policy_seeds"], settings["mix_fractions"], settings["naive_policy_seeds"],
            settings["naive_policy_generations"], settings["subsample_seeds"],
            settings["subsample_generations"])
        if progress:
            progress("data policies:")
        policies = policy_runs(specs, settings["policy_sample_size"], seed, progress=progress)
    with timings("samplers"):
        samplers = compare_samplers(settings["sampler_sample_size"], settings["sampler_seeds"],
                                    settings["sampler_generations"], seed)
    return GaussianRuns(sample_sizes, settings["n_seeds"], settings["authors_generations"],
                        settings["start_sample_size"], settings["policy_sample_size"], authors,
                        sweep, starts, start_runs, specs, policies, samplers, timings)


# =============================================================================== metrics
def record_metrics(record, runs: GaussianRuns) -> None:
    """The chapter's headline numbers for ``_build/results/gaussian.json``."""
    record.metric("median_sigma_at_generation_1000", median_std_table(runs.sweep, 1000))
    smallest = min(runs.sample_sizes)
    pooled = {}
    for estimator in theory.ESTIMATORS:
        run = runs.sweep[estimator, smallest]
        row = run.row(smallest)
        mean, se = mc_mean_with_se(run.std[row] ** 2 + run.mean[row] ** 2)
        pooled[estimator] = {"M": smallest, "generation": smallest, "mc_mean": float(mean),
                             "mc_se": float(se), "exact": float(theory.expected_pooled_variance(
                                 run.theory_sizes(), estimator)[smallest])}
    record.metric("pooled_variance_at_generation_M", pooled)
    record.metric("mc_mean_breakdown_generation", {
        str(size): {"first_below_half": half, "below_by_3_se_for_good": for_good}
        for size, (half, for_good) in breakdown_generations(runs).items()})
    samplers = runs.samplers
    record.metric("sampler_speed_ratio", samplers.speed_ratio)
    record.metric("sampler_comparison", {
        "sample_size": int(samplers.exact.sizes[0]), "seeds": samplers.exact.n_seeds,
        "generations": samplers.exact.n_generations, "exact_seconds": samplers.exact.seconds,
        "naive_seconds": samplers.naive.seconds, "ks_p_std": samplers.ks_std.pvalue,
        "ks_p_mean": samplers.ks_mean.pvalue})
    below, w2_last = {}, {}
    for (estimator, size), run in runs.sweep.items():
        simulated = float((run.std[-1] < 0.1).mean())
        exact = float(theory.prob_std_below(0.1, size, run.n_generations, estimator))
        below.setdefault(estimator, {})[str(size)] = {
            "generation": run.n_generations, "simulated": simulated, "theory": exact}
        w2 = run.w2_squared()[-1]
        mean, se = mc_mean_with_se(w2)
        w2_last.setdefault(estimator, {})[str(size)] = {
            "generation": run.n_generations, "mc_mean": float(mean), "mc_se": float(se),
            "median": float(np.median(w2)),
            "exact_mean": float(theory.expected_w2_squared(run.theory_sizes(), estimator)[-1])}
    record.metric("prob_sigma_below_0.1_last_generation", below)
    record.metric("w2_squared_last_generation", w2_last)
    record.metric("policies_last_generation", {
        label: {"sampler": run.sampler, "seeds": run.n_seeds, "generation": run.n_generations,
                "median_sigma": float(np.median(run.std[-1])),
                "mc_mean_w2_squared": float(run.w2_squared()[-1].mean())}
        for label, run in runs.policies.items()})
    record.metric("non_gaussian_start_last_generation", {
        name: {"generation": run.n_generations, "median_sigma": float(np.median(run.std[-1])),
               "fraction_sigma_below_0.1": float((run.std[-1] < 0.1).mean()),
               "median_w2_squared_to_d0": float(np.median(
                   runs.starts[name].w2_squared_to_gaussian(run.mean[-1], run.std[-1]))),
               "best_gaussian_floor": runs.starts[name].w2_squared_floor}
        for name, run in runs.start_runs.items()})
    record.metric("section_seconds", dict(runs.timings))
