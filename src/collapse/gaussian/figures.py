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
    "plot_authors_view", "plot_authors_seeds", "plot_std_collapse", "plot_expectations",
    "plot_pooled_variance", "plot_w2",
    "plot_prob_small_std", "plot_tails", "plot_start_distributions", "plot_policies",
    "plot_samplers",
]


def _positive_generations(run: Trajectories, limit: int | None = None) -> np.ndarray:
    mask = run.generations >= 1
    if limit is not None:
        mask &= run.generations <= limit
    return mask


def plot_authors_view(single: Mapping[int, Trajectories]):
    """The authors' figure: |μ − μ̂_n| and |σ − σ̂_n| against generation (log x), one line per M
    (their single runs, one seed each)."""
    fig, axes = plotting.subplots(1, 2, width=plotting.MAX_WIDTH, height=3.2)
    for index, (size, run) in enumerate(single.items()):
        mask = _positive_generations(run)
        x, style = run.generations[mask], dict(color=plotting.color(index), linewidth=1.2)
        axes[0, 0].plot(x, np.abs(run.mean[mask, 0]), label=f"M = {size:,}", **style)
        axes[0, 1].plot(x, np.abs(run.std[mask, 0] - 1), **style)
    for ax, name in zip(axes[0], ("$|\\mu - \\hat\\mu_n|$", "$|\\sigma - \\hat\\sigma_n|$")):
        _generation_log_axis(ax)
        ax.set_ylabel(name)
    plotting.legend_below(fig)
    return fig


def plot_authors_seeds(single: Mapping[int, Trajectories],
                       sweep: Mapping[tuple[str, int], Trajectories], n_generations: int):
    """The authors' axes with many seeds, small multiples: one column per M, |μ − μ̂_n| (top)
    and |σ − σ̂_n| (bottom) against generation (log x); median and 10–90% band of the biased
    many-seed run, and the authors'-style single run dotted."""
    sizes = [size for size in single if ("biased", size) in sweep]
    fig, axes = plotting.subplots(2, len(sizes), width=plotting.MAX_WIDTH, height=4.4,
                                  sharex=True, sharey="row")
    for column, size in enumerate(sizes):
        color = plotting.color(list(single).index(size))
        one, many = single[size], sweep["biased", size]
        one_mask, many_mask = (_positive_generations(one, n_generations),
                               _positive_generations(many, n_generations))
        for row, (name, shift) in enumerate((("mean", 0.0), ("std", 1.0))):
            ax = axes[row, column]
            plotting.band(ax, many.generations[many_mask],
                          np.abs(getattr(many, name)[many_mask] - shift), color=color,
                          seed_axis=1, label=f"median and 10–90% of {many.n_seeds:,} seeds")
            ax.plot(one.generations[one_mask], np.abs(getattr(one, name)[one_mask, 0] - shift),
                    color=color, linewidth=0.8, linestyle=":", label="the single run")
            _generation_log_axis(ax, label=row == 1)
        axes[0, column].set_title(f"M = {size:,}", color=color)
    axes[0, 0].set_ylabel("$|\\mu - \\hat\\mu_n|$")
    axes[1, 0].set_ylabel("$|\\sigma - \\hat\\sigma_n|$")
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    grey = "#555555"
    fig.legend([(Patch(color=grey, alpha=0.25, linewidth=0), Line2D([], [], color=grey)),
                Line2D([], [], color=grey, linewidth=0.8, linestyle=":")],
               [f"median and 10–90% band of {many.n_seeds:,} seeds",
                "the single run of the authors' view"], loc="outside lower center", ncols=2)
    return fig


def _key(fig, entries: Sequence[tuple[str, dict]], ncols: int = 4):
    """One legend below the panels from (label, line style) pairs (proxy lines: colour for M,
    line style for the estimator or statistic), instead of a legend over the data."""
    from matplotlib.lines import Line2D
    return fig.legend([Line2D([], [], **style) for _, style in entries],
                      [label for label, _ in entries], loc="outside lower center",
                      ncols=min(ncols, len(entries)))


def _size_entries(sizes: Sequence[int]) -> list[tuple[str, dict]]:
    return [(f"M = {size:,}", dict(color=plotting.color(index), linewidth=4, alpha=0.6))
            for index, size in enumerate(sizes)]


_EXACT = dict(color="#222222", linestyle=(0, (1.5, 1.5)), linewidth=1.2)


