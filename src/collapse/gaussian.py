"""The 1-D Gaussian recursion (the paper's Theorem 3.1 and its Gaussian figures).

Two model families for :func:`collapse.loop.run_generations`, both with a leading seed axis
(S independent chains simulated at once):

* :class:`ExactGaussian` works on sufficient statistics (:class:`GaussianStats`: count, mean,
  sum of squared deviations M2). Drawing M points from N(m, s²) and summarising them is replaced
  by drawing the summary directly: x̄ ~ N(m, s²/M) and M2 ~ s²·χ²_{M−1}, independent
  (Cochran's theorem), so a generation costs O(S) whatever M is. Pooling for `accumulate` is
  exact on (count, mean, M2); subsampling points is impossible and raises a clear error.
* :class:`NaiveGaussian` draws all M points (arrays of shape (S, M), ``ArrayData(axis=1)``), as
  the authors' notebook does; it is what the policies that need points (`mix_real`,
  `accumulate_subsample`) use.

Both fit the mean and either the unbiased variance (÷(M−1), Theorem 3.1) or the biased one
(÷M, ``np.std``, the authors' code). The theory lives in :mod:`collapse.gaussian_theory`; this
module runs the chapter's experiments, summarises them, draws its figures and checks its claims.
"""
from __future__ import annotations

import dataclasses
import math
import time
import zlib
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from scipy import stats

from . import gaussian_theory as theory
from . import plotting
from .loop import (Accumulate, AccumulateSubsample, ArrayData, Growing, MixReal, Replace,
                   check_sample_size, run_generations)

__all__ = [
    "GaussianFit", "GaussianStats", "SufficientStatistics", "PointSamples", "ExactGaussian",
    "NaiveGaussian", "Trajectories", "PARAMETER_METRICS", "rng_for", "recorded_generations",
    "simulate", "true_data", "authors_runs", "variance_sweep", "start_distribution_runs",
    "policy_runs", "compare_samplers", "SamplerComparison",
]


# =============================================================================== families
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
        mean = samples.mean(axis=1)
        return cls(samples.shape[1], mean, ((samples - mean[:, None]) ** 2).sum(axis=1))


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
    M points. For n ≤ M/2 it draws n indices with replacement and redraws the duplicates until
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
        self.estimator = theory.check_estimator(estimator)

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
        mean = data.mean(axis=1)
        return GaussianFit(mean, np.sqrt(((data - mean[:, None]) ** 2).sum(axis=1) / divisor))

    def generate(self, model: GaussianFit, n: int, rng: np.random.Generator,
                 context: Any = None) -> np.ndarray:
        n = check_sample_size(n, "sample size M")
        return model.mean[:, None] + model.std[:, None] * rng.standard_normal(
            (model.n_seeds, n))


PARAMETER_METRICS: dict[str, Callable] = {
    "mean": lambda model, data, generation: model.mean,
    "std": lambda model, data, generation: model.std,
}


# =============================================================================== running
def rng_for(seed: int, *labels: Any) -> np.random.Generator:
    """An independent random stream for one experiment: SeedSequence(seed) with the labels
    hashed into its entropy, so adding an experiment never changes another one's numbers."""
    words = [zlib.crc32(repr(label).encode()) for label in labels]
    return np.random.default_rng(np.random.SeedSequence([int(seed), *words]))


def recorded_generations(n_generations: int, dense_up_to: int = 100,
                         per_decade: int = 100) -> np.ndarray:
    """Generations whose parameters are kept: every one up to ``dense_up_to``, then about
    ``per_decade`` log-spaced ones per decade, always including 1000 and the last."""
    dense = np.arange(min(n_generations, dense_up_to) + 1)
    if n_generations <= dense_up_to:
        return dense
    decades = math.log10(n_generations / dense_up_to)
    spaced = np.geomspace(dense_up_to, n_generations, max(int(per_decade * decades), 2))
    extra = [g for g in (1000, n_generations) if g <= n_generations]
    return np.unique(np.concatenate([dense, np.round(spaced).astype(int), extra]))


@dataclasses.dataclass
class Trajectories:
    """Fitted parameters of S chains at the recorded generations.

    ``mean``, ``std``: shape (len(generations), S); ``sizes``: M_i of every generation
    0 … n_generations (the loop's ``History.sizes``); ``seconds``: wall time of the run.
    """

    label: str
    generations: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    sizes: np.ndarray
    estimator: str
    sampler: str
    seconds: float
    policy: str = "replace"

    @property
    def n_seeds(self) -> int:
        return int(self.mean.shape[1])

    @property
    def n_generations(self) -> int:
        return int(len(self.sizes) - 1)

    def row(self, generation: int) -> int:
        """Index of ``generation`` in :attr:`generations` (which must hold it)."""
        index = int(np.searchsorted(self.generations, generation))
        if index >= len(self.generations) or self.generations[index] != generation:
            raise KeyError(f"generation {generation} was not recorded for {self.label}")
        return index

    def w2_squared(self, mu: float = 0.0, sigma: float = 1.0) -> np.ndarray:
        """W2²(N(μ_n, σ_n²), N(mu, sigma²)), shape (R, S)."""
        return theory.gaussian_w2_squared(self.mean, self.std, mu, sigma)

    def theory_sizes(self) -> np.ndarray:
        """M_0 … M_N for the theory functions."""
        return np.asarray(self.sizes, float)


def simulate(family, real, policy, n_generations: int, rng: np.random.Generator,
             label: str, keep: np.ndarray | None = None) -> Trajectories:
    """Run the generational loop and keep the parameters at ``keep`` (default
    :func:`recorded_generations`)."""
    started = time.perf_counter()
    history = run_generations(family, real, policy, n_generations, rng, PARAMETER_METRICS)
    seconds = time.perf_counter() - started
    keep = recorded_generations(n_generations) if keep is None else np.asarray(keep)
    return Trajectories(label, keep, np.array(history["mean"][keep]),
                        np.array(history["std"][keep]), np.asarray(history.sizes),
                        family.estimator, family.sampler, seconds, history.policy)


