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
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from ..publish import plotting
from .comparison import FIXED_REPLACE_LABEL, GROWING_LABEL, FamilyComparison
from .experiments import EscapingRuns
from .theory import exact_mean_error_ratio, gaussian_mix_real_moments

__all__ = ["HEADLINE_POLICIES", "BANDED_POLICIES", "COLOUR_ORDER", "policy_colour_index",
           "headline_labels", "growing_labels", "plot_family", "plot_families",
           "plot_fraction_curves", "plot_gaussian_theory", "families_figure", "growing_figure",
           "fractions_figure", "gaussian_theory_figure"]

HEADLINE_POLICIES = ("replace", "accumulate", "accumulate_subsample")
HEADLINE_MIX = "mix_real(0.1)"  # the paper's setting (b), beside the headline policies
BANDED_POLICIES = ("replace", "accumulate")  # the others: medians only, for legibility
COLOUR_ORDER = ("replace", "accumulate", "accumulate_subsample", HEADLINE_MIX, GROWING_LABEL,
                "mix_real(0.01)", "mix_real(0.5)")
THEORY_FRACTIONS = (0.01, 0.1, 0.5, 0.9)  # mix_real(f) drawn against the exact recursion


def policy_colour_index(label: str) -> int:
    """The same colour for a policy in every panel (others after the headline ones)."""
    if label == FIXED_REPLACE_LABEL:
        label = "replace"  # a variant of replace: its colour, dotted
    return COLOUR_ORDER.index(label) if label in COLOUR_ORDER else len(COLOUR_ORDER)


def headline_labels(comparison: FamilyComparison) -> list[str]:
    """The policies of the headline figure: replace, accumulate, accumulate_subsample and
    mix_real(0.1), those the family ran."""
    return [label for label in (*HEADLINE_POLICIES, HEADLINE_MIX) if label in comparison.runs]


def growing_labels(comparison: FamilyComparison) -> list[str]:
    """The policies of the growing-sample figure: replace (and, for the VAE, replace on a
    fixed set of M₀ images) and growing M₀(n+1)."""
    return [label for label in ("replace", FIXED_REPLACE_LABEL, GROWING_LABEL)
            if label in comparison.runs]


_PLAIN = FuncFormatter(lambda value, _: f"{value:.3g}")  # 0.01, 0.9, 10 (no 10⁻², 9×10⁻¹)


def _ratio_axis(ax, kind: str, lowest: float, highest: float) -> None:
    """Error metrics on a log axis labelled in plain numbers (0.9, 1, 2, 10, ...; the minor
    ticks labelled too when the range is under a decade); level metrics on a linear axis
    from 0."""
    if kind != "error":
        ax.set_ylim(0, max(1.25, 1.05 * highest))
        return
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_PLAIN)
    narrow = max(highest, 1.1) / min(lowest, 0.9) < 10
    ax.yaxis.set_minor_formatter(_PLAIN if narrow else NullFormatter())


def plot_family(ax, comparison: FamilyComparison, labels: Sequence[str]) -> None:
    """Normalised measure against generation under the policies ``labels``: median over
    seeds, with the 10–90% band for replace and accumulate; grey: within ±10%."""
    for label in labels:
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
    seeds = sorted({comparison.runs[label].n_seeds for label in labels})
    plotting.generation_axis(ax)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    ax.set_ylabel("÷ generation 0")
    ax.set_title(f"{FAMILY_TITLES.get(comparison.family, comparison.family)}: {metric.name}\n"
                 f"({_seeds_text(seeds)})", fontsize=9)
    medians = [np.median(comparison.normalised(label), axis=1) for label in labels]
    _ratio_axis(ax, metric.kind, min(m.min() for m in medians),
                max(m.max() for m in medians))


FAMILY_TITLES = {"gaussian": "Gaussian", "discrete": "discrete", "gmm": "GMM", "vae": "VAE",
                 "language_model": "language model"}


def _seeds_text(seeds: Sequence[int]) -> str:
    if len(seeds) > 1:
        return f"{seeds[0]}–{seeds[-1]} seeds by policy"
    return f"{seeds[0]} seed{'' if seeds[0] == 1 else 's'}"


