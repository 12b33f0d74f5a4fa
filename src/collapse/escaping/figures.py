"""The escaping chapter's figures, each drawn from the runs (:class:`EscapingRuns`):
:func:`families_figure` (every family under the headline policies), :func:`fractions_figure`
(the measure after N generations against the real fraction) and
:func:`gaussian_theory_figure` (the Gaussian's mean error against its exact recursion); their
building blocks :func:`plot_family`, :func:`plot_families`, :func:`plot_fraction_curves`,
:func:`plot_gaussian_theory`.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..publish import plotting
from .comparison import FIXED_REPLACE_LABEL, GROWING_LABEL, FamilyComparison
from .experiments import EscapingRuns
from .theory import exact_mean_error_ratio, gaussian_mix_real_moments

__all__ = ["HEADLINE_POLICIES", "BANDED_POLICIES", "COLOUR_ORDER", "policy_colour_index",
           "headline_labels", "plot_family", "plot_families", "plot_fraction_curves",
           "plot_gaussian_theory", "families_figure", "fractions_figure",
           "gaussian_theory_figure"]

HEADLINE_POLICIES = ("replace", "accumulate", "accumulate_subsample", "growing")
BANDED_POLICIES = ("replace", "accumulate")  # the others: medians only, for legibility
COLOUR_ORDER = ("replace", "accumulate", "accumulate_subsample", GROWING_LABEL,
                "mix_real(0.01)", "mix_real(0.1)", "mix_real(0.5)")
THEORY_FRACTIONS = (0.01, 0.1, 0.5, 0.9)  # mix_real(f) drawn against the exact recursion


def policy_colour_index(label: str) -> int:
    """The same colour for a policy in every panel (others after the headline ones)."""
    if label == FIXED_REPLACE_LABEL:
        label = "replace"  # a variant of replace: its colour, dotted
    return COLOUR_ORDER.index(label) if label in COLOUR_ORDER else len(COLOUR_ORDER)


def headline_labels(comparison: FamilyComparison, fractions: Sequence[float]) -> list[str]:
    """The policies drawn in the per-family panels: the non-mixing policies and mix_real at
    the headline fractions (0 = replace)."""
    labels = [label for label, run in comparison.runs.items() if run.kind in HEADLINE_POLICIES]
    labels += [f"mix_real({f:g})" for f in fractions
               if f > 0 and f"mix_real({f:g})" in comparison.runs]
    return labels


def plot_family(ax, comparison: FamilyComparison, fractions: Sequence[float]) -> None:
    """Normalised measure against generation (median and 10–90% band over seeds) under the
    headline policies."""
    for label in headline_labels(comparison, fractions):
        fixed = comparison.runs[label].fixed_sample  # dotted, in replace's colour
        colour = plotting.color(policy_colour_index(label))
        values = comparison.normalised(label)
        generations = np.arange(values.shape[0])
        if values.shape[1] > 1 and label in BANDED_POLICIES:
            plotting.band(ax, generations, values, label=label, color=colour, alpha=0.15)
        else:
            ax.plot(generations, np.median(values, axis=1), label=label, color=colour,
                    linestyle=":" if fixed else "-")
    ax.axhspan(0.9, 1.1, color="#999999", alpha=0.15, linewidth=0)
    metric = comparison.metric
    seeds = sorted({run.n_seeds for run in comparison.runs.values()})
    ax.set(xlabel="generation n", ylabel=f"{metric.name} / generation 0",
           title=f"{comparison.family} (seeds: {seeds[0]}"
           + (f"–{seeds[-1]} by policy)" if len(seeds) > 1 else ")"))
    if metric.kind == "error":
        ax.set_yscale("log")
    else:
        highest = max(np.median(comparison.normalised(label), axis=1).max()
                      for label in headline_labels(comparison, fractions))
        ax.set_ylim(0, max(1.25, 1.05 * highest))


def plot_families(axes, comparisons: Mapping[str, FamilyComparison],
                  fractions: Sequence[float]) -> None:
    """One panel per family (:func:`plot_family`) and one legend for all of them."""
    for ax, comparison in zip(axes.ravel(), comparisons.values()):
        plot_family(ax, comparison, fractions)
    handles = {}
    for ax in axes.ravel():
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    handles = dict(sorted(handles.items(), key=lambda item: (policy_colour_index(item[0]),
                                                             item[0] == FIXED_REPLACE_LABEL)))
    axes.ravel()[0].figure.legend(list(handles.values()), list(handles),
                                  loc="outside lower center", ncol=4, fontsize=8)
    for ax in axes.ravel()[len(comparisons):]:
        ax.set_visible(False)


def plot_fraction_curves(ax, comparisons: Mapping[str, FamilyComparison],
                         tolerance: float, theory_error: tuple | None = None) -> None:
    """Ratio to generation 0 after N generations against the fraction of real data, every
    family; shaded: within ``tolerance``; dashed: the Gaussian mean error's exact ratio."""
    for index, (family, comparison) in enumerate(comparisons.items()):
        fractions, ratios = comparison.fraction_curve()
        ax.plot(fractions, ratios, marker="o", markersize=4, color=plotting.color(index),
                label=f"{family}: {comparison.metric.name}")
    if theory_error is not None:
        plotting.theory(ax, *theory_error, label="Gaussian, exact E|μ_N − μ|² ratio")
    ax.axhspan(1 - tolerance, 1 + tolerance, color="#999999", alpha=0.2, linewidth=0,
               label=f"within ±{tolerance:.0%} of generation 0")
    ax.set(xscale="symlog", yscale="log", xlabel="fraction f of real data (mix_real)",
           ylabel="metric after N generations / generation 0")
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlim(-0.001, 1.05)
    ax.legend(loc="upper right", fontsize=7.5)


