"""Figures of the discrete-distributions chapter (book/discrete.md), in the book's style.

Each function draws one figure from (part of) the chapter's runs (:mod:`.experiments`) and
returns it:
simulation as medians with 10–90% bands over chains (or means with error bars where the
quantity is a mean), exact theory as dashed lines, approximations as dotted lines.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib import ticker

from ..core.loop import History
from ..publish import plotting
from . import wright_fisher
from .chains import (AbsorptionResult, AbsorptionTimes, ZipfResult, absorption_summary,
                     zipf_loss_order)
from .words import COUNT_BUCKETS, ForgettingTimes, bucket_of

APPROXIMATION_STYLE = dict(color="#222222", linestyle=":", linewidth=1.4)
BOUND_STYLE = dict(color="#777777", linestyle="-.", linewidth=1.2)


def _plain_ticks(ax, which: str = "both") -> None:
    """Plain numbers (1, 2, 5, 10, 20, ...) instead of powers of ten on log axes."""
    axes = {"x": [ax.xaxis], "y": [ax.yaxis], "both": [ax.xaxis, ax.yaxis]}[which]
    for axis in axes:
        axis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
        axis.set_minor_formatter(ticker.NullFormatter())


def _generations(*axes, bins: int = 6) -> None:
    """Linear generation axes: at most ``bins`` integer ticks, labelled "generation n"."""
    for ax in axes:
        plotting.generation_axis(ax)
        ax.xaxis.set_major_locator(ticker.MaxNLocator(bins, integer=True))


def _censored_band(ax, x, low, high, horizon, color, label):
    """A 10–90% band whose upper edge is drawn at the horizon where it is censored."""
    keep = np.isfinite(low)
    ax.fill_between(x[keep], low[keep], np.where(np.isfinite(high), high, horizon)[keep],
                    color=color, alpha=0.2, linewidth=0, label=label)


def absorbed_fraction(results: Sequence[AbsorptionResult]):
    """Share of chains absorbed by generation n (left) and the share not yet absorbed on a log
    scale (right), simulation (solid) against the exact transition-matrix value (dashed)."""
    fig, axes = plotting.subplots(1, 2, width=plotting.MAX_WIDTH, height=3.4)
    for index, result in enumerate(results):
        generations = np.arange(len(result.exact_absorbed))
        simulated = result.absorbed.mean(axis=1)
        label = f"{result.name}, counts {tuple(int(c) for c in result.counts)}"
        for ax, values, exact in ((axes[0, 0], simulated, result.exact_absorbed),
                                  (axes[0, 1], 1 - simulated, 1 - result.exact_absorbed)):
            ax.plot(generations, values, color=plotting.color(index), label=label)
            plotting.theory(ax, generations, exact,
                            label="exact (transition matrix)" if index == 0 else None)
    n_chains = results[0].absorbed.shape[1]
    axes[0, 0].set(ylabel="share of chains absorbed", title="absorbed in a delta function")
    axes[0, 1].set(ylabel="share not yet absorbed", yscale="log",
                   ylim=(0.5 / n_chains, 1.5), title="the tail (log scale)")
    _generations(*axes[0])
    plotting.legend_below(fig, ncols=2)
    return fig


def fixation_probabilities(results: Sequence[AbsorptionResult]):
    """Empirical probability of ending on each state against q with 95% Wilson intervals
    (left) and the deviation in binomial standard errors (right)."""
    fig, axes = plotting.subplots(1, 2, width=plotting.MAX_WIDTH, height=3.4)
    position = 0
    for index, result in enumerate(results):
        summary = absorption_summary(result)
        q, frequency = summary["q"], summary["frequency"]
        error = np.vstack([frequency - summary["ci_low"], summary["ci_high"] - frequency])
        axes[0, 0].errorbar(q, frequency, yerr=error, fmt="o", ms=4, capsize=3,
                            color=plotting.color(index), label=result.name)
        states = np.arange(position, position + len(q))
        axes[0, 1].bar(states, summary["z"], color=plotting.color(index), label=result.name)
        position += len(q) + 1
    plotting.theory(axes[0, 0], [0, 0.65], [0, 0.65], label="$P(\\mathrm{end\\ on}\\ k) = q_k$")
    axes[0, 0].set(xlabel="original probability $q_k$", ylabel="share of chains absorbed on k",
                   title="where the chains end (95% intervals)")
    for level in (-2, 2):
        axes[0, 1].axhline(level, **plotting.PAPER_STYLE)
    axes[0, 1].axhline(0, color="#222222", linewidth=0.8)
    axes[0, 1].set(xlabel="state (grouped by distribution)",
                   ylabel="(share $- q_k$) / standard error", title="deviation from q (±2 SE dotted)",
                   xticks=[])
    axes[0, 0].legend(loc="upper left")
    return fig


def absorption_times(times: Sequence[AbsorptionTimes], ratio_sample_sizes: Sequence[int]):
    """Two-state mean absorption time / M against p (left), mean time to loss given loss
    against the starting count (middle), and the diffusion formula's relative error against
    the exact value as M grows (right)."""
    fig, axes = plotting.subplots(1, 3, width=plotting.MAX_WIDTH, height=3.3)
    left, middle, right = axes[0]
    for index, result in enumerate(times):
        colour = plotting.color(index)
        grid = np.arange(1, result.sample_size) / result.sample_size
        M = result.sample_size
        left.errorbar(result.p, result.mean / M, yerr=2 * result.standard_error / M, fmt="o",
                      ms=3, color=colour, label=f"simulation ± 2 SE, M = {M}")
        left.plot(grid, wright_fisher.mean_absorption_time(M)[1:M] / M, color=colour,
                  linestyle="--", linewidth=1.1)
        keep = result.starts <= max(10, M // 5)
        middle.errorbar(result.starts[keep], result.loss_mean[keep],
                        yerr=2 * result.loss_standard_error[keep], fmt="o", ms=3,
                        color=colour)
        counts = np.arange(1, result.starts[keep].max() + 1)
        middle.plot(counts, wright_fisher.mean_loss_time(M)[counts], color=colour,
                    linestyle="--", linewidth=1.1)
        middle.plot(counts, wright_fisher.diffusion_loss_time(counts / M, M), color=colour,
                    linestyle=":", linewidth=1.3)
    grid = np.linspace(0.005, 0.995, 199)
    left.plot(grid, wright_fisher.diffusion_absorption_time(grid, 1), **APPROXIMATION_STYLE)
    left.plot([], [], color="#222222", linestyle="--", label="exact (transition matrix)")
    left.plot([], [], label="diffusion approximation", **APPROXIMATION_STYLE)
    left.set(xlabel="starting share $p = c/M$", ylabel="mean absorption time / $M$",
             title="$\\mathbb{E}[T]$")
    middle.set(xlabel="starting count $c$", ylabel="mean time to loss (given loss)",
               title="time to lose a state")
    middle.xaxis.set_major_locator(ticker.MaxNLocator(5, integer=True))
    sizes = np.asarray(ratio_sample_sizes)
    half, worst = [], []
    for M in sizes:
        exact = wright_fisher.mean_absorption_time(int(M))[1:M]
        diffusion = wright_fisher.diffusion_absorption_time(np.arange(1, M) / M, M)
        relative = diffusion / exact - 1
        half.append(relative[M // 2 - 1] if M % 2 == 0 else np.nan)
        worst.append(relative.max())
    even = sizes % 2 == 0
    right.plot(sizes[even], 100 * np.asarray(half)[even], "o-", ms=3, color="#222222",
               label="diffusion error at $p = 1/2$")
    right.plot(sizes, 100 * np.asarray(worst), "s-", ms=3, color="#999999",
               label="largest over $p$")
    right.axhspan(6, 12, color="#777777", alpha=0.15, label="“6–12% for $M \\leq 20$”")
    right.set(xscale="log", xlabel="sample size $M$", ylabel="diffusion over exact (%)",
              title="diffusion formula's error")
    _plain_ticks(right, "x")
    plotting.legend_below(fig, ncols=3)
    return fig


def zipf_loss_times(result: ZipfResult):
    """Generation at which each Zipf state is first lost against its original count c = q·M:
    simulation quantiles pooled over chains (median, 10–90% band), exact quantiles from the
    transition matrix (dashed), the M -> infinity median 2c/ln 2 (dotted)."""
    fig, axes = plotting.subplots(1, 1, width=6.2, height=3.8)
    ax = axes[0, 0]
    horizon = result.history.n_generations
    distinct, quantiles, _ = zipf_loss_order(result)
    ax.plot(distinct, quantiles[1], "o", ms=3.5, color=plotting.color(0),
            label="simulation: median")
    _censored_band(ax, distinct, quantiles[0], quantiles[2], horizon, plotting.color(0),
                   "simulation: 10–90% (cut at the horizon)")
    ax.axhline(horizon, **plotting.PAPER_STYLE, label=f"horizon (generation {horizon})")
    loss_by = wright_fisher.loss_probability_by(result.sample_size, distinct, horizon)
    for level, label in ((0.5, "exact median"), (0.1, "exact 10% / 90%"), (0.9, None)):
        plotting.theory(ax, distinct, wright_fisher.quantile_generation(loss_by, level),
                        label=label, linewidth=1.0 if level != 0.5 else 1.4)
    ax.plot(distinct, 2 * distinct / np.log(2), label="2c / ln 2 (M → ∞)",
            **APPROXIMATION_STYLE)
    ax.set(xscale="log", yscale="log", xlabel="original count c = q·M",
           ylabel="generation of first loss",
           title=f"Zipf, K = {len(result.counts)}, M = {result.sample_size}")
    _plain_ticks(ax)
    plotting.legend_below(fig, ncols=2)
    return fig


def zipf_diversity(result: ZipfResult):
    """Support size, entropy and Gini–Simpson index against generation (median, 10–90% over
    chains) with the exact means where they exist (dashed)."""
    fig, axes = plotting.subplots(1, 3, width=plotting.MAX_WIDTH, height=3.0)
    history = result.history
    generations = history.generations
    panels = ((history["support"], result.exact_support, "states alive (support size)"),
              (history["entropy"], None, "entropy (bits)"),
              (history["gini_simpson"], result.exact_gini_simpson, "Gini–Simpson $1 - \\sum p^2$"))
    for ax, (values, exact, label) in zip(axes[0], panels):
        plotting.band(ax, generations, values, label="simulation (median, 10–90%)")
        if exact is not None:
            plotting.theory(ax, generations, exact, label="exact mean")
        ax.set(ylabel=label)
        _generations(ax, bins=4)
    plotting.legend_below(fig, ncols=2)
    return fig


def wikitext_survival(history: History, counts: np.ndarray):
    """Share of word types alive against generation, per original-count bucket (median and
    10–90% over chains), with the Galton–Watson (M -> infinity) expectation dashed."""
    fig, axes = plotting.subplots(1, 1, width=6.8, height=3.9)
    ax = axes[0, 0]
    alive_share = history["alive_share"]
    generations = np.arange(alive_share.shape[0])
    bucket = bucket_of(counts)
    distinct, inverse = np.unique(counts, return_inverse=True)
    survive = 1.0 - wright_fisher.galton_watson_loss_probability_by(distinct,
                                                                   generations[-1])
    for index, (label, _, _) in enumerate(COUNT_BUCKETS):
        plotting.band(ax, generations, alive_share[:, :, index], seed_axis=1,
                      label=f"count {label} ({(bucket == index).sum():,} types)",
                      color=plotting.color(index))
        expected = survive[:, inverse[bucket == index]].mean(axis=1)
        plotting.theory(ax, generations, expected,
                        label="Galton–Watson expectation" if index == 0 else None)
    ax.set(xscale="symlog", xlabel="generation $n$ (log scale after 1)",
           ylabel="share of word types alive", title="WikiText-2 unigrams, replace",
           ylim=(0, 1.02), xlim=(0, generations[-1] * 1.05))
    ax.xaxis.set_major_locator(ticker.FixedLocator(
        [tick for tick in (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
         if tick <= generations[-1]]))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    plotting.legend_below(fig, ncols=3)
    return fig


def forgetting_time(times: ForgettingTimes):
    """Median generation at which a word type is forgotten against its original count
    (pooled over types and chains, 10–90% band), with the Galton–Watson median (dashed), its
    linear large-count form 2c/ln 2 (dotted) and Suresh et al.'s lower bound c/ln 2.
    Hollow points: counts whose median the finite run biases (excluded from the slope)."""
    fig, axes = plotting.subplots(1, 1, width=6.2, height=3.8)
    ax = axes[0, 0]
    horizon = times.horizon
    median = times.quantiles[1]
    shown = np.isfinite(median)
    reliable = times.reliable
    ax.plot(times.counts[reliable], median[reliable], "o", ms=3.5, color=plotting.color(0),
            label="simulation: median")
    ax.plot(times.counts[shown & ~reliable], median[shown & ~reliable], "o", ms=3.5,
            mfc="none", color=plotting.color(0), alpha=0.6,
            label="median biased by the run's end (not fitted)")
    _censored_band(ax, times.counts[reliable], times.quantiles[0, reliable],
                   times.quantiles[2, reliable], horizon, plotting.color(0),
                   "simulation: 10–90% (cut at the horizon)")
    grid = times.counts[shown]
    loss_by = wright_fisher.galton_watson_loss_probability_by(grid, horizon)
    plotting.theory(ax, grid, wright_fisher.quantile_generation(loss_by, 0.5),
                    label="Galton–Watson median")
    ax.plot(grid, 2 * grid / np.log(2), label="2c / ln 2", **APPROXIMATION_STYLE)
    ax.plot(grid, grid / np.log(2), label="c / ln 2 (Suresh et al. lower bound)",
            **BOUND_STYLE)
    ax.set(xscale="log", yscale="log", xlabel="original count c of the word type",
           ylabel="generation of loss",
           title=f"time to forget a word (slope {times.slope:.2f}; run of {horizon} generations)")
    _plain_ticks(ax)
    plotting.legend_below(fig, ncols=2)
    return fig


def policy_survival(runs: Mapping[str, History]):
    """Share of word types alive per original-count bucket (and overall) under each data
    policy: median and 10–90% over chains."""
    fig, axes = plotting.subplots(2, 3, width=plotting.MAX_WIDTH, height=5.0, sharex=True,
                                  sharey=True)
    titles = [f"original count {label}" for label, _, _ in COUNT_BUCKETS] + ["all types"]
    for panel, (ax, title) in enumerate(zip(axes.ravel(), titles)):
        for index, (label, history) in enumerate(runs.items()):
            generations = np.arange(history.n_generations + 1)
            plotting.band(ax, generations, history["alive_share"][:, :, panel], seed_axis=1,
                          label=label, color=plotting.color(index))
        ax.set(title=title, ylim=(0, 1.03))
    _generations(*axes[1], bins=4)
    for ax in axes[:, 0]:
        ax.set_ylabel("share of types alive")
    plotting.legend_below(fig, ncols=4)
    return fig


def policy_distance(runs: Mapping[str, History]):
    """Entropy (left) and total-variation distance to the real unigram distribution (right)
    under each data policy: median and 10–90% over chains."""
    fig, axes = plotting.subplots(1, 2, width=plotting.MAX_WIDTH, height=3.4)
    for index, (label, history) in enumerate(runs.items()):
        generations = np.arange(history.n_generations + 1)
        plotting.band(axes[0, 0], generations, history["entropy"], seed_axis=1, label=label,
                      color=plotting.color(index))
        plotting.band(axes[0, 1], generations, history["total_variation"], seed_axis=1,
                      label=label, color=plotting.color(index))
    axes[0, 0].set(ylabel="entropy (bits)", title="entropy")
    axes[0, 1].set(ylabel="total variation to real", title="distance to the real distribution")
    _generations(*axes[0])
    plotting.legend_below(fig, ncols=4)
    return fig