def plot_families(axes, comparisons: Mapping[str, FamilyComparison], choose) -> None:
    """One panel per family (:func:`plot_family` with the policies ``choose(comparison)``)
    and one legend below them all."""
    for ax, comparison in zip(axes.ravel(), comparisons.values()):
        plot_family(ax, comparison, choose(comparison))
    for ax in axes.ravel()[len(comparisons):]:
        ax.set_visible(False)
    fig = axes.ravel()[0].figure
    legend = plotting.legend_below(fig, axes.ravel()[:len(comparisons)], ncols=4, fontsize=8.5)
    entries = sorted(zip(legend.legend_handles, [t.get_text() for t in legend.get_texts()]),
                     key=lambda item: (policy_colour_index(item[1]),
                                       item[1] == FIXED_REPLACE_LABEL))
    legend.remove()
    fig.legend([h for h, _ in entries], [t for _, t in entries], loc="outside lower center",
               ncols=4, fontsize=8.5)


def plot_fraction_curves(ax, comparisons: Mapping[str, FamilyComparison],
                         tolerance: float, theory_error: tuple | None = None) -> None:
    """Ratio to generation 0 after N generations against the fraction of real data, every
    family; shaded: within ``tolerance``; dashed: the Gaussian mean error's exact ratio."""
    for index, (family, comparison) in enumerate(comparisons.items()):
        fractions, ratios = comparison.fraction_curve()
        ax.plot(fractions, ratios, marker="o", markersize=4, color=plotting.color(index),
                label=f"{FAMILY_TITLES.get(family, family)}: {comparison.metric.name}")
    if theory_error is not None:
        plotting.theory(ax, *theory_error, label=r"Gaussian, exact $E|\mu_N - \mu|^2$ ratio")
    ax.axhspan(1 - tolerance, 1 + tolerance, color="#999999", alpha=0.2, linewidth=0,
               label=f"within ±{tolerance:.0%} of generation 0")
    ax.set(yscale="log", xlabel="fraction $f$ of real data (mix_real)",
           ylabel="metric after $N$ generations / generation 0")
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlim(-0.001, 1.05)
    ax.xaxis.set_major_formatter(_PLAIN)
    _ratio_axis(ax, "error", *ax.get_ylim())
    plotting.legend_below(ax.figure, ncols=2, fontsize=8)


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
    ax.set(ylabel=r"MC mean of $M\,|\mu_n - \mu|^2$ ($\sigma = 1$)", yscale="log",
           title=f"Gaussian, $M$ = {size}: mean error under mix_real")
    plotting.generation_axis(ax)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    ax.yaxis.set_major_formatter(_PLAIN)
    ax.legend(loc="upper left", fontsize=8, ncols=2)


def _family_grid(runs: EscapingRuns, choose, height: float = 2.7):
    rows = -(-len(runs.comparisons) // 2)  # two families per row
    fig, axes = plotting.subplots(rows, 2, width=plotting.MAX_WIDTH, height=height * rows + 0.6)
    plot_families(axes, runs.comparisons, choose)
    return fig


def families_figure(runs: EscapingRuns):
    """Every family's normalised measure against generation under replace, accumulate,
    accumulate_subsample and mix_real(0.1) (:func:`headline_labels`)."""
    return _family_grid(runs, headline_labels)


def growing_figure(runs: EscapingRuns):
    """Every family's normalised measure under replace and a training set growing as
    M₀(n+1) (:func:`growing_labels`)."""
    return _family_grid(runs, growing_labels, height=2.5)


def fractions_figure(runs: EscapingRuns, grid_points: int = 101):
    """The measure after N generations against the real fraction, every family, with the
    Gaussian mean error's exact ratio on ``grid_points`` fractions."""
    settings = runs.settings
    grid = np.linspace(0, 1, grid_points)
    exact = exact_mean_error_ratio(settings["gaussian_sample_size"],
                                   settings["n_generations"], grid)
    fig, axes = plotting.subplots(1, 1, width=plotting.MAX_WIDTH, height=4.6)
    plot_fraction_curves(axes[0, 0], runs.comparisons, runs.tolerance, (grid, exact))
    return fig


def gaussian_theory_figure(runs: EscapingRuns):
    """The Gaussian's squared mean error under mix_real against the exact recursion."""
    fig, axes = plotting.subplots(1, 1, width=7, height=3.8)
    plot_gaussian_theory(axes[0, 0], runs)
    return fig
