"""The error-sources chapter's figures. Each function takes the chapter's runs
(:class:`~collapse.error_sources.experiments.ErrorSourceRuns`) and returns a matplotlib figure
in the book's style: simulation medians with 10–90% bands, exact theory dashed over them.
"""
from __future__ import annotations

import numpy as np

from ..gaussian import theory as gaussian_theory
from ..publish import plotting
from .experiments import (ErrorSourceRuns, em_label, kde_sample_size, kde_theory_mean_error,
                          kde_theory_variance)
from .family import SEPARATION, bimodal_distribution
from .theory import exact_kde_variance

__all__ = ["main_figure", "plot_expressivity", "plot_em", "plot_sample_kde",
           "plot_combined", "plot_exact_kde"]


def _generation_axis(ax, nbins: int = 5) -> None:
    """An integer generation axis with at most ``nbins`` intervals (narrow panels)."""
    from matplotlib.ticker import MaxNLocator
    plotting.generation_axis(ax)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=nbins, integer=True))


_EXACT = "exact theory (in (a): the 10%, 50% and 90% quantiles)"


def _statistical_panel(ax, runs: ErrorSourceRuns) -> None:
    """σ_n (median, 10–90% band over seeds) for each M on a log axis (nothing clipped), with
    the exact 10%, 50% and 90% quantiles dashed."""
    for index, (size, run) in enumerate(sorted(runs.statistical.items())):
        plotting.band(ax, run.generations, run.std, label=f"statistical: M = {size:,}",
                      color=plotting.color(index))
        exact = np.sqrt(gaussian_theory.variance_quantiles([0.1, 0.5, 0.9], size,
                                                           run.generations, "unbiased"))
        for row in range(3):
            plotting.theory(ax, run.generations, exact[row],
                            label=_EXACT
                            if index == 0 and row == 1 else None, linewidth=0.9)
    ax.set(yscale="log", ylabel=r"fitted $\sigma_n$ (truth $\sigma = 1$)",
           title="(a) statistical error alone")
    _generation_axis(ax)


def main_figure(runs: ErrorSourceRuns):
    """The three sources, each switched on alone (the chapter's claim at a glance): (a) the
    statistical error, σ_n of a Gaussian refitted to M samples of itself; (b) the
    expressivity error, W2² to the bimodal D_0 of a Gaussian fitted with infinite data; (c)
    the approximation error, the variance of a KDE of infinite data. Exact theory dashed;
    one legend below the panels."""
    fig, axes = plotting.subplots(1, 3, width=plotting.MAX_WIDTH, height=3.3)
    stat, expr, approx = axes[0]
    _statistical_panel(stat, runs)
    run = runs.expressivity[next(iter(runs.expressivity))]
    expr.plot(run.generations, run["w2_squared"], color=plotting.color(2), linewidth=2.2,
              label="expressivity: one Gaussian, infinite data")
    floor = runs.expressivity_floor
    plotting.theory(expr, [0, run.generations[-1]], [floor, floor],
                    label=_EXACT)
    expr.set(ylim=(0, 2.2 * floor), ylabel=r"$W_2^2$ to $D_0$",
             title="(b) expressivity error alone")
    _generation_axis(expr)
    bandwidth = runs.exact_kde_bandwidth
    label, kde = next(iter(runs.exact_kde.items()))
    approx.plot(kde.generations, kde["variance"], color=plotting.color(3), linewidth=2.2,
                label=f"approximation: KDE (h = {bandwidth:g}), infinite data")
    plotting.theory(approx, kde.generations,
                    exact_kde_variance(bandwidth, kde.n_generations, label), label=_EXACT)
    approx.set(ylim=(0, None), ylabel=r"variance $V_n$ (truth 1)",
               title="(c) approximation error alone")
    _generation_axis(approx)
    for ax in axes[0]:
        ax.title.set_fontsize(9.5)
    plotting.legend_below(fig, ncols=2, fontsize=8.5)
    return fig


