"""The d-dimensional Gaussian chapter's figures. Each function takes runs (or parts of
:class:`~collapse.gaussian_nd.experiments.NDRuns`) and returns a matplotlib figure in the book's
style: simulation medians with 10–90% bands, Monte-Carlo means with ± 2 SE, exact theory
dashed or dotted over them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

import matplotlib as mpl
import numpy as np

from ..core.stats import mc_mean_with_se
from ..publish import plotting
from . import theory
from .experiments import GRID_POLICIES

if TYPE_CHECKING:  # for type hints only
    from .experiments import NDRuns, Run, SamplerComparison

__all__ = ["plot_theorem", "plot_spectrum", "plot_w2", "plot_rate_scaling", "plot_samplers",
           "plot_grid_glance", "plot_grid_curves"]

_ESTIMATOR_NAMES = {"unbiased": "unbiased (÷(M−1), Theorem 3.1)", "ml": "maximum likelihood (÷M)"}
_POLICY_COLORS = {"replace": plotting.color(1), "accumulate_subsample": plotting.color(4),
                  "accumulate": plotting.color(2)}


def _theory_generations(n_generations: int, points: int = 40) -> np.ndarray:
    return np.unique(np.round(np.linspace(0, n_generations, points)).astype(int))


def _generation_axis(ax, bins: int = 5) -> None:
    """A linear generation axis with at most ``bins`` integer ticks (narrow panels)."""
    plotting.generation_axis(ax)
    ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(bins, integer=True))


def _mean_band(ax, x, values, color, label=None, **kwargs):
    """MC mean over seeds (axis 1) ± 2 SE."""
    mean, se = mc_mean_with_se(values, axis=1)
    ax.plot(x, mean, color=color, label=label, **kwargs)
    ax.fill_between(x, mean - 2 * se, mean + 2 * se, color=color, alpha=0.15, linewidth=0)


def plot_theorem(theorem: Mapping[str, "Run"]):
    """log det Σ_n/d, tr Σ_n/(dσ²) and ‖μ_n − μ‖²/d against n for both estimators: medians
    with 10–90% bands, exact log det quantiles and exact expectations (MC means dash-dotted);
    integer generation ticks, one legend below the panels."""
    fig, axes = plotting.subplots(1, 3, width=plotting.MAX_WIDTH, height=3.3)
    for index, (estimator, run) in enumerate(theorem.items()):
        color, x = plotting.color(index), np.arange(run.n_generations + 1)
        grid, dim = _theory_generations(run.n_generations), run.dim
        plotting.band(axes[0, 0], x, run.log_det / dim, color=color, seed_axis=1)
        quantiles = theory.log_det_quantiles([0.1, 0.5, 0.9], dim, run.sample_size, grid,
                                             estimator) / dim
        plotting.theory(axes[0, 0], grid, quantiles[1], label=None)
        for row in (0, 2):
            plotting.theory(axes[0, 0], grid, quantiles[row], label=None, **_QUANTILE_STYLE)
        for ax, values, exact in (
                (axes[0, 1], run.trace / dim,
                 theory.expected_trace(dim, run.sizes(), estimator) / dim),
                (axes[0, 2], run.mean_error / dim,
                 theory.expected_mean_error(dim, run.sizes(), estimator) / dim)):
            plotting.band(ax, x[1:], values[1:], color=color, seed_axis=1)
            ax.plot(x[1:], values[1:].mean(axis=1), color=color, **_MC_STYLE)
            plotting.theory(ax, x[1:], exact[1:], label=None, **_EXPECTATION_STYLE)
    axes[0, 0].set_ylabel("$\\log\\det\\Sigma_n / d$ ($\\sigma = 1$)")
    axes[0, 1].set_ylabel("$\\operatorname{tr}\\Sigma_n / d$")
    axes[0, 1].set_yscale("log")
    axes[0, 1].set_ylim(1e-5, 10)
    axes[0, 2].set_ylabel("$\\|\\mu_n - \\mu\\|^2 / d$")
    axes[0, 2].set_yscale("log")
    for ax in axes[0]:
        _generation_axis(ax)
    run = next(iter(theorem.values()))
    fig.suptitle(f"d = {run.dim}, M = {run.sample_size}, {run.n_seeds:,} seeds", fontsize=10)
    from matplotlib.lines import Line2D
    entries = [(_ESTIMATOR_NAMES[name], dict(color=plotting.color(index), linewidth=4,
                                             alpha=0.6)) for index, name in enumerate(theorem)]
    entries += [("median, 10–90% band", dict(color="#555555")),
                ("MC mean", dict(color="#555555", **_MC_STYLE)),
                ("exact median (log det)", plotting.THEORY_STYLE),
                ("exact 10%, 90% (log det)", {**plotting.THEORY_STYLE, **_QUANTILE_STYLE}),
                ("exact expectation", {**plotting.THEORY_STYLE, **_EXPECTATION_STYLE})]
    fig.legend([Line2D([], [], **style) for _, style in entries], [l for l, _ in entries],
               loc="outside lower center", ncols=3)
    return fig


_QUANTILE_STYLE = dict(linestyle=":", linewidth=0.9)
_MC_STYLE = dict(linestyle="-.", linewidth=0.9)
_EXPECTATION_STYLE = dict(linestyle=(0, (1.5, 1.5)))


def plot_spectrum(theorem: Mapping[str, "Run"]):
    """Median of each ordered eigenvalue λ_i(Σ_n) against n (one colour per i), with the
    asymptotic Lyapunov line exp((n+1) r_i) dashed; one panel per estimator."""
    fig, axes = plotting.subplots(1, len(theorem), width=plotting.MAX_WIDTH, height=3.6,
                                  sharey=True)
    for ax, (estimator, run) in zip(axes[0], theorem.items()):
        kept = np.array(sorted(run.spectrum))
        medians = np.array([np.median(run.spectrum[g], axis=0) for g in kept])  # (K, d)
        lines = theory.eigenvalue_quantiles([0.5], run.dim, run.sample_size, kept,
                                            estimator)[0]
        colors = mpl.colormaps["viridis"](np.linspace(0, 0.9, run.dim))
        for i in range(run.dim):
            ax.plot(kept, medians[:, i], color=colors[i],
                    label=f"$\\lambda_{{{i + 1}}}$" if i in (0, run.dim - 1) else None)
            plotting.theory(ax, kept[kept > 0], lines[kept > 0, i], linewidth=0.8,
                            label="Lyapunov: $\\exp((n+1)r_i)$" if i == 0 else None)
        ax.set_yscale("log")
        ax.set_ylim(medians.min() / 10, 10)
        _generation_axis(ax)
        ax.set_title(_ESTIMATOR_NAMES[estimator])
    axes[0, 0].set_ylabel("median eigenvalue of $\\Sigma_n$ ($\\sigma = 1$)")
    plotting.legend_below(fig, ncols=3)
    return fig


def plot_w2(theorem: Mapping[str, "Run"]):
    """W2²(N(μ_n, Σ_n), N(μ, σ²I)): median and 10–90% band, MC mean ± 2 SE, the exact
    bracket [d × 1-D E[W2²], E‖μ_n − μ‖² + E tr Σ_n + dσ²] (grey) and the tighter AM–GM
    upper bound (needs M > d); one panel per estimator."""
    fig, axes = plotting.subplots(1, len(theorem), width=plotting.MAX_WIDTH, height=3.6,
                                  sharey=True)
    for ax, (index, (estimator, run)) in zip(axes[0], enumerate(theorem.items())):
        x = np.arange(1, run.n_generations + 1)
        color = plotting.color(index)
        plotting.band(ax, x, run.w2[1:], color=color, seed_axis=1, label="median, 10–90%")
        _mean_band(ax, x, run.w2[1:], color, label="MC mean ± 2 SE", linestyle="-.",
                   linewidth=0.9)
        lower, upper = theory.w2_bounds(run.dim, run.sizes(), estimator)
        ax.fill_between(x, lower[1:], upper[1:], color="#999999", alpha=0.35, linewidth=0,
                        label="exact bracket of $\\mathbb{E}[W_2^2]$")
        plotting.theory(ax, x, lower[1:], label=None, linewidth=0.8)
        plotting.theory(ax, x, theory.w2_upper_amgm(run.dim, run.sizes(), estimator)[1:],
                        linewidth=0.8, linestyle=(0, (4, 1.5, 1, 1.5)),
                        label="tighter upper bound (AM–GM)")
        ax.axhline(2 * run.dim, color="#777777", linestyle=":", linewidth=1.0, label="$2d\\sigma^2$")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("generation n")
        ax.set_title(_ESTIMATOR_NAMES[estimator])
    axes[0, 0].set_ylabel("$W_2^2(\\mathcal{N}(\\mu_n, \\Sigma_n), \\mathcal{N}(\\mu, \\sigma^2 I))$")
    plotting.legend_below(fig, ncols=3)
    return fig


def _measured_rate(run: "Run") -> float:
    """Per-dimension collapse rate: −(median log det at N − median at 0)/(N d)."""
    return float(-(np.median(run.log_det[-1]) - np.median(run.log_det[0]))
                 / (run.n_generations * run.dim))


def plot_rate_scaling(runs: "NDRuns"):
    """Left: the measured per-dimension collapse rate of log det (grid `replace` cells with
    M > d, ML; theorem runs) against the exact −Σr_i/d. Right: the exact per-dimension rate
    against d/M for each M of the grid (solid ML, dotted unbiased), with d/(2M) dashed: the
    rate is about half of d/M, plus 1/(2M) (unbiased) or 3/(2M) (ML), steeper as d → M."""
    fig, axes = plotting.subplots(1, 2, width=plotting.MAX_WIDTH, height=3.9)
    ax = axes[0, 0]
    cells = [r for r in runs.grid_runs("replace") if not r.singular]
    dims = sorted({r.dim for r in cells})
    points = []
    for run in cells + list(runs.theorem.values()):
        exact = -theory.log_det_step_mean(run.dim, run.sample_size, run.estimator) / run.dim
        in_grid = run in cells
        points.append((exact, _measured_rate(run)))
        ax.scatter(*points[-1], s=18 + 8 * np.log10(run.sample_size), zorder=3,
                   marker="o" if in_grid else "*",
                   color=plotting.color(dims.index(run.dim)) if in_grid else "black")
    values = np.array(points)
    limits = np.array([values[values > 0].min() / 2, values.max() * 2])
    ax.plot(limits, limits, color="#222222", linestyle="--", linewidth=1, label="measured = exact")
    for index, dim in enumerate(dims):
        ax.scatter([], [], color=plotting.color(index), label=f"d = {dim} (grid, ML)")
    ax.scatter([], [], marker="*", color="black", label="theorem runs")
    ax.set(xscale="log", yscale="log", xlim=limits, ylim=limits,
           xlabel="exact rate per dimension −Σrᵢ/d (per generation)",
           ylabel="measured: −Δ median log det / (N d)")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_minor_formatter(mpl.ticker.NullFormatter())
    ax.legend(loc="upper left", fontsize=7)
    ax = axes[0, 1]
    for index, size in enumerate(runs.grid_sample_sizes):
        dims_below = np.arange(1, size)
        for estimator, style in (("ml", "-"), ("unbiased", ":")):
            rate = [-theory.log_det_step_mean(d, size, estimator) / d for d in dims_below]
            ax.plot(dims_below / size, rate, color=plotting.color(index), linestyle=style,
                    label=f"M = {size}" if estimator == "ml" else None)
    ratio = np.geomspace(1e-3, 1, 50)
    ax.plot(ratio, ratio / 2, color="#222222", linestyle="--", linewidth=1, label="d/(2M)")
    ax.set(xscale="log", yscale="log", xlabel="d / M",
           ylabel="exact rate per dimension (per generation)", title="solid ML, dotted unbiased")
    ax.legend(loc="upper left", fontsize=7)
    return fig


def plot_samplers(comparison: "SamplerComparison"):
    """Empirical CDFs over the seeds at the last generation, exact against naive sampler, of
    log det Σ/d, tr Σ/d and ‖μ − μ_0‖², with the KS p-values."""
    fig, axes = plotting.subplots(1, 3, width=plotting.MAX_WIDTH, height=3.0)
    exact, naive = comparison.exact, comparison.naive
    for ax, name, scale in zip(axes[0], ("log_det", "trace", "mean_error"),
                               (exact.dim, exact.dim, 1)):
        for run, color in ((exact, plotting.color(0)), (naive, plotting.color(1))):
            values = np.sort(getattr(run, name)[-1] / scale)
            ax.step(values, np.arange(1, values.size + 1) / values.size, where="post",
                    color=color, label=f"{run.sampler} sampler")
        ax.set_title(f"KS p = {comparison.ks[name].pvalue:.2f}", fontsize=9.5)
        ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(5))
        ax.set_xlabel({"log_det": "$\\log\\det\\Sigma_N / d$",
                       "trace": "$\\operatorname{tr}\\Sigma_N / d$",
                       "mean_error": "$\\|\\mu_N - \\mu\\|^2$"}[name])
    axes[0, 0].set_ylabel("fraction of seeds")
    plotting.legend_below(fig)
    return fig


def _glance_values(runs: "NDRuns", policy: str) -> tuple[np.ndarray, np.ndarray]:
    """(MC mean ‖μ_N − μ‖² over its first-iteration value dσ²/M, median det(Σ_N)^{1/d}),
    shape (len(dims), len(sizes)) each; NaN where det = 0."""
    error = np.empty((len(runs.grid_dims), len(runs.grid_sample_sizes)))
    spread = np.full(error.shape, np.nan)
    for row, dim in enumerate(runs.grid_dims):
        for column, size in enumerate(runs.grid_sample_sizes):
            run = runs.grid[dim, size, policy]
            error[row, column] = run.mean_error[-1].mean() / (dim / size)
            if not run.singular:
                spread[row, column] = np.exp(np.median(run.log_det[-1]) / dim)
    return error, spread


def plot_grid_glance(runs: "NDRuns"):
    """The whole grid at the last iteration: top, MC mean ‖μ_N − μ‖² relative to the first
    iteration (log colour); bottom, the median geometric-mean eigenvalue det(Σ_N)^{1/d}
    (σ = 1; "det 0" where M ≤ d); one column per policy."""
    fig, axes = plotting.subplots(2, 3, width=plotting.MAX_WIDTH, height=5.6)
    errors = {policy: _glance_values(runs, policy) for policy in GRID_POLICIES}
    top = max(np.nanmax(values[0]) for values in errors.values())
    for column, policy in enumerate(GRID_POLICIES):
        error, spread = errors[policy]
        for row, (values, norm, fmt, cmap) in enumerate((
                (error, mpl.colors.LogNorm(1, top), "{:.3g}×", "magma_r"),
                (spread, mpl.colors.Normalize(0, 1), "{:.2g}", "viridis"))):
            ax = axes[row, column]
            image = ax.imshow(values, norm=norm, cmap=cmap, origin="lower", aspect="auto")
            for (i, j), value in np.ndenumerate(values):
                text = "det 0" if np.isnan(value) else fmt.format(value)
                shade = image.cmap(image.norm(value)) if np.isfinite(value) else (1, 1, 1, 1)
                ax.text(j, i, text, ha="center", va="center", fontsize=6,
                        color="white" if np.mean(shade[:3]) < 0.5 else "black")
            ax.set_xticks(range(len(runs.grid_sample_sizes)), runs.grid_sample_sizes)
            ax.set_yticks(range(len(runs.grid_dims)), runs.grid_dims)
            ax.grid(False)
            ax.set_xlabel("samples per iteration $M$")
            ax.tick_params(labelsize=8)
            if column == 0:
                ax.set_ylabel("dimension $d$")
            if row == 0:
                ax.set_title(policy)
    fig.colorbar(mpl.cm.ScalarMappable(mpl.colors.LogNorm(1, top), "magma_r"),
                 ax=axes[0, :], shrink=0.8).set_label("$\\|\\mu_N - \\mu\\|^2 / (d\\sigma^2/M)$")
    fig.colorbar(mpl.cm.ScalarMappable(mpl.colors.Normalize(0, 1), "viridis"),
                 ax=axes[1, :], shrink=0.8).set_label("$\\det(\\Sigma_N)^{1/d}$")
    return fig


def plot_grid_curves(runs: "NDRuns", quantity: str = "mean_error"):
    """Small multiples, rows d and columns M, of every policy against the iteration.
    ``quantity`` "mean_error": MC mean ‖μ_n − μ‖²/(dσ²/M) with the exact expectations
    (dotted); "log_det": median log det Σ_n / d with 10–90% band and, for `replace` with M > d,
    the exact median (dashed)."""
    rows, columns = len(runs.grid_dims), len(runs.grid_sample_sizes)
    fig, axes = plotting.subplots(rows, columns, width=plotting.MAX_WIDTH,
                                  height=1.35 * rows + 1.0, sharex=True,
                                  sharey=quantity == "mean_error")
    cells = [(row, dim, column, size) for row, dim in enumerate(runs.grid_dims)
             for column, size in enumerate(runs.grid_sample_sizes)]
    for row, dim, column, size in cells:
        ax = axes[rows - 1 - row, column]
        for policy in GRID_POLICIES:
            run, color = runs.grid[dim, size, policy], _POLICY_COLORS[policy]
            x = np.arange(run.n_generations + 1)
            if quantity == "mean_error":
                ax.plot(x, run.mean_error.mean(axis=1) * size / dim, color=color, label=policy)
                exact = (theory.expected_mean_error(dim, run.sizes(), run.estimator)
                         if policy == "replace" else theory.pool_expectations(
                             dim, size, run.n_generations, run.estimator,
                             policy == "accumulate_subsample")[0])
                plotting.theory(ax, x, exact * size / dim, linestyle=":", linewidth=1.0,
                                label="exact" if policy == "accumulate" else None)
            elif not run.singular:
                plotting.band(ax, x, run.log_det / dim, color=color, seed_axis=1, label=policy)
                if policy == "replace":
                    grid = _theory_generations(run.n_generations, 12)
                    plotting.theory(ax, grid, theory.log_det_quantiles(
                        [0.5], dim, size, grid, run.estimator)[0] / dim, linewidth=1.0,
                        label="exact median (replace)")
        if quantity == "mean_error":
            ax.set_yscale("log")
        elif run.singular:
            ax.text(0.5, 0.5, "M ≤ d: det Σ = 0", transform=ax.transAxes, ha="center",
                    fontsize=8, color="#777777")
            ax.set_yticks([])
        if row == rows - 1:
            ax.set_title(f"M = {size}", fontsize=9.5)
        ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(3, integer=True))
        ax.tick_params(labelsize=8)
        if column == 0:
            ax.set_ylabel(f"d = {dim}")
    for ax in axes[-1]:
        ax.set_xlabel("generation $n$")
    plotting.legend_below(fig, ncols=4)
    return fig