def _generation_log_axis(ax, label: bool = True) -> None:
    """The paper's log-scaled generation axis: ticks 1, 10, 100, ... (integers), no minor
    ticks; labelled "generation n" unless ``label`` is false."""
    _log_axes(ax, y=False)
    if label:
        ax.set_xlabel("generation $n$")


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
    fig, axes = plotting.subplots(1, len(estimators), width=plotting.MAX_WIDTH, height=3.8, sharey=True)
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
        ax.set_xlabel("generation $n$")
    axes[0, 0].set_ylabel("fitted $\\sigma_n$ ($\\sigma = 1$)")
    plotting.legend_below(fig, ncols=4)
    return fig


def plot_expectations(sweep: Mapping[tuple[str, int], Trajectories], sizes: Sequence[int],
                      n_seeds_label: int):
    """Monte-Carlo means ± 2 SE against the exact E[σ²_n] (left) and E|μ_n − μ|² (right);
    colour = M, solid = unbiased, dashed = biased; one legend below the panels."""
    fig, axes = plotting.subplots(1, 2, width=plotting.MAX_WIDTH, height=3.6)
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
                ax.plot(x, mean, color=color, linestyle=_ESTIMATOR_STYLE[estimator])
                ax.fill_between(x, np.maximum(mean - 2 * se, 1e-12), mean + 2 * se,
                                color=color, alpha=0.2, linewidth=0)
                ax.plot(x, exact[x], **_EXACT)
        for ax in axes[0]:
            ax.axvline(3 * size, color=color, linewidth=0.8, alpha=0.6)
    axes[0, 0].set_ylabel("$\\mathbb{E}[\\sigma_n^2]$ (MC mean ± 2 SE)")
    axes[0, 1].set_ylabel("$\\mathbb{E}|\\mu_n - \\mu|^2$ (MC mean ± 2 SE)")
    axes[0, 0].set_ylim(1e-6, 10)
    axes[0, 1].set_ylim(1e-3, 3 * max(theory.expected_mean_error(
        sweep["unbiased", size].theory_sizes(), "unbiased")[-1] for size in sizes
        if ("unbiased", size) in sweep))
    for ax in axes[0]:
        _log_axes(ax)
        ax.set_xlabel("generation $n$ (vertical lines: $n = 3M$)")
    axes[0, 0].set_title(f"variance, {n_seeds_label:,} seeds")
    axes[0, 1].set_title("mean error")
    _key(fig, _size_entries(sizes) + _ESTIMATOR_ENTRIES + [("exact expectation", _EXACT)],
         ncols=3)
    return fig


_ESTIMATOR_STYLE = {"unbiased": "-", "biased": "--"}
_ESTIMATOR_ENTRIES = [("unbiased: MC mean", dict(color="#555555", linestyle="-")),
                      ("biased (np.std): MC mean", dict(color="#555555", linestyle="--"))]


def plot_pooled_variance(sweep: Mapping[tuple[str, int], Trajectories], sizes: Sequence[int],
                         up_to: float = 6.0):
    """Var(X_n) pooled over chains, the MC mean over seeds of σ²_n + (μ_n − μ)² ± 2 SE (solid
    unbiased, dashed biased), against n/M up to ``up_to``, with the exact σ²(1 + Σ1/M_i)
    (unbiased) and σ² (biased) dotted; one legend below."""
    fig, axes = plotting.subplots(1, 1, width=6.0, height=3.6)
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
            ax.plot(x / size, mean, color=color, linestyle=_ESTIMATOR_STYLE[estimator])
            ax.fill_between(x / size, mean - 2 * se, mean + 2 * se, color=color, alpha=0.2,
                            linewidth=0)
            exact = theory.expected_pooled_variance(run.theory_sizes(), estimator)[x]
            ax.plot(x / size, exact, **_EXACT)
    ax.axvline(3.0, color="#777777", linewidth=0.8, alpha=0.6)
    ax.set_xlabel("generation $n$ / $M$ (vertical line: $n = 3M$)")
    ax.set_ylabel("Var$(X_n)$ pooled over chains ($\\sigma = 1$)")
    ax.set_ylim(0, up_to + 2)
    _key(fig, _size_entries(sizes) + [(label.replace("MC mean", "MC mean ± 2 SE"), style)
                                      for label, style in _ESTIMATOR_ENTRIES]
         + [("exact: $\\sigma^2(1 + \\sum 1/M_i)$ unbiased, $\\sigma^2$ biased", _EXACT)],
         ncols=2)
    return fig


