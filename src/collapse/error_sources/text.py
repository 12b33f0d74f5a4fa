"""The error-sources chapter's text cells: sentences and tables built from the runs
(:class:`~collapse.error_sources.experiments.ErrorSourceRuns`), as Markdown strings."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..gaussian import theory as gaussian_theory
from .experiments import ErrorSourceRuns, kde_sample_size, kde_theory_variance
from .family import SEPARATION
from .theory import exact_kde_variance

__all__ = ["statistical_summary", "kappa_sentence", "exact_kde_sentence", "em_summary",
           "kde_summary", "combination_generations", "combination_table", "combination_markdown"]


def statistical_summary(runs: ErrorSourceRuns) -> str:
    """The median σ_N of the small and the large M at the last generation."""
    small = runs.statistical[runs.small_sample_size].std[-1]
    large = runs.statistical[runs.large_sample_size].std[-1]
    run = runs.statistical[runs.small_sample_size]
    return (f"At generation {run.n_generations:,}, the median σₙ is {np.median(small):.3f} for "
            f"M = {runs.small_sample_size} ({(small < 0.1).mean():.0%} of {run.n_seeds:,} seeds "
            f"below 0.1) and {np.median(large):.4f} for M = {runs.large_sample_size:,} (10–90%: "
            f"{np.quantile(large, 0.1):.4f}–{np.quantile(large, 0.9):.4f}).")


def kappa_sentence(runs: ErrorSourceRuns, separation: float = SEPARATION) -> str:
    """κ of the bimodal D_0, the expressivity error 2 − 2κ, and how far any generation of the
    exact runs moves from it (an identity: asserted by the tests, not a claim row)."""
    kappa = gaussian_theory.bimodal_start(separation).quantile_correlation
    change = max(float(np.abs(run["w2_squared"] - runs.expressivity_floor).max())
                 for run in runs.expressivity.values())
    return (f"κ = {kappa:.5f}, so the expressivity error is W2² = 2 − 2κ = "
            f"{runs.expressivity_floor:.5f}. Over {len(runs.expressivity)} policies and every "
            f"generation of this run, W2² differs from it by at most {change:.1e}: the paper's "
            "\"only at the first generation\" holds as an identity of exact arithmetic, so the "
            "tests assert it rather than the claim table counting it.")


def exact_kde_sentence(runs: ErrorSourceRuns) -> str:
    """The largest gap between the infinite-data KDE runs of the loop and the exact
    recursions, over every policy and generation (an identity, asserted by the tests)."""
    worst = max(float(np.abs(run["variance"] - exact_kde_variance(
        runs.exact_kde_bandwidth, run.n_generations, label)).max())
                for label, run in runs.exact_kde.items())
    horizon = max(run.n_generations for run in runs.exact_kde.values())
    return (f"Largest gap between the loop and the exact recursions over the "
            f"{len(runs.exact_kde)} policies and {horizon:,} generations: {worst:.1e} — exact "
            "arithmetic, so an identity the tests assert, not a claim.")


def em_summary(runs: ErrorSourceRuns, separation: float = SEPARATION) -> str:
    """How early-stopped EM sharpens the components and empties the tails."""
    fewest, most = runs.em[min(runs.em)], runs.em[max(runs.em)]
    largest_error = max(np.abs(run["variance"] - 1).max() for run in runs.em.values())
    return (
        f"With infinite data and the true family, EM stopped after {min(runs.em)} iterations "
        f"(the initial split and its M-step only) shrinks the component standard deviation from "
        f"{math.sqrt(1 - separation ** 2):.3f} (D₀) to {fewest['component_sd'][0]:.3f} at "
        f"generation 0 and {fewest['component_sd'][-1]:.3f} at generation "
        f"{fewest.n_generations:,}; the mass outside D₀'s central 99% falls from 1% to "
        f"{fewest['tail_mass'][-1]:.3%}. With {max(runs.em)} iterations it is still "
        f"{most['tail_mass'][-1]:.3%}. The largest deviation of the variance from 1 over all "
        f"runs and generations is {largest_error:.1e}: the tails vanish while the variance is "
        "conserved, an early collapse made by the learning procedure alone.")


def kde_summary(runs: ErrorSourceRuns) -> str:
    """One line per bandwidth: exact E V_N, the fixed point, MC mean ± SE and median."""
    lines = []
    for h, run in runs.kde.items():
        last = run["variance"][-1]
        lines.append(
            f"- h = {h:g}: exact E V at generation {run.n_generations:,} = "
            f"{kde_theory_variance(run, h)[-1]:.3f} (M h² = {kde_sample_size(run) * h ** 2:g}); "
            f"Monte-Carlo mean {last.mean():.3f} ± "
            f"{last.std(ddof=1) / np.sqrt(last.shape[0]):.3f}; median {np.median(last):.3f}.")
    return "\n".join(lines)


# =============================================================================== the table
def combination_generations(runs: ErrorSourceRuns) -> list[int]:
    """The generations of the "errors combined" table: 1, M and the last, where every run
    has them."""
    last = runs.statistical[runs.small_sample_size].n_generations
    horizon = min(last, runs.cancelling.n_generations)
    return sorted({g for g in (1, runs.small_sample_size, last) if g <= horizon})


def combination_table(runs: ErrorSourceRuns, generations: Sequence[int]) -> list[dict]:
    """Rows of the "errors combined" table: each configuration, which sources are on, and its
    median (MC mean for exact runs) variance and distance to D_0 at ``generations``."""
    rows = []

    def row(name, sources, variance, distance, variance_mean=None):
        rows.append({"configuration": name, "sources": sources, "variance": variance,
                     "distance": distance, "variance_mean": variance_mean})

    small, floor = runs.small_sample_size, runs.expressivity_floor
    run = runs.statistical[small]
    row(f"Gaussian fit, Gaussian D₀, M = {small}", "statistical",
        [float(np.median(run.std[run.row(g)] ** 2)) for g in generations],
        [float(np.median(run.w2_squared()[run.row(g)])) for g in generations],
        [float(np.mean(run.std[run.row(g)] ** 2)) for g in generations])
    row("Gaussian fit, bimodal D₀, M → ∞", "expressivity", [1.0 for _ in generations],
        [floor for _ in generations])
    bimodal = runs.bimodal
    w2 = gaussian_theory.bimodal_start(SEPARATION).w2_squared_to_gaussian(bimodal.mean,
                                                                         bimodal.std)
    row(f"Gaussian fit, bimodal D₀, M = {int(bimodal.sizes[0])}", "statistical + expressivity",
        [float(np.median(bimodal.std[bimodal.row(g)] ** 2)) for g in generations],
        [float(np.median(w2[bimodal.row(g)])) for g in generations],
        [float(np.mean(bimodal.std[bimodal.row(g)] ** 2)) for g in generations])
    bandwidth, kde = runs.cancelling_bandwidth, runs.cancelling
    exact = exact_kde_variance(bandwidth, max(generations))
    row(f"KDE h = {bandwidth:g}, Gaussian D₀, M → ∞", "approximation",
        [float(exact[g]) for g in generations], [None for _ in generations])
    row(f"KDE h = {bandwidth:g}, Gaussian D₀, M = {kde_sample_size(kde)}",
        "statistical + approximation",
        [float(np.median(kde["variance"][g])) for g in generations],
        [None for _ in generations], [float(np.mean(kde["variance"][g])) for g in generations])
    return rows


def combination_markdown(runs: ErrorSourceRuns) -> str:
    """The "errors combined" table as Markdown, at :func:`combination_generations`."""
    generations = combination_generations(runs)
    head = (["configuration", "error sources on"]
            + [f"V at n = {g:,}: median [mean]" for g in generations]
            + [f"median W2² to D₀ at n = {g:,}" for g in generations])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in combination_table(runs, generations):
        cells = [row["configuration"], row["sources"]]
        means = row["variance_mean"] or [None] * len(row["variance"])
        cells += [f"{v:.3g}" + ("" if m is None else f" [{m:.3g}]")
                  for v, m in zip(row["variance"], means)]
        cells += ["—" if d is None else f"{d:.3g}" for d in row["distance"]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
