"""The GMM chapter's figures and the text it shows around them.

Figures (one per chapter figure, each draws a new matplotlib figure from the runs):
:func:`snapshots_figure`, :func:`l2_chains_figure`, :func:`l2_bands_figure`,
:func:`spread_bands_figure`, :func:`single_gaussian_figure`, :func:`drift_figure`,
:func:`tails_figure`, :func:`sample_size_figure`, :func:`policies_figure`; their building
blocks :func:`plot_snapshots`, :func:`plot_bands`, :func:`plot_tails`.

Text (Markdown or plain strings computed from the runs): :func:`validation_markdown`,
:func:`setups_markdown`, :func:`comparison_markdown`, :func:`drift_markdown`,
:func:`tail_sampling_note`,
:func:`tails_markdown`, :func:`policies_markdown`, :func:`summary_markdown`,
:func:`speed_markdown` (with :func:`batch_markdown`).
"""
from __future__ import annotations

import os
from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np

from ..publish import plotting
from . import theory
from .batched_em import Mixture
from .claims import DRIFT_GENERATION, LEVEL, drift_summary, l2_summary, tails_went_first
from .experiments import PAPER_FINAL_L2, PAPER_SPREAD_END, PAPER_SPREAD_START, GMMRuns, \
    summary_table, validation_summary
from .metrics import MixtureHistory, at_generation, mean_spread

# --------------------------------------------------------------------------- building blocks
def _ellipse(ax, mean, covariance, color, n_sd: float = 2.0, **kwargs):
    """The n_sd-standard-deviation contour of a 2-D Gaussian."""
    from matplotlib.patches import Ellipse
    values, vectors = np.linalg.eigh(covariance)
    angle = np.degrees(np.arctan2(vectors[1, -1], vectors[0, -1]))
    ax.add_patch(Ellipse(mean, 2 * n_sd * np.sqrt(values[-1]), 2 * n_sd * np.sqrt(values[0]),
                         angle=angle, fill=False, edgecolor=color, linewidth=1.2, **kwargs))


def _zoom_window(mixture: Mixture, limits: tuple) -> tuple:
    """A square window around the 2.5-sd boxes of all components of a one-seed mixture, or
    around the heaviest component alone when the components are far apart (the box would be
    more than 30% of the full panel)."""
    means, sds = mixture.means[0], np.sqrt(np.diagonal(mixture.covariances[0], axis1=-2,
                                                       axis2=-1))
    low, high = (means - 2.5 * sds).min(0), (means + 2.5 * sds).max(0)
    label = "zoomed"
    if (high - low).max() > 0.3 * (limits[0][1] - limits[0][0]):
        heaviest = int(np.argmax(mixture.weights[0]))
        low, high = means[heaviest] - 2.5 * sds[heaviest], means[heaviest] + 2.5 * sds[heaviest]
        label = "heavier component"
    centre, half = (low + high) / 2, 0.55 * (high - low).max()
    return ((centre[0] - half, centre[0] + half), (centre[1] - half, centre[1] + half)), label


def plot_snapshots(axes, history: MixtureHistory, limits: tuple, seed: int = 0,
                   zoom_last: bool = True) -> None:
    """One panel per snapshot generation: the training data of that generation (seed
    ``seed``) and the 2-sd contours of the mixture fitted to it, on fixed ``limits``; with
    ``zoom_last``, a spare panel repeats the last snapshot zoomed in."""
    generations = sorted(history.snapshots)
    panels = list(zip(axes, generations))
    if zoom_last and len(axes) > len(generations) and generations:
        panels.append((axes[len(generations)], generations[-1]))
    for index, (ax, generation) in enumerate(panels):
        zoomed = index == len(generations)
        points = history.snapshots[generation]
        ax.scatter(points[:, 0], points[:, 1], s=1.5, color=plotting.color(0), alpha=0.5,
                   linewidths=0, rasterized=True)
        mixture = history.mixture(generation)
        for k in range(history.n_components):
            _ellipse(ax, mixture.means[seed, k], mixture.covariances[seed, k],
                     plotting.color(1), linestyle="-")
        if zoomed:
            window, label = _zoom_window(mixture.select(slice(seed, seed + 1)), limits)
            ax.set_xlim(window[0])
            ax.set_ylim(window[1])
        else:
            ax.set_xlim(limits[0])
            ax.set_ylim(limits[1])
        ax.set_aspect("equal")
        spread = mean_spread(mixture.weights[seed], mixture.covariances[seed])
        title = f"generation {generation}" + (f", {label}" if zoomed else "")
        ax.set_title(f"{title}\nspread {spread:.2g}", fontsize=8.5)
        ax.tick_params(labelsize=7)
    for ax in axes[len(panels):]:
        ax.set_visible(False)