def plot_w2(sweep: Mapping[tuple[str, int], Trajectories], sizes: Sequence[int]):
    """W2²(N(μ_n,σ_n²), N(μ,σ²)): median and 10–90% band, MC mean (dash-dotted), exact E
    (dashed), one panel per estimator; one legend below."""
    fig, axes = plotting.subplots(1, 2, width=plotting.MAX_WIDTH, height=3.6, sharey=True)
    for ax, estimator in zip(axes[0], theory.ESTIMATORS):
        for index, size in enumerate(sizes):
            if (estimator, size) not in sweep:
                continue
            run = sweep[estimator, size]
            color = plotting.color(index)
            mask = _positive_generations(run)
            x = run.generations[mask]
            w2 = run.w2_squared()[mask]
            plotting.band(ax, x, w2, color=color, seed_axis=1)
            ax.plot(x, w2.mean(axis=1), color=color, linewidth=0.9, linestyle="-.")
            exact = theory.expected_w2_squared(run.theory_sizes(), estimator)[x]
            plotting.theory(ax, x, exact, label=None)
        if estimator == "biased":
            ax.axhline(2.0, color="#777777", linewidth=1.0, linestyle=":")
        _log_axes(ax)
        ax.set_xlabel("generation $n$")
        ax.set_title("unbiased estimator" if estimator == "unbiased"
                     else "biased estimator (np.std)")
    axes[0, 0].set_ylabel("$W_2^2(\\mathcal{N}(\\mu_n, \\sigma_n^2), \\mathcal{N}(\\mu, \\sigma^2))$")
    grey = "#555555"
    _key(fig, _size_entries(sizes) + [
        ("median, 10–90% band", dict(color=grey)),
        ("MC mean", dict(color=grey, linewidth=0.9, linestyle="-.")),
        ("exact $\\mathbb{E}[W_2^2]$", plotting.THEORY_STYLE),
        ("$2\\sigma^2$ (bound, biased)", dict(color="#777777", linewidth=1.0, linestyle=":"))],
        ncols=3)
    return fig


def plot_prob_small_std(sweep: Mapping[tuple[str, int], Trajectories], threshold: float = 0.1):
    """P(σ_n < threshold) against n: fraction of seeds (solid) and exact theory (dashed)."""
    fig, axes = plotting.subplots(1, 2, width=plotting.MAX_WIDTH, height=3.6, sharey=True)
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
        ax.set_xlabel("generation $n$")
        ax.set_title(f"{estimator} estimator")
    axes[0, 0].set_ylabel(f"$P(\\sigma_n < {threshold:g}\\sigma)$")
    plotting.legend_below(fig, ncols=3)
    return fig


def plot_tails(sweep: Mapping[tuple[str, int], Trajectories], sizes: Sequence[int],
               estimator: str = "unbiased", ks: Sequence[float] = (2.0, 3.0)):
    """Share of the original mass beyond ±kσ that generation n still assigns (median, 10–90%),
    with the median σ_n/σ (dotted) for comparison: the tails go first."""
    fig, axes = plotting.subplots(1, len(ks), width=plotting.MAX_WIDTH, height=3.6, sharey=True)
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
                    linewidth=1.0, label=f"M = {size:,}: median $\\sigma_n/\\sigma$")
        _log_axes(ax)
        ax.set_ylim(1e-6, 30)
        ax.set_xlabel("generation $n$")
        ax.set_title(f"mass beyond $\\pm{k:g}\\sigma$ (original: {2 * stats.norm.sf(k):.3g})")
    axes[0, 0].set_ylabel("share of the original tail mass kept")
    plotting.legend_below(fig, ncols=2)
    return fig


def plot_start_distributions(runs: Mapping[str, Trajectories],
                             starts: Mapping[str, theory.StartDistribution], sample_size: int):
    """Non-Gaussian D_0: σ_n (left) and W2²(N(μ_n,σ_n²), D_0) (right), median and band, with
    the Gaussian-start exact median of σ_n and each D_0's floor min_N W2²(N, D_0)."""
    fig, axes = plotting.subplots(1, 2, width=plotting.MAX_WIDTH, height=3.8)
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
    axes[0, 0].set_ylabel("fitted $\\sigma_n$ ($\\sigma_0 = 1$)")
    axes[0, 1].set_ylabel("$W_2^2(\\mathcal{N}(\\mu_n, \\sigma_n^2), D_0)$")
    axes[0, 1].set_title("dotted: the closest any Gaussian gets to D₀", fontsize=9)
    for ax in axes[0]:
        _log_axes(ax)
        ax.set_xlabel("generation $n$")
    plotting.legend_below(fig, ncols=3)
    return fig


#: the policy comparison's panels: (title, label prefixes); replace is every panel's reference
POLICY_GROUPS = (("new data only ($M$ fixed, growing)", ("replace", "growing")),
                 ("keep the data", ("accumulate",)),
                 ("fresh real data each generation", ("mix_real",)))