def plot_expressivity(runs: ErrorSourceRuns, separation: float = SEPARATION):
    """Left: D_0 and the Gaussians of the kept generations. Right: W2² to D_0 by policy."""
    fig, axes = plotting.subplots(1, 2, width=10, height=3.6)
    left, right = axes[0]
    truth = bimodal_distribution(separation)
    x = np.linspace(-3.2, 3.2, 600)
    left.fill_between(x, truth.pdf(x), color="#bbbbbb", alpha=0.6, label="$D_0$ (bimodal)")
    models = next(iter(runs.expressivity.values())).folds["models"]
    for index, generation in enumerate(sorted(models)):
        left.plot(x, models[generation].pdf(x), color=plotting.color(index),
                  linestyle="-" if index == 0 else "--", label=f"generation {generation}")
    left.set(xlabel="x", ylabel="density", title="Gaussian fitted with infinite data")
    left.legend(loc="upper right")
    for index, (label, run) in enumerate(runs.expressivity.items()):
        right.plot(run.generations, run["w2_squared"], color=plotting.color(index),
                   label=label, linewidth=2.5 - 0.6 * index)
    floor = runs.expressivity_floor
    plotting.theory(right, [0, len(run["w2_squared"]) - 1], [floor, floor],
                    label=r"exact: $2 - 2\kappa$")
    right.set(ylabel=r"$W_2^2$ to $D_0$", ylim=(0, 2.2 * floor),
              title="expressivity error by generation")
    _generation_axis(right)
    right.legend(loc="lower right")
    return fig


def plot_em(runs: ErrorSourceRuns, separation: float = SEPARATION):
    """Left: D_0 and the last kept generation of the EM chains. Right: tail mass outside
    D_0's central 99% interval against generation."""
    fig, axes = plotting.subplots(1, 2, width=10, height=3.6)
    left, right = axes[0]
    truth = bimodal_distribution(separation)
    x = np.linspace(-2.6, 2.6, 800)
    left.fill_between(x, truth.pdf(x), color="#bbbbbb", alpha=0.6, label="$D_0$")
    peak = 0.0
    for index, (n_iter, run) in enumerate(runs.em.items()):
        models = run.folds["models"]
        last = max(models)
        density = models[last].pdf(x)
        peak = max(peak, density.max())
        left.plot(x, density, color=plotting.color(index),
                  label=f"{em_label(n_iter)}: generation {last}")
        right.plot(run.generations, run["tail_mass"], color=plotting.color(index))
    right.axhline(0.01, **plotting.PAPER_STYLE, label="$D_0$: 1%")
    left.set(xlabel="x", ylabel="density", title="EM stopped early, infinite data",
             ylim=(0, 1.55 * peak))
    left.legend(loc="upper center", fontsize=7.5, ncol=2)
    right.set(ylabel="mass outside $D_0$'s central 99%", yscale="log",
              title="the tails vanish; the variance stays 1")
    _generation_axis(right)
    right.legend(loc="center right")   # the colours are the left panel's
    return fig


def plot_sample_kde(runs: ErrorSourceRuns):
    """Left: Vₙ of the finite-sample KDE (bands; thin: MC mean; dashed: exact E Vₙ). Right:
    MC mean of (mₙ − μ)² against its exact value."""
    fig, axes = plotting.subplots(1, 2, width=10, height=3.8)
    left, right = axes[0]
    for index, (bandwidth, run) in enumerate(runs.kde.items()):
        generations, colour = run.generations, plotting.color(index)
        size = kde_sample_size(run)
        plotting.band(left, generations, run["variance"],
                      label=f"h = {bandwidth:g} ($Mh^2$ = {size * bandwidth ** 2:g})",
                      color=colour)
        left.plot(generations, run["variance"].mean(axis=1), color=colour, linewidth=0.7,
                  alpha=0.9)
        plotting.theory(left, generations, kde_theory_variance(run, bandwidth),
                        label=r"exact $\mathbb{E}\,V_n$" if index == 0 else None)
        right.plot(generations, (run["mean"] ** 2).mean(axis=1), color=colour,
                   label=f"h = {bandwidth:g}")
        plotting.theory(right, generations, kde_theory_mean_error(run, bandwidth),
                        label="exact" if index == 0 else None)
    left.set(ylabel="KDE variance $V_n$", yscale="log",
             title=f"KDE of M = {runs.kde_sample_size} samples")
    _generation_axis(left)
    plotting.legend_below(fig, axes=[left], ncols=4, fontsize=8.5)
    right.set(ylabel=r"MC mean of $(m_n - \mu)^2$", title="the location still drifts")
    _generation_axis(right)
    right.legend(loc="upper left")
    return fig