_BAND_LABELS = {"l2": r"$\int (p_0 - p_n)^2$",
                "w2": r"$W_2(p_0, p_n)$ (moment-matched Gaussians)",
                "spread": r"spread $\sum_k w_k\sqrt{\mathrm{tr}\,\Sigma_k/2}$"}


def _band_values(history: MixtureHistory, quantity: str) -> np.ndarray:
    if quantity == "l2":
        return history.l2_to_generation0()
    if quantity == "w2":
        return np.sqrt(history.w2_to_generation0())
    return history.spread()


def plot_bands(ax, histories: Mapping[str, MixtureHistory], quantity: str, log: bool = True,
               colors: Mapping[str, str] | None = None) -> None:
    """Median over seeds with 10–90% bands of ``quantity`` ("l2" = L2²(p_0, p_n), "w2" =
    W2(p_0, p_n) of the moment-matched Gaussians, "spread") against the generation, one line
    per labelled history."""
    for index, (label, history) in enumerate(histories.items()):
        values = _band_values(history, quantity)
        generations = history.generations
        if quantity in ("l2", "w2"):   # distances are 0 at generation 0: start the log axis at 1
            values, generations = values[1:], generations[1:]
        color = (colors or {}).get(label, plotting.color(index))
        plotting.band(ax, generations, values, label=f"{label} ({history.n_seeds} seeds)",
                      color=color, seed_axis=-1)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("generation n")
    ax.set_ylabel(_BAND_LABELS[quantity])


def plot_tails(axes, histories: Mapping[str, MixtureHistory], levels=(0.95, 0.99)) -> None:
    """Left: mass of the generation-n mixture outside the true α-HDR; right: true mass
    inside the generation-n mixture's own α-HDR; medians with 10–90% bands (log x, from
    generation 1), dotted: the value of a perfect fit."""
    styles = {levels[0]: "-", levels[-1]: "--"}
    for index, (label, history) in enumerate(histories.items()):
        generations = history.tail_generations
        keep = generations >= 1
        for level in levels:
            for ax, kind in zip(axes, ("outside", "covered")):
                plotting.band(ax, generations[keep], history.tails[kind][level][keep],
                              label=f"{label}, α = {level:g}", color=plotting.color(index),
                              linestyle=styles.get(level, "-"), alpha=0.12)
    for level in levels:
        plotting.paper_reference(axes[0], 1 - level, f"perfect fit: {1 - level:.2f}")
        plotting.paper_reference(axes[1], level, f"perfect fit: {level:.2f}")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("generation n")
    axes[0].set_yscale("symlog", linthresh=1e-3)
    axes[0].set_ylim(bottom=0)
    axes[0].set_ylabel("mass of $p_n$ outside the true α-HDR")
    axes[1].set_ylabel("true mass inside the α-HDR of $p_n$")


# --------------------------------------------------------------------------- figures
# panel layout (width, height in inches) and fixed axis limits of each setup's snapshots
_SNAPSHOT_LAYOUT = {"one_blob": (9, 5, ((-4, 4), (-4, 4))),
                    "two_gaussians": (10.5, 3.8, ((-8, 8), (-4, 4)))}
_AUTHORS_L2 = "authors' run: 536 at generation 2050"