#: one distinct colour per policy (replace, the reference, is grey everywhere)
_POLICY_COLOURS = {"replace": "#777777", "growing, Mᵢ ∝ i": "#D55E00",
                   "growing, Mᵢ ∝ i²": "#009E73", "accumulate": "#CC79A7",
                   "accumulate_subsample": "#000000"}
_MIX_COLOURS = ("#E69F00", "#0072B2", "#56B4E9")


def _policy_colour(label: str, mix_index: int) -> str:
    if label.startswith("mix_real"):
        return _MIX_COLOURS[mix_index % len(_MIX_COLOURS)]
    if label in _POLICY_COLOURS:
        return _POLICY_COLOURS[label]
    return next(colour for prefix, colour in _POLICY_COLOURS.items()
                if label.startswith(prefix))


def plot_policies(runs: Mapping[str, Trajectories], specs: Sequence["PolicySpec"]):
    """The data policies in small multiples: one column per group of :data:`POLICY_GROUPS`,
    each with ``replace`` as grey reference; top, σ_n (median, 10–90%); bottom, E[W2²] (MC mean
    ± 2 SE) with the exact E[W2²] (dashed) for replace and the growing schedules. One distinct
    colour per policy, one legend below."""
    fig, axes = plotting.subplots(2, len(POLICY_GROUPS), width=plotting.MAX_WIDTH, height=5.0,
                                  sharex=True, sharey="row")
    colours, mix_index, reference = {}, 0, specs[0].label
    for spec in specs:
        colours[spec.label] = _policy_colour(spec.label, mix_index)
        mix_index += spec.label.startswith("mix_real")
    for column, (title, prefixes) in enumerate(POLICY_GROUPS):
        top, bottom = axes[0, column], axes[1, column]
        for spec in specs:
            if spec.label != reference and not spec.label.startswith(prefixes):
                continue
            run, colour = runs[spec.label], colours[spec.label]
            is_reference = spec.label == reference and column > 0
            mask = _positive_generations(run)
            x = run.generations[mask]
            width = 1.0 if is_reference else 1.6
            plotting.band(top, x, run.std[mask], label=spec.label, color=colour, seed_axis=1,
                          alpha=0.1 if is_reference else 0.2, linewidth=width)
            mean, se = mc_mean_with_se(run.w2_squared()[mask])
            bottom.plot(x, mean, color=colour, linewidth=width)
            bottom.fill_between(x, np.maximum(mean - 2 * se, 1e-6), mean + 2 * se,
                                color=colour, alpha=0.1 if is_reference else 0.2, linewidth=0)
            if spec.theory_schedule is not None and not is_reference:
                exact = theory.expected_w2_squared(spec.theory_schedule(run.n_generations),
                                                   run.estimator)[x]
                plotting.theory(bottom, x, exact, label="exact $\\mathbb{E}[W_2^2]$")
        top.set_title(title, fontsize=9.5)
        _log_axes(top, y=False)
        _log_axes(bottom)
        bottom.set_xlabel("generation $n$")
    axes[0, 0].set_ylim(0, 1.6)
    axes[0, 0].set_ylabel("fitted $\\sigma_n$ (median, 10–90%)")
    axes[1, 0].set_ylabel("$\\mathbb{E}[W_2^2]$ (MC mean ± 2 SE)")
    plotting.legend_below(fig, ncols=4)
    return fig


def plot_samplers(comparison: "SamplerComparison"):
    """Empirical CDFs of σ̂ and μ̂ at the last generation, exact vs naive sampler."""
    fig, axes = plotting.subplots(1, 2, width=plotting.MAX_WIDTH, height=3.4)
    for ax, name, test in ((axes[0, 0], "std", comparison.ks_std),
                           (axes[0, 1], "mean", comparison.ks_mean)):
        for index, run in enumerate((comparison.exact, comparison.naive)):
            values = np.sort(getattr(run, name)[-1])
            ax.step(values, np.arange(1, values.size + 1) / values.size, where="post",
                    color=plotting.color(index), label=run.label)
        symbol = "$\\hat\\sigma$" if name == "std" else "$\\hat\\mu$"
        ax.set_xlabel(f"{symbol} at generation {comparison.exact.n_generations}")
        ax.set_title(f"two-sample KS: D = {test.statistic:.3f}, p = {test.pvalue:.2f}")
    axes[0, 0].set_ylabel("empirical CDF over seeds")
    plotting.legend_below(fig)
    return fig
