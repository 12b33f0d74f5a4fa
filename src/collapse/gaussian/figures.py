"""The Gaussian chapter's figures. Each function takes runs (or parts of
:class:`~collapse.gaussian.experiments.GaussianRuns`) and returns a matplotlib figure drawn in
the book's style: simulation medians with 10–90% bands, exact theory dashed over them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
from scipy import stats

from ..core.stats import mc_mean_with_se
from ..publish import plotting
from . import theory
from .trajectories import Trajectories

if TYPE_CHECKING:  # for type hints only
    from .experiments import PolicySpec, SamplerComparison

__all__ = [
    "plot_authors_view", "plot_std_collapse", "plot_expectations",
    "plot_pooled_variance", "plot_w2",
    "plot_prob_small_std", "plot_tails", "plot_start_distributions", "plot_policies",
    "plot_samplers",
]


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


def plot_pooled_variance(sweep: Mapping[tuple[str, int], Trajectories], sizes: Sequence[int],
                         up_to: float = 6.0):
    """Var(X_n) pooled over chains, the MC mean over seeds of σ²_n + (μ_n − μ)² ± 2 SE (solid
    unbiased, dashed biased), against n/M up to ``up_to``, with the exact σ²(1 + Σ1/M_i)
    (unbiased) and σ² (biased) dotted."""
    fig, axes = plotting.subplots(1, 1, width=6.4, height=3.8)
    ax = axes[0, 0]
    for index, size in enumerate(sizes):
        color = plotting.color(index)
        for estimator in theory.ESTIMATORS:
            if (estimator, size) not in sweep:
                continue
            run = sweep[estimator, size]
            mask = run.generations <= up_to * size
            x = run.generations[mask]
            mean, se = mc_mean_with_se(run.std[mask] ** 2 + run.mean[mask] ** 2)
            ax.plot(x / size, mean, color=color, linestyle="-" if estimator == "unbiased"
                    else "--", label=f"M = {size:,}, {estimator}: MC mean ± 2 SE")
            ax.fill_between(x / size, mean - 2 * se, mean + 2 * se, color=color, alpha=0.2,
                            linewidth=0)
            exact = theory.expected_pooled_variance(run.theory_sizes(), estimator)[x]
            plotting.theory(ax, x / size, exact, linestyle=(0, (1.5, 1.5)),
                            label="exact: σ²(1 + Σ1/Mᵢ) unbiased, σ² biased"
                            if index == 0 and estimator == "unbiased" else None)
    ax.axvline(3.0, color="#777777", linewidth=0.8, alpha=0.6)
    ax.set_xlabel("generation n / M  (vertical line: n = 3M)")
    ax.set_ylabel("Var(Xₙ) pooled over chains  (σ = 1)")
    ax.set_ylim(0, up_to + 2)
    ax.legend(loc="upper left", fontsize=7)
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


def plot_policies(runs: Mapping[str, Trajectories], specs: Sequence["PolicySpec"]):
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


def plot_samplers(comparison: "SamplerComparison"):
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