def snapshots_figure(runs: GMMRuns, setup: str):
    """The authors' scatter figure for the first seed of ``setup`` under `replace`: 2 × 4
    panels of training data and 2-sd contours, the last one zoomed in."""
    width, height, limits = _SNAPSHOT_LAYOUT[setup]
    fig, axes = plotting.subplots(2, 4, width=width, height=height)
    plot_snapshots(axes.ravel(), runs.history(setup), limits=limits)
    return fig


def l2_chains_figure(runs: GMMRuns):
    """∫(p_0 − p_n)², one line per seed of both setups, the scikit-learn loop of the timing
    run, and the authors' final value."""
    fig, ax = plt.subplots()
    for index, (label, history) in enumerate({"one_blob": runs.main,
                                              "two_gaussians": runs.two_gaussians}.items()):
        lines = ax.plot(history.generations[1:], history.l2_to_generation0()[1:],
                        color=plotting.color(index), lw=0.6, alpha=0.7)
        lines[0].set_label(f"{label}: {history.n_seeds} seeds, one line each")
    authors = runs.timing.authors
    ax.plot(authors.generations[1:], authors.l2_to_generation0()[1:, 0], color="black", lw=1,
            label="one_blob, scikit-learn loop (authors' code)")
    plotting.paper_reference(ax, PAPER_FINAL_L2, _AUTHORS_L2)
    ax.set(yscale="log", xlabel="generation n", ylabel=r"$\int (p_0 - p_n)^2$")
    ax.legend()
    return fig


def l2_bands_figure(runs: GMMRuns):
    """∫(p_0 − p_n)² bands of both setups and the one-component reference."""
    fig, ax = plt.subplots()
    plot_bands(ax, runs.setups(), "l2")
    plotting.paper_reference(ax, PAPER_FINAL_L2, _AUTHORS_L2)
    ax.legend()
    return fig


def spread_bands_figure(runs: GMMRuns):
    """Spread bands of both setups and the one-component reference, with the authors'
    start and end values."""
    fig, ax = plt.subplots()
    plot_bands(ax, runs.setups(), "spread")
    plotting.paper_reference(ax, PAPER_SPREAD_START, "authors' run: 0.90 at generation 0")
    plotting.paper_reference(ax, PAPER_SPREAD_END, "authors' run: 0.01 at generation 2000")
    ax.legend(loc="lower left", bbox_to_anchor=(0, 0.06))
    return fig


def single_gaussian_figure(runs: GMMRuns):
    """The one-component loop's geometric spread against its exact theory."""
    single = runs.single
    fig, ax = plt.subplots()
    plotting.band(ax, single.generations, theory.geometric_spread_ratio(single.covariances),
                  label=f"simulation ({single.n_seeds} seeds)", seed_axis=-1)
    low, middle, high = theory.single_gaussian_theory(single.n_points, single.generations)
    plotting.theory(ax, single.generations, middle, label="theory: median")
    plotting.theory(ax, single.generations, low, label="theory: 10% and 90%", linestyle=":")
    plotting.theory(ax, single.generations, high, label=None, linestyle=":")
    ax.set(yscale="log", xlabel="generation n", ylabel=r"$(\det\Sigma_n/\det\Sigma_0)^{1/4}$")
    ax.legend()
    return fig


def drift_figure(runs: GMMRuns):
    """Left: W2(p_0, p_n) of both setups and the one-component reference (log-log), with one
    refit's noise (the `one_blob` median at generation 1) and the paper's generation 50.
    Right: the authors' ∫(p_0 − p_n)² (bands) and its peakedness term ∫p_n² (dashed), both
    setups: the two meet once the fit has collapsed."""
    fig, axes = plotting.subplots(1, 2, width=10.5, height=3.8)
    left, right = axes[0]
    plot_bands(left, runs.setups(), "w2")
    left.set_xscale("log")
    plotting.paper_reference(left, float(np.median(np.sqrt(runs.main.w2_to_generation0()[1]))),
                             "one_blob at generation 1 (one refit's noise)")
    plotting.paper_reference(left, DRIFT_GENERATION, "generation 50 (the paper's caption)",
                             horizontal=False)
    left.legend(fontsize=7, loc="upper left")
    for index, (label, history) in enumerate({"one_blob": runs.main,
                                              "two_gaussians": runs.two_gaussians}.items()):
        color, generations = plotting.color(index), history.generations[1:]
        plotting.band(right, generations, history.l2_to_generation0()[1:], color=color,
                      label=rf"{label}: $\int (p_0 - p_n)^2$", seed_axis=-1)
        right.plot(generations, np.median(history.density_square_integral()[1:], axis=-1),
                   color=color, linestyle="--", label=rf"{label}: $\int p_n^2$")
    right.set(xscale="log", yscale="log", xlabel="generation n", ylabel="median over seeds")
    right.legend(fontsize=7, loc="upper left")
    return fig