def true_data(family, n_seeds: int, sample_size: int, rng: np.random.Generator,
              mu: float = 0.0, sigma: float = 1.0):
    """Generation 0's real data: M points from N(mu, sigma²) per seed, in ``family``'s form."""
    truth = GaussianFit(np.full(n_seeds, float(mu)), np.full(n_seeds, float(sigma)))
    return family.generate(truth, sample_size, rng)


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
                   progress: Callable[[str], None] | None = print) \
        -> dict[tuple[str, int], Trajectories]:
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
                estimator: str = "unbiased", progress: Callable[[str], None] | None = print) \
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


def scale_table(specs: Sequence[PolicySpec], sample_size: int) -> str:
    """A Markdown table of the scale each policy runs at."""
    lines = ["| policy | sampler | M (base) | seeds | generations |", "|---|---|---|---|---|"]
    for spec in specs:
        lines.append(f"| `{spec.label}` | {spec.sampler} | {sample_size} | {spec.n_seeds} | "
                     f"{spec.n_generations} |")
    return "\n".join(lines)


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


# =============================================================================== summaries
def mc_mean_with_se(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Monte-Carlo mean over seeds (last axis) and its standard error s/√S."""
    return values.mean(axis=-1), values.std(axis=-1, ddof=1) / math.sqrt(values.shape[-1])


def median_confidence_interval(values: np.ndarray, level: float = 0.999) -> tuple:
    """Distribution-free CI of the median over the last axis, from order statistics
    (binomial(S, ½) ranks): covers the true median with probability ≥ ``level``."""
    values = np.sort(values, axis=-1)
    count = values.shape[-1]
    low_rank = int(stats.binom.ppf((1 - level) / 2, count, 0.5))
    high_rank = int(stats.binom.isf((1 - level) / 2, count, 0.5))
    return values[..., max(low_rank - 1, 0)], values[..., min(high_rank, count - 1)]


def mc_breakdown_generation(run: Trajectories, n_se: float = 3.0,
                            fraction: float | None = None, for_good: bool = True) -> int | None:
    """Where the MC mean of σ²_n over the seeds stops resolving the exact E[σ²_n]: it falls
    below it by more than ``n_se`` standard errors, or, if ``fraction`` is given, below
    ``fraction``·E[σ²_n] ("far below"). ``for_good``: the first recorded generation from which
    on it stays there (a lucky path can lift the mean back for a while); otherwise the first
    generation where it happens at all. None if it never happens."""
    mean, se = mc_mean_with_se(run.std ** 2)
    expected = theory.expected_variance(run.theory_sizes(), run.estimator)[run.generations]
    if fraction is None:
        resolved = mean + n_se * se >= expected
    else:
        resolved = mean >= fraction * expected
    if not for_good:
        missed = np.nonzero(~resolved)[0]
        return int(run.generations[missed[0]]) if missed.size else None
    if resolved[-1]:
        return None
    last_resolved = np.nonzero(resolved)[0]
    first_missed = last_resolved[-1] + 1 if last_resolved.size else 0
    return int(run.generations[first_missed])


def median_std_table(sweep: Mapping[tuple[str, int], Trajectories], generation: int) -> dict:
    """estimator -> M -> {"simulated": median σ̂ over seeds, "theory": exact median,
    "ci_low"/"ci_high": its 99.9% CI} at ``generation`` (runs that reach it)."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for (estimator, size), run in sweep.items():
        if run.n_generations < generation:
            continue
        values = run.std[run.row(generation)]
        low, high = median_confidence_interval(values)
        exact = math.sqrt(theory.variance_quantiles([0.5], size, [generation], estimator)[0, 0])
        table.setdefault(estimator, {})[str(size)] = {
            "simulated": float(np.median(values)), "theory": exact,
            "ci_low": float(low), "ci_high": float(high)}
    return table


def tails_first_share(run: Trajectories, k: float = 3.0, std_level: float = 0.9) -> tuple:
    """At the first recorded generation where the median σ_n ≤ ``std_level``·σ:
    (generation, median σ_n, median share of the original ±kσ tail mass still assigned);
    (None, None, None) if never reached."""
    median_std = np.median(run.std, axis=1)
    reached = np.nonzero(median_std <= std_level)[0]
    if not reached.size:
        return None, None, None
    row = reached[0]
    share = np.median(theory.tail_share(k, run.mean[row], run.std[row]))
    return int(run.generations[row]), float(median_std[row]), float(share)


def spread(values: np.ndarray) -> float:
    """10–90% inter-quantile range over seeds of a (S,) array."""
    low, high = np.quantile(values, [0.1, 0.9])
    return float(high - low)


def policy_summary_markdown(runs: Mapping[str, Trajectories], specs: Sequence[PolicySpec]) \
        -> str:
    """A Markdown table of every policy's last generation: median σ_N (10–90%), MC mean W2²
    ± SE, and the exact E[W2²] where the schedule has one."""
    lines = ["| policy | last generation N | median σ_N (10–90%) | E[W2²] at N: MC mean ± SE "
             "| exact E[W2²] |", "|---|---|---|---|---|"]
    for spec in specs:
        run = runs[spec.label]
        low, middle, high = np.quantile(run.std[-1], [0.1, 0.5, 0.9])
        mean, se = mc_mean_with_se(run.w2_squared()[-1])
        exact = "—"
        if spec.theory_schedule is not None:
            value = theory.expected_w2_squared(spec.theory_schedule(run.n_generations),
                                               run.estimator)[-1]
            exact = f"{value:.4g}"
        lines.append(f"| `{spec.label}` | {run.n_generations:,} | {middle:.3g} ({low:.3g}–"
                     f"{high:.3g}) | {mean:.4g} ± {se:.2g} | {exact} |")
    return "\n".join(lines)


# =============================================================================== figures
def _positive_generations(run: Trajectories, limit: int | None = None) -> np.ndarray:
    mask = run.generations >= 1
    if limit is not None:
        mask &= run.generations <= limit
    return mask


def plot_authors_view(single: Mapping[int, Trajectories],
                      sweep: Mapping[tuple[str, int], Trajectories] | None = None,
                      n_generations: int | None = None):
    """|μ − μ̂_n| and |σ − σ̂_n| against generation (log x), one line per M: the authors'
    single runs; with ``sweep``, medians and 10–90% bands of the biased runs too."""
    fig, axes = plotting.subplots(1, 2, width=10.5, height=3.6)
    for index, (size, run) in enumerate(single.items()):
        color = plotting.color(index)
        mask = _positive_generations(run, n_generations)
        x = run.generations[mask]
        if sweep is not None and ("biased", size) in sweep:
            many = sweep["biased", size]
            many_mask = _positive_generations(many, n_generations)
            for ax, values in zip(axes[0], (np.abs(many.mean), np.abs(many.std - 1))):
                plotting.band(ax, many.generations[many_mask], values[many_mask],
                              label=f"M = {size}: median, 10–90%", color=color, seed_axis=1)
            style = dict(color=color, linewidth=0.7, alpha=0.8, linestyle=":")
            label = None
        else:
            style, label = dict(color=color, linewidth=1.2), f"M = {size}"
        axes[0, 0].plot(x, np.abs(run.mean[mask, 0]), label=label, **style)
        axes[0, 1].plot(x, np.abs(run.std[mask, 0] - 1), label=label, **style)
    for ax, name in zip(axes[0], ("|μ − μ̂ₙ|", "|σ − σ̂ₙ|")):
        _log_axes(ax, y=False)
        ax.set_xlabel("generation n")
        ax.set_ylabel(name)
    axes[0, 0].legend(loc="upper left")
    return fig


def _log_axes(ax, x: bool = True, y: bool = True) -> None:
    """Log scales without minor ticks (unlabelled on wide ranges, and slow to lay out)."""
    from matplotlib.ticker import NullLocator
    for log, axis, set_scale in ((x, ax.xaxis, ax.set_xscale), (y, ax.yaxis, ax.set_yscale)):
        if log:
            set_scale("log")
            axis.set_minor_locator(NullLocator())


def _theory_grid(n_generations: int, points: int = 70) -> np.ndarray:
    return np.unique(np.round(np.geomspace(1, n_generations, points)).astype(int))


def plot_std_collapse(sweep: Mapping[tuple[str, int], Trajectories],
                      estimators: Sequence[str] = theory.ESTIMATORS):
    """σ_n against generation (log x, linear y): median and 10–90% band over seeds per M, with
    the exact theory median (dashed) and 10%/90% quantiles (dotted), one panel per estimator."""
    fig, axes = plotting.subplots(1, len(estimators), width=10.5, height=3.8, sharey=True)
    for ax, estimator in zip(axes[0], estimators):
        runs = sorted((size, run) for (name, size), run in sweep.items() if name == estimator)
        for index, (size, run) in enumerate(runs):
            mask = _positive_generations(run)
            plotting.band(ax, run.generations[mask], run.std[mask], label=f"M = {size:,}",
                          color=plotting.color(index), seed_axis=1)
            grid = _theory_grid(run.n_generations)
            q10, q50, q90 = np.sqrt(theory.variance_quantiles([0.1, 0.5, 0.9], size, grid,
                                                              estimator))
            last = index == len(runs) - 1
            plotting.theory(ax, grid, q50, label="exact median" if last else None)
            for quantile in (q10, q90):
                plotting.theory(ax, grid, quantile, linestyle=":", linewidth=0.9,
                                label="exact 10%, 90%" if last and quantile is q90 else None)
        _log_axes(ax, y=False)
        ax.set_ylim(0, 1.6)
        ax.set_title(f"{estimator} estimator" + (" (np.std, the authors')"
                                                 if estimator == "biased" else ""))
        ax.set_xlabel("generation n")
    axes[0, 0].set_ylabel("fitted σₙ (σ = 1)")
    axes[0, 0].legend(loc="lower left")
    return fig


def plot_expectations(sweep: Mapping[tuple[str, int], Trajectories], sizes: Sequence[int],
                      n_seeds_label: int):
    """Monte-Carlo means ± 2 SE against the exact E[σ²_n] (left) and E|μ_n − μ|² (right);
    colour = M, solid = unbiased, dashed = biased."""
    fig, axes = plotting.subplots(1, 2, width=10.5, height=3.8)
    for index, size in enumerate(sizes):
        color = plotting.color(index)
        for estimator in theory.ESTIMATORS:
            if (estimator, size) not in sweep:
                continue
            run = sweep[estimator, size]
            mask = _positive_generations(run)
            x = run.generations[mask]
            full = run.theory_sizes()
            for ax, values, exact in (
                    (axes[0, 0], run.std ** 2, theory.expected_variance(full, estimator)),
                    (axes[0, 1], run.mean ** 2, theory.expected_mean_error(full, estimator))):
                mean, se = mc_mean_with_se(values[mask])
                ax.plot(x, mean, color=color, linestyle="-" if estimator == "unbiased" else "--",
                        label=f"M = {size:,}, {estimator}: MC mean")
                ax.fill_between(x, np.maximum(mean - 2 * se, 1e-12), mean + 2 * se,
                                color=color, alpha=0.2, linewidth=0)
                plotting.theory(ax, x, exact[x], label="exact expectation"
                                if index == 0 and estimator == "unbiased" else None,
                                linestyle=(0, (1.5, 1.5)))
        for ax in axes[0]:
            ax.axvline(3 * size, color=color, linewidth=0.8, alpha=0.6)
    axes[0, 0].set_ylabel("E[σ²ₙ]  (MC mean ± 2 SE)")
    axes[0, 1].set_ylabel("E|μₙ − μ|²  (MC mean ± 2 SE)")
    axes[0, 0].set_ylim(1e-6, 10)
    axes[0, 1].set_ylim(1e-3, 3 * max(theory.expected_mean_error(
        sweep["unbiased", size].theory_sizes(), "unbiased")[-1] for size in sizes
        if ("unbiased", size) in sweep))
    for ax in axes[0]:
        _log_axes(ax)
        ax.set_xlabel("generation n  (vertical lines: n = 3M)")
    axes[0, 0].set_title(f"variance, {n_seeds_label:,} seeds")
    axes[0, 1].set_title("mean error")
    axes[0, 1].legend(loc="upper left", fontsize=7)
    return fig


def plot_w2(sweep: Mapping[tuple[str, int], Trajectories], sizes: Sequence[int]):
    """W2²(N(μ_n,σ_n²), N(μ,σ²)): median and 10–90% band, MC mean (thin), exact E (dashed)."""
    fig, axes = plotting.subplots(1, 2, width=10.5, height=3.8, sharey=True)
    for ax, estimator in zip(axes[0], theory.ESTIMATORS):
        for index, size in enumerate(sizes):
            if (estimator, size) not in sweep:
                continue
            run = sweep[estimator, size]
            color = plotting.color(index)
            mask = _positive_generations(run)
            x = run.generations[mask]
            w2 = run.w2_squared()[mask]
            plotting.band(ax, x, w2, label=f"M = {size:,}: median, 10–90%", color=color,
                          seed_axis=1)
            ax.plot(x, w2.mean(axis=1), color=color, linewidth=0.8, linestyle="-.",
                    label=f"M = {size:,}: MC mean")
            exact = theory.expected_w2_squared(run.theory_sizes(), estimator)[x]
            plotting.theory(ax, x, exact, label="exact E[W2²]" if index == 0 else None)
        if estimator == "biased":
            ax.axhline(2.0, color="#777777", linewidth=1.0, linestyle=":",
                       label="2σ² (bound, biased)")
        _log_axes(ax)
        ax.set_xlabel("generation n")
        ax.set_title(f"{estimator} estimator")
        ax.legend(loc="upper left", fontsize=7)
    axes[0, 0].set_ylabel("W2²(N(μₙ, σₙ²), N(μ, σ²))")
    return fig


def plot_prob_small_std(sweep: Mapping[tuple[str, int], Trajectories], threshold: float = 0.1):
    """P(σ_n < threshold) against n: fraction of seeds (solid) and exact theory (dashed)."""
    fig, axes = plotting.subplots(1, 2, width=10.5, height=3.6, sharey=True)
    for ax, estimator in zip(axes[0], theory.ESTIMATORS):
        runs = sorted((size, run) for (name, size), run in sweep.items() if name == estimator)
        for index, (size, run) in enumerate(runs):
            mask = _positive_generations(run)
            x = run.generations[mask]
            ax.plot(x, (run.std[mask] < threshold).mean(axis=1), color=plotting.color(index),
                    label=f"M = {size:,}: simulated")
            grid = _theory_grid(run.n_generations, 100)
            plotting.theory(ax, grid, theory.prob_std_below(threshold, size, grid, estimator),
                            label="exact (characteristic function)" if index == 0 else None)
        _log_axes(ax, y=False)
        ax.set_xlabel("generation n")
        ax.set_title(f"{estimator} estimator")
    axes[0, 0].set_ylabel(f"P(σₙ < {threshold:g}σ)")
    axes[0, 0].legend(loc="upper left")
    return fig


def plot_tails(sweep: Mapping[tuple[str, int], Trajectories], sizes: Sequence[int],
               estimator: str = "unbiased", ks: Sequence[float] = (2.0, 3.0)):
    """Share of the original mass beyond ±kσ that generation n still assigns (median, 10–90%),
    with the median σ_n/σ (dotted) for comparison: the tails go first."""
    fig, axes = plotting.subplots(1, len(ks), width=10.5, height=3.6, sharey=True)
    for ax, k in zip(axes[0], ks):
        for index, size in enumerate(sizes):
            run = sweep[estimator, size]
            color = plotting.color(index)
            mask = _positive_generations(run)
            x = run.generations[mask]
            share = theory.tail_share(k, run.mean[mask], run.std[mask])
            plotting.band(ax, x, share, label=f"M = {size:,}: tail share", color=color,
                          seed_axis=1)
            ax.plot(x, np.median(run.std[mask], axis=1), color=color, linestyle=":",
                    linewidth=1.0, label=f"M = {size:,}: median σₙ/σ")
        _log_axes(ax)
        ax.set_ylim(1e-6, 30)
        ax.set_xlabel("generation n")
        ax.set_title(f"mass beyond ±{k:g}σ (original: {2 * stats.norm.sf(k):.3g})")
    axes[0, 0].set_ylabel("share of the original tail mass kept")
    axes[0, 0].legend(loc="lower left", fontsize=7)
    return fig


def plot_start_distributions(runs: Mapping[str, Trajectories],
                             starts: Mapping[str, theory.StartDistribution], sample_size: int):
    """Non-Gaussian D_0: σ_n (left) and W2²(N(μ_n,σ_n²), D_0) (right), median and band, with
    the Gaussian-start exact median of σ_n and each D_0's floor min_N W2²(N, D_0)."""
    fig, axes = plotting.subplots(1, 2, width=10.5, height=3.8)
    for index, (name, run) in enumerate(runs.items()):
        color = plotting.color(index)
        start = starts[name]
        mask = _positive_generations(run)
        x = run.generations[mask]
        plotting.band(axes[0, 0], x, run.std[mask], label=name, color=color, seed_axis=1)
        w2 = start.w2_squared_to_gaussian(run.mean[mask], run.std[mask])
        plotting.band(axes[0, 1], x, w2, label=name, color=color, seed_axis=1)
        axes[0, 1].plot(x, w2.mean(axis=1), color=color, linestyle="-.", linewidth=0.8,
                        label="MC mean" if index == 0 else None)
        if start.w2_squared_floor > 1e-9:
            axes[0, 1].axhline(start.w2_squared_floor, color=color, linestyle=":",
                               linewidth=1.0)
    run = next(iter(runs.values()))
    grid = _theory_grid(run.n_generations)
    median = np.sqrt(theory.variance_quantiles([0.5], sample_size, grid, run.estimator)[0])
    plotting.theory(axes[0, 0], grid, median, label="Gaussian D₀: exact median")
    axes[0, 0].set_ylabel("fitted σₙ (σ₀ = 1)")
    axes[0, 1].set_ylabel("W2²(N(μₙ, σₙ²), D₀)")
    axes[0, 1].set_title("dotted: the closest any Gaussian gets to D₀", fontsize=9)
    for ax in axes[0]:
        _log_axes(ax)
        ax.set_xlabel("generation n")
    axes[0, 0].legend(loc="lower left")
    axes[0, 1].legend(loc="upper left", fontsize=7)
    return fig


def plot_policies(runs: Mapping[str, Trajectories], specs: Sequence[PolicySpec]):
    """Every data policy on the same axes: σ_n (median, 10–90%) and E[W2²] (MC mean ± 2 SE)
    with the exact E[W2²] (dashed) for replace and the growing schedules."""
    fig, axes = plotting.subplots(1, 2, width=10.5, height=4.0)
    palette = (0, 1, 2, 3, 5, 4, 7)  # skip the pale yellow; distinct neighbours
    for index, spec in enumerate(specs):
        run = runs[spec.label]
        color = plotting.color(palette[index % len(palette)])
        mask = _positive_generations(run)
        x = run.generations[mask]
        plotting.band(axes[0, 0], x, run.std[mask], label=spec.label, color=color,
                      seed_axis=1, alpha=0.12)
        mean, se = mc_mean_with_se(run.w2_squared()[mask])
        axes[0, 1].plot(x, mean, color=color, label=spec.label)
        axes[0, 1].fill_between(x, np.maximum(mean - 2 * se, 1e-6), mean + 2 * se,
                                color=color, alpha=0.2, linewidth=0)
        if spec.theory_schedule is not None:
            exact = theory.expected_w2_squared(spec.theory_schedule(run.n_generations),
                                               run.estimator)[x]
            plotting.theory(axes[0, 1], x, exact, label="exact E[W2²]" if index == 0 else None)
    axes[0, 0].set_ylabel("fitted σₙ (median, 10–90%)")
    axes[0, 0].set_ylim(0, 1.6)
    axes[0, 1].set_ylabel("E[W2²] (MC mean ± 2 SE)")
    _log_axes(axes[0, 0], y=False)
    _log_axes(axes[0, 1])
    for ax in axes[0]:
        ax.set_xlabel("generation n")
    axes[0, 0].legend(loc="upper left", fontsize=7, ncol=2)
    axes[0, 1].legend(loc="upper left", fontsize=7)
    return fig


def plot_samplers(comparison: SamplerComparison):
    """Empirical CDFs of σ̂ and μ̂ at the last generation, exact vs naive sampler."""
    fig, axes = plotting.subplots(1, 2, width=10.5, height=3.4)
    for ax, name, test in ((axes[0, 0], "std", comparison.ks_std),
                           (axes[0, 1], "mean", comparison.ks_mean)):
        for index, run in enumerate((comparison.exact, comparison.naive)):
            values = np.sort(getattr(run, name)[-1])
            ax.step(values, np.arange(1, values.size + 1) / values.size, where="post",
                    color=plotting.color(index), label=run.label)
        symbol = "σ̂" if name == "std" else "μ̂"
        ax.set_xlabel(f"{symbol} at generation {comparison.exact.n_generations}")
        ax.set_title(f"two-sample KS: D = {test.statistic:.3f}, p = {test.pvalue:.2f}")
    axes[0, 0].set_ylabel("empirical CDF over seeds")
    axes[0, 0].legend(loc="lower right")
    return fig


def record_headline_metrics(record, sweep, policies, start_runs, starts, timings) -> None:
    """The chapter's headline numbers for ``_build/results/gaussian.json``."""
    below, w2_last = {}, {}
    for (estimator, size), run in sweep.items():
        simulated = float((run.std[-1] < 0.1).mean())
        exact = float(theory.prob_std_below(0.1, size, run.n_generations, estimator))
        below.setdefault(estimator, {})[str(size)] = {
            "generation": run.n_generations, "simulated": simulated, "theory": exact}
        w2 = run.w2_squared()[-1]
        w2_last.setdefault(estimator, {})[str(size)] = {
            "generation": run.n_generations, "mc_mean": float(w2.mean()),
            "mc_se": float(w2.std(ddof=1) / math.sqrt(w2.size)), "median": float(np.median(w2)),
            "exact_mean": float(theory.expected_w2_squared(run.theory_sizes(), estimator)[-1])}
    record.metric("prob_sigma_below_0.1_last_generation", below)
    record.metric("w2_squared_last_generation", w2_last)
    record.metric("policies_last_generation", {
        label: {"sampler": run.sampler, "seeds": run.n_seeds, "generation": run.n_generations,
                "median_sigma": float(np.median(run.std[-1])),
                "mc_mean_w2_squared": float(run.w2_squared()[-1].mean())}
        for label, run in policies.items()})
    record.metric("non_gaussian_start_last_generation", {
        name: {"generation": run.n_generations, "median_sigma": float(np.median(run.std[-1])),
               "fraction_sigma_below_0.1": float((run.std[-1] < 0.1).mean()),
               "median_w2_squared_to_d0": float(np.median(
                   starts[name].w2_squared_to_gaussian(run.mean[-1], run.std[-1]))),
               "best_gaussian_floor": starts[name].w2_squared_floor}
        for name, run in start_runs.items()})
    record.metric("section_seconds", dict(timings))


# =============================================================================== claims
def declare_claims(record, sizes: Sequence[int], policy_size: int) -> None:
    """Fix every claim's criterion (before any experiment runs)."""
    smallest = min(sizes)
    record.declare_claim(
        "sigma-collapses", "The fitted σ_n → 0 almost surely (Theorem 3.1)",
        "Σ_n → 0 a.s. (Theorem 3.1); 1-D Gaussian figure",
        f"M = {smallest}, last generation N ≥ 50M: fraction of seeds with σ_N < 0.1σ ≥ 0.99 "
        "for both estimators (partially: ≥ 0.5)",
        reproduced_if=lambda v: v["n_over_m"] >= 50 and min(v["fractions"]) >= 0.99,
        partially_if=lambda v: min(v["fractions"]) >= 0.5)
    record.declare_claim(
        "median-digamma", "The median σ_n follows the exact digamma drift",
        "σ_n ≈ exp(−n/(2M)) (PAPER Theory 3, derived and checked here)",
        "for every M and estimator, the exact median σ at generation 1000 lies in the 99.9% "
        "order-statistic CI of the simulated median (partially: ≥ 75% of them)",
        reproduced_if=lambda v: all(v), partially_if=lambda v: np.mean(v) >= 0.75)
    record.declare_claim(
        "w2-diverges-unbiased", "E[W2²(N(μ_n,σ_n²), D_0)] → ∞ with the unbiased estimator",
        "Theorem 3.1",
        f"M = {smallest}, unbiased: MC mean within 4 SE of the exact σ²Σ1/M_i + 2σ²(1−∏α) at "
        "every recorded n ≤ M, and the exact value grows ≥ 10× from n = M to the last "
        "generation (partially: agreement holds, growth < 10×)",
        reproduced_if=lambda v: v["max_abs_z"] <= 4 and v["growth"] >= 10,
        partially_if=lambda v: v["max_abs_z"] <= 4)
    record.declare_claim(
        "w2-diverges-biased", "E[W2²] → ∞ also in the authors' own setting (biased np.std)",
        "Theorem 3.1 is stated for the unbiased estimator; the authors' code uses np.std",
        f"M = {smallest}, biased: MC mean W2² at the last generation > 2σ² (the bound derived "
        "here: E[W2²] = 2σ²(1 − ∏α_b(M_i)))",
        reproduced_if=lambda v: v["mc_mean"] > 2.0)
    record.declare_claim(
        "typical-levels-off", "The typical run's W2² levels off while E[W2²] keeps growing",
        "not in the paper (PAPER Theory 3: the divergence is carried by rare paths)",
        f"M = {smallest}, unbiased: median W2² changes by < 25% from n = 10M to the last "
        "generation while the exact E[W2²] grows ≥ 5× (partially: median changes < 25% only)",
        reproduced_if=lambda v: abs(v["median_ratio"] - 1) < 0.25 and v["mean_growth"] >= 5,
        partially_if=lambda v: abs(v["median_ratio"] - 1) < 0.25)
    record.declare_claim(
        "mc-mean-limit", "A 1,000-seed Monte-Carlo mean resolves E[σ²_n] = σ² only up to n ≈ 3M",
        "not in the paper (PAPER Theory 3)",
        "unbiased, each M with N ≥ 10M: the first generation at which the MC mean of σ²_n "
        "falls below σ²/2 lies in [M, 10M]",
        reproduced_if=lambda v: len(v) > 0 and all(x is not None and 1 <= x <= 10 for x in v))
    record.declare_claim(
        "tails-first", "The tails vanish first (early model collapse)",
        "early collapse: low-probability events disappear first",
        "unbiased, every M: at the first generation where the median σ_n falls to 0.9σ and "
        "(where reached) to 0.5σ, the median fraction of the original ±3σ tail mass lost is "
        "≥ 1.5× the fraction of σ lost",
        reproduced_if=lambda v: len(v) > 0 and min(v) >= 1.5)
    record.declare_claim(
        "non-gaussian-start", "Collapse does not need a Gaussian D_0",
        "Theorem 3.1: any D_0 with non-zero variance",
        "Student-t(ν=3) and bimodal D_0, unbiased: fraction of seeds with σ_N < 0.1 at the last "
        "generation (N ≥ 50M) ≥ 0.99 and the median W2² to D_0 exceeds its best-Gaussian floor "
        "(partially: fraction ≥ 0.5)",
        reproduced_if=lambda v: v["n_over_m"] >= 50 and min(v["fractions"]) >= 0.99
        and all(v["above_floor"]),
        partially_if=lambda v: min(v["fractions"]) >= 0.5)
    record.declare_claim(
        "accumulate-bounded", "Accumulating real and synthetic data keeps the error bounded",
        "Gerstgrasser et al. 2024 (π²/6 × the first model's error for linear regression); "
        "the paper's 'accumulate' variant",
        f"M = {policy_size}: MC mean W2² under accumulate at the last generation ≤ 2× the exact "
        "generation-0 value σ²/M + 2σ²(1 − α(M)), while replace's exceeds 5× it",
        reproduced_if=lambda v: v["accumulate_ratio"] <= 2 and v["replace_ratio"] >= 5)
    record.declare_claim(
        "growing-schedules", "E[W2²] stays bounded iff Σ1/M_i < ∞",
        "Theorem 3.1 (constant M); PAPER Theory 3 for schedules",
        "MC mean W2² within 4 SE of the exact value at the last generation for M_i ∝ i and "
        "∝ i²; the exact value's increase over the last decade of generations is < 1% for "
        "∝ i² and > 10% for ∝ i and constant M",
        reproduced_if=lambda v: max(abs(z) for z in v["z"].values()) <= 4
        and v["decade_growth"]["i2"] < 0.01 and v["decade_growth"]["i"] > 0.10
        and v["decade_growth"]["constant"] > 0.10)
    record.declare_claim(
        "mix-real-stops", "Fresh real data each generation prevents collapse",
        "Bertrand et al. 2024; Alemohammad et al. 2024",
        "every mix_real(f) run: median σ_n/σ at the last generation in [0.8, 1.25] and no seed "
        "with σ_n < 0.1σ",
        reproduced_if=lambda v: all(0.8 <= m <= 1.25 for m in v["medians"])
        and max(v["collapsed"]) == 0)
    record.declare_claim(
        "subsample-drifts", "A fixed-size resample of the accumulated pool still drifts",
        "paper SI [not confirmed from a primary copy]; Kazdan et al. 2024 find it bounded",
        "naive sampler: MC mean W2² at the last generation N exceeds its value at N/10 by "
        "> 4 SE of the per-seed difference (partially: no drift, but above accumulate's at "
        "generation N by > 4 SE)",
        reproduced_if=lambda v: v["drift_z"] > 4, partially_if=lambda v: v["excess_z"] > 4)
    record.declare_claim(
        "exact-sampler", "The sufficient-statistics sampler has the law of drawing all M points",
        "method (not a paper claim)",
        "two-sample KS tests of σ̂ and μ̂ at the last generation: p ≥ 0.01 for both",
        reproduced_if=lambda v: min(v) >= 0.01)


def evaluate_claims(record, sweep, starts_runs, starts, policies, specs, samplers,
                    sizes: Sequence[int]) -> None:
    """Measure every declared claim on the run and record its verdict."""
    smallest = min(sizes)

    # sigma collapses
    fractions, n_last = [], None
    for estimator in theory.ESTIMATORS:
        run = sweep[estimator, smallest]
        fractions.append(float((run.std[-1] < 0.1).mean()))
        n_last = run.n_generations
    record.evaluate("sigma-collapses", {"fractions": fractions, "n_over_m": n_last / smallest},
                    f"P(σ_N < 0.1) = {fractions[0]:.3f} (unbiased), {fractions[1]:.3f} (biased)"
                    f" at N = {n_last:,}, M = {smallest}")

    # median vs digamma theory at generation 1000
    table = median_std_table(sweep, 1000)
    inside = [entry["ci_low"] <= entry["theory"] <= entry["ci_high"]
              for by_size in table.values() for entry in by_size.values()]
    worst = max((abs(entry["simulated"] / entry["theory"] - 1), estimator, size)
                for estimator, by_size in table.items() for size, entry in by_size.items())
    record.evaluate("median-digamma", inside,
                    f"{sum(inside)}/{len(inside)} inside; largest relative gap "
                    f"{worst[0]:.2%} ({worst[1]}, M = {worst[2]})")

    # unbiased divergence
    run = sweep["unbiased", smallest]
    w2 = run.w2_squared()
    mean, se = mc_mean_with_se(w2)
    exact = theory.expected_w2_squared(run.theory_sizes(), "unbiased")
    early = run.generations <= smallest
    z = (mean[early] - exact[run.generations[early]]) / se[early]
    growth = exact[-1] / exact[smallest]
    record.evaluate("w2-diverges-unbiased", {"max_abs_z": float(np.abs(z).max()),
                                             "growth": float(growth)},
                    f"max |MC − exact|/SE = {np.abs(z).max():.1f} for n ≤ {smallest}; exact "
                    f"E[W2²] {exact[smallest]:.2f} → {exact[-1]:.1f} (n = {smallest} → "
                    f"{run.n_generations:,}); MC mean at the end {mean[-1]:.2f}")

    # biased bounded
    run_b = sweep["biased", smallest]
    mean_b = run_b.w2_squared()[-1].mean()
    exact_b = theory.expected_w2_squared(run_b.theory_sizes(), "biased")
    record.evaluate("w2-diverges-biased", {"mc_mean": float(mean_b)},
                    f"MC mean W2² at N = {run_b.n_generations:,}: {mean_b:.3f}; exact "
                    f"{exact_b[-1]:.3f}; max over n of the exact value {exact_b.max():.3f} < 2",
                    note="bounded: the divergence needs the unbiased estimator")

    # typical levels off
    median_w2 = np.median(w2, axis=1)
    row_10m = run.row(10 * smallest) if 10 * smallest in run.generations else None
    if row_10m is not None:
        ratio = median_w2[-1] / median_w2[row_10m]
        mean_growth = exact[-1] / exact[10 * smallest]
        record.evaluate("typical-levels-off", {"median_ratio": float(ratio),
                                               "mean_growth": float(mean_growth)},
                        f"median W2² {median_w2[row_10m]:.3f} → {median_w2[-1]:.3f} "
                        f"(×{ratio:.2f}); exact E[W2²] ×{mean_growth:.1f}")
    else:
        record.evaluate("typical-levels-off", {"median_ratio": np.inf, "mean_growth": 0},
                        "run too short (N < 10M)")

    # MC mean limit
    ratios, texts = [], []
    for size in sizes:
        candidate = sweep.get(("unbiased", size))
        if candidate is None or candidate.n_generations < 10 * size:
            continue
        breakdown = mc_breakdown_generation(candidate, fraction=0.5, for_good=False)
        ratios.append(None if breakdown is None else breakdown / size)
        texts.append(f"M = {size}: n* = {breakdown} ({'—' if breakdown is None else f'{breakdown / size:.1f}M'})")
    record.evaluate("mc-mean-limit", ratios, "; ".join(texts) or "no M with N ≥ 10M")

    # tails first
    ratios, texts = [], []
    for size in sizes:
        for level in (0.9, 0.5):
            generation, median_std, share = tails_first_share(sweep["unbiased", size],
                                                              std_level=level)
            if generation is not None:
                ratios.append((1 - share) / (1 - median_std))
                texts.append(f"M = {size}, n = {generation}: σ −{1 - median_std:.0%}, "
                             f"3σ tail −{1 - share:.0%}")
    record.evaluate("tails-first", ratios, "; ".join(texts) or "σ never fell to 0.9σ")

    # non-Gaussian starts
    fractions, above, texts = [], [], []
    for name, run in starts_runs.items():
        if starts[name].w2_squared_floor < 1e-9:
            continue
        fraction = float((run.std[-1] < 0.1).mean())
        median = float(np.median(starts[name].w2_squared_to_gaussian(run.mean[-1],
                                                                       run.std[-1])))
        fractions.append(fraction)
        above.append(median > starts[name].w2_squared_floor)
        texts.append(f"{name}: P(σ_N < 0.1) = {fraction:.3f}, median W2² = {median:.2f}")
        n_last, size = run.n_generations, int(run.sizes[0])
    record.evaluate("non-gaussian-start", {"fractions": fractions, "above_floor": above,
                                           "n_over_m": n_last / size}, "; ".join(texts))

    # accumulate bounded
    accumulate, replace = policies["accumulate"], policies["replace (constant M)"]
    size = int(accumulate.sizes[0])
    first_error = float(theory.expected_w2_squared([size], accumulate.estimator)[0])
    acc_mean, _ = mc_mean_with_se(accumulate.w2_squared())
    rep_mean, _ = mc_mean_with_se(replace.w2_squared())
    mean_limit = theory.accumulate_expected_mean_error(size, accumulate.n_generations,
                                                       accumulate.estimator)[-1] * size
    record.evaluate("accumulate-bounded", {"accumulate_ratio": acc_mean[-1] / first_error,
                                           "replace_ratio": rep_mean[-1] / first_error},
                    f"E[W2²]/E[W2²₀] at n = {accumulate.n_generations}: accumulate "
                    f"×{acc_mean[-1] / first_error:.2f}, replace ×{rep_mean[-1] / first_error:.0f}"
                    f"; exact E|μ_N−μ|² = {mean_limit:.3f}·σ²/M (π²/6 = {math.pi ** 2 / 6:.3f})")

    # growing schedules
    z_scores, growth = {}, {}
    for key, label in (("i", "growing, Mᵢ ∝ i"), ("i2", "growing, Mᵢ ∝ i²"),
                       ("constant", "replace (constant M)")):
        spec = next(spec for spec in specs if spec.label == label)
        run = policies[label]
        exact = theory.expected_w2_squared(spec.theory_schedule(run.n_generations),
                                           run.estimator)
        mean, se = mc_mean_with_se(run.w2_squared()[-1])
        if key != "constant":
            z_scores[key] = float((mean - exact[-1]) / se)
        decade = run.n_generations // 10
        growth[key] = float(exact[-1] / exact[decade] - 1)
    record.evaluate("growing-schedules", {"z": z_scores, "decade_growth": growth},
                    f"(MC − exact)/SE: ∝ i {z_scores['i']:+.1f}, ∝ i² {z_scores['i2']:+.1f}; "
                    f"exact growth over the last decade: ∝ i² {growth['i2']:.2%}, ∝ i "
                    f"{growth['i']:.0%}, constant {growth['constant']:.0%}")

    # mix_real
    medians, collapsed, texts = [], [], []
    for spec in specs:
        if spec.label.startswith("mix_real"):
            run = policies[spec.label]
            medians.append(float(np.median(run.std[-1])))
            collapsed.append(int((run.std[-1] < 0.1).sum()))
            texts.append(f"{spec.label}: median σ = {medians[-1]:.2f}")
    record.evaluate("mix-real-stops", {"medians": medians, "collapsed": collapsed},
                    "; ".join(texts) + f" at n = {run.n_generations}")

    # accumulate_subsample
    subsample = policies["accumulate_subsample"]
    last = subsample.n_generations
    w2 = subsample.w2_squared()
    difference = w2[-1] - w2[subsample.row(last // 10)]
    drift_z = difference.mean() / (difference.std(ddof=1) / math.sqrt(difference.size))
    acc_w2 = accumulate.w2_squared()[accumulate.row(last)]
    excess = w2[-1].mean() - acc_w2.mean()
    excess_z = excess / math.sqrt(w2[-1].var(ddof=1) / w2.shape[1]
                                  + acc_w2.var(ddof=1) / acc_w2.size)
    record.evaluate("subsample-drifts", {"drift_z": float(drift_z), "excess_z": float(excess_z)},
                    f"E[W2²] {w2[subsample.row(last // 10)].mean():.4f} (n = {last // 10}) → "
                    f"{w2[-1].mean():.4f} (n = {last}), change {drift_z:+.1f} SE; accumulate "
                    f"{acc_w2.mean():.4f} ({excess_z:+.1f} SE)")

    # exact sampler
    record.evaluate("exact-sampler", [samplers.ks_std.pvalue, samplers.ks_mean.pvalue],
                    f"KS p = {samplers.ks_std.pvalue:.2f} (σ̂), {samplers.ks_mean.pvalue:.2f} (μ̂);"
                    f" {samplers.exact.n_seeds} seeds, M = {int(samplers.exact.sizes[0])}, "
                    f"N = {samplers.exact.n_generations}; naive/exact time ×"
                    f"{samplers.speed_ratio:.0f}")