def plot_combined(runs: ErrorSourceRuns, separation: float = SEPARATION):
    """Left: W2² to D₀ with statistical, expressivity, and both errors (compound). Right:
    variance with statistical, approximation, and both errors (cancel)."""
    fig, axes = plotting.subplots(1, 2, width=10, height=3.8)
    left, right = axes[0]
    statistical, bimodal = runs.statistical[runs.small_sample_size], runs.bimodal
    floor, start = runs.expressivity_floor, gaussian_theory.bimodal_start(separation)
    plotting.band(left, statistical.generations + 1, statistical.w2_squared(),
                  label="statistical only (Gaussian $D_0$)", color=plotting.color(0))
    left.plot([1, statistical.generations[-1] + 1], [floor, floor], color=plotting.color(1),
              linewidth=2, label=r"expressivity only ($M \to \infty$)")
    plotting.band(left, bimodal.generations + 1,
                  start.w2_squared_to_gaussian(bimodal.mean, bimodal.std),
                  label="both (bimodal $D_0$, $M$ samples)", color=plotting.color(2))
    left.set(xscale="log", yscale="log", xlabel="generation $n + 1$",
             ylabel=r"$W_2^2$ to $D_0$", title="expressivity + statistical: they add")
    left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), fontsize=8.5)

    bandwidth, kde = runs.cancelling_bandwidth, runs.cancelling
    generations = kde.generations
    plotting.band(right, statistical.generations, statistical.std ** 2,
                  label="statistical only: Gaussian fit", color=plotting.color(0))
    right.plot(generations, exact_kde_variance(bandwidth, kde.n_generations),
               color=plotting.color(1), linewidth=2, label=r"approximation only: KDE, $M \to \infty$")
    plotting.band(right, generations, kde["variance"],
                  label=f"both: KDE of M = {kde_sample_size(kde)}", color=plotting.color(2))
    plotting.theory(right, generations, kde_theory_variance(kde, bandwidth),
                    label=r"exact $\mathbb{E}\,V_n$")
    right.set(yscale="log", ylabel="variance $V_n$ (truth 1)",
              title=r"statistical + approximation ($h^2 = \sigma^2/M$): they cancel")
    _generation_axis(right)
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), fontsize=8.5)
    return fig


def plot_exact_kde(runs: ErrorSourceRuns, sigma: float = 1.0):
    """Excess variance Vₙ − σ² of the infinite-data KDE chain under each policy (log-log),
    exact recursion dashed."""
    fig, axes = plotting.subplots(1, 1, width=7, height=3.6)
    ax, bandwidth = axes[0, 0], runs.exact_kde_bandwidth
    for index, (label, run) in enumerate(runs.exact_kde.items()):
        generations = run.generations
        ax.plot(generations + 1, run["variance"] - sigma ** 2, color=plotting.color(index),
                label=label, linewidth=2.2)
        exact = exact_kde_variance(bandwidth, run.n_generations, label, sigma=sigma)
        plotting.theory(ax, generations + 1, exact - sigma ** 2,
                        label="exact recursion" if index == 0 else None)
    ax.set(xlabel="generation $n + 1$", ylabel=r"excess variance $V_n - \sigma^2$", xscale="log",
           yscale="log", title=f"KDE of infinite data, h = {bandwidth:g}")
    ax.legend(loc="upper left")
    return fig