def tails_figure(runs: GMMRuns):
    """Tail masses of both setups against the truth (two panels)."""
    fig, axes = plotting.subplots(1, 2, width=10.5, height=3.6)
    plot_tails(axes[0], {"one_blob": runs.main, "two_gaussians": runs.two_gaussians})
    axes[0, 1].legend(fontsize=7)
    return fig


def _spread_and_drift_figure(histories: Mapping[str, MixtureHistory]):
    fig, axes = plotting.subplots(1, 2, width=10.5, height=3.6)
    plot_bands(axes[0, 0], histories, "spread")
    plot_bands(axes[0, 1], histories, "w2")
    axes[0, 1].set_xscale("log")
    axes[0, 0].legend()
    return fig


def sample_size_figure(runs: GMMRuns):
    """Spread and W2(p_0, p_n) of `one_blob` under `replace` for each sample size N."""
    return _spread_and_drift_figure(runs.sample_sizes())


def policies_figure(runs: GMMRuns):
    """Spread and W2(p_0, p_n) of `one_blob` at the main N under each data policy."""
    return _spread_and_drift_figure(runs.policies())


# --------------------------------------------------------------------------- text
def validation_markdown(runs: GMMRuns) -> str:
    """The check of the batched EM against scikit-learn, in one paragraph."""
    check = validation_summary(runs.validation)
    return (f"On {check['datasets']} datasets ({check['datasets_per_setup']} per setup, "
            f"N = {runs.n_points}) the largest relative difference of the mean log-likelihood "
            f"is **{check['worst']:.1e}** (requirement: below 1e-6), and both implementations "
            f"stop after the same number of EM iterations in **{check['same_iterations']:.0%}** "
            f"of the fits (iterations: {', '.join(str(i) for i in check['sklearn_n_iter'])}).")


def _quantiles(values: np.ndarray, generation: int) -> str:
    row = at_generation(values, generation)
    return (f"{np.median(row):.3g} (10–90%: {np.quantile(row, 0.1):.2g}–"
            f"{np.quantile(row, 0.9):.2g})")


def setups_markdown(runs: GMMRuns) -> str:
    """Spread and ∫(p_0 − p_n)² of both setups and the K = 1 reference, with 10–90% ranges."""
    last = runs.main.n_generations
    key = min(2000, last)
    lines = []
    for label, history in runs.setups().items():
        spread, distance = history.spread(), history.l2_to_generation0()
        lines.append(f"* **{label}**: spread {_quantiles(spread, 0)} at generation 0, "
                     f"{_quantiles(spread, key)} at generation {key}; ∫(p_0 − p_n)² "
                     f"{_quantiles(distance, 50)} at generation {min(50, last)} and "
                     f"{_quantiles(distance, last)} at generation {last}.")
    return "\n".join(lines)