def plot_gaussian_theory(ax, runs: EscapingRuns) -> None:
    """MC mean of |μ_n − μ|² (thin) over its exact value (dashed) under mix_real(f)."""
    comparison, size = runs.comparisons["gaussian"], runs.settings["gaussian_sample_size"]
    shown = ["replace"] + [label for label, run in comparison.runs.items()
                           if run.kind == "mix_real" and run.fraction in THEORY_FRACTIONS]
    for index, label in enumerate(shown):
        error, _ = runs.gaussian_moments[label]
        generations = np.arange(error.shape[0])
        ax.plot(generations, error.mean(axis=1) * size, color=plotting.color(index),
                label=label)
        exact, _ = gaussian_mix_real_moments(size, comparison.runs[label].fraction or 0.0,
                                             generations[-1])
        plotting.theory(ax, generations, exact * size,
                        label="exact recursion" if index == 0 else None)
    ax.set(xlabel="generation n", ylabel="MC mean of M·|μₙ − μ|² (σ = 1)", yscale="log",
           title=f"Gaussian, M = {size}: mean error under mix_real")
    ax.legend(loc="upper left", fontsize=7.5)


def families_figure(runs: EscapingRuns):
    """Every family's normalised measure against generation under the headline policies."""
    rows = -(-len(runs.comparisons) // 2)  # two families per row
    fig, axes = plotting.subplots(rows, 2, width=10.5, height=3.8 * rows)
    plot_families(axes, runs.comparisons, runs.settings["headline_fractions"])
    return fig


def fractions_figure(runs: EscapingRuns, grid_points: int = 101):
    """The measure after N generations against the real fraction, every family, with the
    Gaussian mean error's exact ratio on ``grid_points`` fractions."""
    settings = runs.settings
    grid = np.linspace(0, 1, grid_points)
    exact = exact_mean_error_ratio(settings["gaussian_sample_size"],
                                   settings["n_generations"], grid)
    fig, axes = plotting.subplots(1, 1, width=8, height=4.4)
    plot_fraction_curves(axes[0, 0], runs.comparisons, runs.tolerance, (grid, exact))
    return fig


def gaussian_theory_figure(runs: EscapingRuns):
    """The Gaussian's squared mean error under mix_real against the exact recursion."""
    fig, axes = plotting.subplots(1, 1, width=7, height=3.8)
    plot_gaussian_theory(axes[0, 0], runs)
    return fig