def comparison_markdown(runs: GMMRuns) -> str:
    """Which setup shrinks faster, and how the two-component fit ends against K = 1."""
    last = runs.main.n_generations
    at, key = min(200, last), min(2000, last)
    labelled = {"one_blob": runs.main, "two_gaussians": runs.two_gaussians, "K1": runs.single}
    spreads = {label: float(np.median(h.spread()[at])) for label, h in labelled.items()}
    final = {label: float(np.median(h.spread()[key])) for label, h in labelled.items()}
    faster = "one_blob" if spreads["one_blob"] < spreads["two_gaussians"] else "two_gaussians"
    ratio = final["K1"] / final["one_blob"]
    return (f"In this run, at generation {at} the median spread is {spreads['one_blob']:.2f} "
            f"for `one_blob` and {spreads['two_gaussians']:.2f} for `two_gaussians` "
            f"(`{faster}` shrinks faster at first); at generation {key} they are "
            f"{final['one_blob']:.3f} and {final['two_gaussians']:.3f}. The one-component fit "
            f"of the same blob is at {final['K1']:.3f}: the two-component mixture ends "
            + (f"{ratio:.1f}× narrower." if ratio >= 1 else f"{1 / ratio:.1f}× wider."))


def _interval(values) -> str:
    return f"[{values[0]:.2g}, {values[1]:.2g}]"


def drift_markdown(runs: GMMRuns) -> str:
    """The drift at the paper's generation 50 against one refit's noise, and how much of the
    authors' distance is peakedness, per setup (medians with their seed-bootstrap intervals)."""
    lines = []
    for label, history in {"one_blob": runs.main, "two_gaussians": runs.two_gaussians}.items():
        drift, l2 = drift_summary(history), l2_summary(history)
        share = history.density_square_integral() / np.where(
            history.l2_to_generation0() > 0, history.l2_to_generation0(), np.nan)
        at = drift["generation"]
        lines.append(
            f"* **{label}**: median W2(p_0, p_n) {drift['first_median']:.3f} at generation 1 "
            f"({LEVEL:.0%} interval {_interval(drift['first_interval'])}) and "
            f"{drift['median']:.3f} at generation {at} ({_interval(drift['interval'])}), "
            f"{drift['relative']:.0%} of the generation-0 scale √tr C₀; at generation "
            f"{history.n_generations} {np.median(np.sqrt(history.w2_to_generation0()[-1])):.3g}"
            f". Peakedness ∫p_n² / ∫(p_0 − p_n)²: "
            f"{np.nanmedian(share[min(at, len(share) - 1)]):.2f} at generation {at}, "
            f"{l2['peak_share']:.2f} at generation {history.n_generations}.")
    return "\n".join(lines)


def tail_sampling_note(runs: GMMRuns) -> str:
    """How the tail masses were estimated (draws, evaluated generations, standard error)."""
    samples = runs.tail_samples
    return (f"Monte Carlo: {samples:,} draws from each seed's generation-n mixture and "
            f"{samples:,} fixed draws from the truth per evaluated generation "
            f"({len(runs.main.tail_generations)} generations, log-spaced); the true HDR cut "
            f"from {10 * samples:,} draws. Binomial standard error of a mass near 1%: "
            f"{np.sqrt(0.01 * 0.99 / samples):.1e}.")


def tails_markdown(runs: GMMRuns) -> str:
    """When the tail mass and the bulk coverage halve, per setup."""
    def when(generation):
        return "not within the run" if generation is None else f"at generation {generation}"

    lines = []
    for label, history in {"one_blob": runs.main, "two_gaussians": runs.two_gaussians}.items():
        outside = np.median(history.tails["outside"][0.99], axis=1)
        peak = int(np.argmax(outside))
        tail = history.tail_halving_generation("outside", 0.99)
        bulk = history.tail_halving_generation("covered", 0.95)
        first = "the tails went first" if tails_went_first(tail, bulk) \
            else "the tails did not go first"
        lines.append(
            f"* **{label}**: the median mass outside the true 99% HDR first falls to half its "
            f"generation-0 value ({outside[0]:.4f}) {when(tail)}; the true mass inside the "
            f"fit's own 95% HDR halves {when(bulk)}: {first}. Largest median outside mass: "
            f"{outside[peak]:.4f} at generation {history.tail_generations[peak]}.")
    return "\n".join(lines)


def policies_markdown(runs: GMMRuns) -> str:
    """Start and end spread, the final W2(p_0, p_n) and ∫(p_0 − p_n)² under each policy."""
    return "\n".join(
        f"* `{p}`: median spread {np.median(h.spread()[0]):.2f} at generation 0 and "
        f"{np.median(h.spread()[-1]):.3g} at generation {h.n_generations}; median "
        f"W2(p_0, p_n) {np.median(np.sqrt(h.w2_to_generation0()[-1])):.2g} and ∫(p_0 − p_n)² "
        f"{np.median(h.l2_to_generation0()[-1]):.2g} at generation {h.n_generations}."
        for p, h in runs.policies().items())


def summary_markdown(runs: GMMRuns) -> str:
    """The medians of :func:`~collapse.gmm.experiments.summary_table` at the record
    generations (W2 at generation 50 and the last only), as a Markdown table (one row per
    run)."""
    keys = list(runs.record_generations) + ["last"]
    head = ["setup", "policy", "N", "K", "seeds", "generations"]
    drift_keys = [g for g in keys if g in (DRIFT_GENERATION, "last")]
    head += [f"L2² @ {g}" for g in keys] + [f"W2 @ {g}" for g in drift_keys]
    head += [f"spread @ {g}" for g in keys]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    order = sorted(runs.histories, key=lambda key: (key[2], key[3] == 1, key[0], key[1]))
    rows = {(r["setup"], r["policy"], r["n_points"], r["n_components"]): r
            for r in summary_table(runs.histories, keys[:-1])}
    for key in order:
        r = rows[key]
        cells = [r["setup"].replace("_", " "), f"`{r['policy']}`", str(r["n_points"]),
                 str(r["n_components"]), str(r["n_seeds"]), str(r["n_generations"])]
        cells += ["—" if r[f"l2_{g}"] is None else f"{r[f'l2_{g}']:.3g}" for g in keys]
        cells += ["—" if r[f"w2_{g}"] is None else f"{r[f'w2_{g}']:.3g}" for g in drift_keys]
        cells += ["—" if r[f"spread_{g}"] is None else f"{r[f'spread_{g}']:.3g}" for g in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def batch_markdown(runs: GMMRuns) -> str:
    """A Markdown table of every batch: seeds, generations, wall and CPU seconds, and
    generations × seeds per wall second (all groups of the batch together)."""
    batches: dict[str, dict] = {}
    for history in runs.histories.values():
        entry = batches.setdefault(history.batch, {"seeds": 0, "history": history})
        entry["seeds"] += history.n_seeds
    lines = ["| batch | seeds | generations | wall s | CPU s | generations × seeds / s |",
             "|---|---|---|---|---|---|"]
    for batch, entry in batches.items():
        h = entry["history"]
        rate = entry["seeds"] * h.n_generations / h.wall_seconds
        lines.append(f"| `{batch}` | {entry['seeds']} | {h.n_generations} | "
                     f"{h.wall_seconds:.0f} | {h.cpu_seconds:.0f} | {rate:.0f} |")
    return "\n".join(lines)


def speed_markdown(runs: GMMRuns) -> str:
    """The authors' loop against the batched loop, every batch, and the machine's load."""
    timing, load = runs.timing, runs.load_average
    return (
        f"Over {timing.authors.n_generations} generations of `one_blob` "
        f"(N = {timing.authors.n_points}, replace, one thread each, back to back): the authors' "
        f"loop ran **{timing.authors_rate:.1f} generations × seeds per second** "
        f"({timing.authors_mean_iterations:.1f} EM iterations per fit on average), the "
        f"batched loop with {timing.batched.n_seeds} seeds **{timing.batched_rate:.0f}** "
        f"({timing.speedup:.0f}× faster). The chapter's batches ({runs.n_jobs} worker "
        f"process(es) in parallel):\n\n" + batch_markdown(runs) +
        f"\n\nThe machine is shared: 1-minute load average {load['start']:.1f} at the start "
        f"of the chapter and {load['end']:.1f} after the runs, on {os.cpu_count()} CPUs. When "
        f"the wall time of a batch is much larger than its CPU time, other processes had the "
        f"cores; the rates above are comparable only within one run.")
