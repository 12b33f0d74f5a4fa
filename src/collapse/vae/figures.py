"""Every figure of the VAE chapter; each takes the chapter's runs
(:class:`collapse.vae.experiments.VAERuns`) and returns the figure. Bands are the median and
the 10-90% range over seeds (with three seeds: close to their range)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from ..publish import plotting
from .chains import Chain, stack_metric
from .claims import GATE, PAPER_SPREAD, seed_interval
from .evaluation import DENSITY_EDGES, effective_classes

if TYPE_CHECKING:
    from .experiments import VAERuns

__all__ = ["plot_latent_densities", "sample_mosaic", "plot_policy_bands", "plot_class_shares",
           "gate_figure", "density_figure", "spread_figure", "sample_grids_figure",
           "modes_figure", "class_shares_figure", "mitigation_figure"]

ARM_NAMES = {"authors": "authors' arm", "long": "long arm"}


# --------------------------------------------------------------------------- panels
def plot_latent_densities(ax, chains: Sequence[Chain], cmap: str = "viridis"):
    """Density of the generation-0 encoder's latent means of each generation's samples
    (averaged over seeds), one curve per generation coloured by generation: the paper's
    view. Returns the colour mapping (for a colour bar)."""
    centres = 0.5 * (DENSITY_EDGES[1:] + DENSITY_EDGES[:-1])
    densities = stack_metric(chains, "latent_density").mean(axis=-1)
    norm = mpl.colors.Normalize(0, len(densities) - 1)
    mapping = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
    for generation, density in enumerate(densities):
        ax.plot(centres, density, color=mapping.to_rgba(generation), linewidth=1.1)
    ax.set_xlim(-3, 3)
    ax.set_xlabel("latent mean (generation-0 encoder), all dimensions")
    ax.set_ylabel("density")
    return mapping


def sample_mosaic(grids: np.ndarray, columns: int) -> np.ndarray:
    """Tile images (n, H, W) into a mosaic with ``columns`` images per row (1-pixel gaps)."""
    n, height, width = grids.shape
    rows = math.ceil(n / columns)
    mosaic = np.ones((rows * (height + 1) - 1, columns * (width + 1) - 1))
    for index, image in enumerate(grids):
        row, column = divmod(index, columns)
        mosaic[row * (height + 1):row * (height + 1) + height,
               column * (width + 1):column * (width + 1) + width] = 1 - image
    return mosaic


def plot_policy_bands(ax, chains: Mapping[str, list[Chain]], name: str, transform=None):
    """Median and 10-90% band over seeds of metric ``name`` against generation, per policy."""
    for index, (policy, runs) in enumerate(chains.items()):
        values = stack_metric(runs, name)
        values = transform(values) if transform is not None else values
        plotting.band(ax, np.arange(len(values)), values, label=policy,
                      color=plotting.color(index))
    ax.set_xlabel("generation")


def plot_class_shares(ax, chains: Sequence[Chain], labels: Sequence[str] | None = None):
    """Stacked class shares (mean over seeds) of each generation's samples."""
    shares = stack_metric(chains, "class_shares").mean(axis=-1)  # (generations, classes)
    generations = np.arange(len(shares))
    labels = labels or [str(digit) for digit in range(shares.shape[1])]
    colours = [plotting.color(index) for index in range(8)] + ["#999999", "#444444"]
    ax.stackplot(generations, shares.T, labels=labels, colors=colours, alpha=0.85)
    ax.set_xlabel("generation")
    ax.set_ylabel("share of samples labelled as digit")
    ax.set_ylim(0, 1)
    ax.set_xlim(0, generations[-1])


def _image_panel(ax, mosaic: np.ndarray, title: str | None = None, ylabel: str | None = None):
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([]), ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title, fontsize=9)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=9)


# --------------------------------------------------------------------------- figures
def gate_figure(runs: "VAERuns"):
    """fig-vae-gate: each arm's ladder (seed 0's generation 0 trained to twice its budget):
    held-out negative ELBO, the classifier's accuracy on reconstructions and the effective
    classes of the samples, against epochs, with the budget and the gate's thresholds."""
    fig, axes = plotting.subplots(1, 3, width=10.5, height=3.2)
    reference = runs.classifier
    for index, (arm, ladder) in enumerate(runs.ladders.items()):
        colour, epochs = plotting.color(index), np.arange(1, len(ladder.elbo) + 1)
        best = np.min(ladder.elbo)
        axes[0, 0].plot(epochs, ladder.elbo, color=colour, label=ARM_NAMES[arm])
        axes[0, 0].fill_between(epochs, best, best * (1 + GATE["elbo_tolerance"]),
                                color=colour, alpha=0.15, linewidth=0)
        axes[0, 1].plot(epochs, ladder.reconstruction_accuracy, color=colour)
        axes[0, 2].plot(epochs, ladder.coverage, color=colour)
        for ax in axes[0]:
            ax.axvline(ladder.budget, color=colour, linestyle="--", linewidth=0.9)
    axes[0, 0].set(xlabel="epochs", ylabel="held-out negative ELBO (nats / image)")
    low, high = np.percentile(np.concatenate([ladder.elbo for ladder in runs.ladders.values()]),
                              [0, 90])
    axes[0, 0].set_ylim(low - 0.05 * (high - low), high)
    axes[0, 1].axhline(GATE["accuracy_share"] * reference["accuracy"], **plotting.PAPER_STYLE,
                       label="gate")
    axes[0, 1].axhline(reference["accuracy"], color="black", linewidth=0.8, label="real digits")
    axes[0, 1].set(xlabel="epochs", ylabel="classifier accuracy on reconstructions")
    real_coverage = math.exp(reference["entropy"])
    axes[0, 2].axhline(GATE["coverage_share"] * real_coverage, **plotting.PAPER_STYLE,
                       label="gate")
    axes[0, 2].axhline(real_coverage, color="black", linewidth=0.8, label="real digits")
    axes[0, 2].set(xlabel="epochs", ylabel="effective classes of samples", ylim=(0, 10.5))
    axes[0, 0].legend()
    axes[0, 1].legend()
    return fig


def density_figure(runs: "VAERuns"):
    """fig-vae-density: latent-mean densities per generation under `replace`, both arms."""
    fig, axes = plotting.subplots(1, 2, width=10.5, height=3.3)
    for ax, (arm, chains) in zip(axes[0], (("authors", runs.authors), ("long", runs.replace))):
        mapping = plot_latent_densities(ax, chains)
        fig.colorbar(mapping, ax=ax, label="generation")
        ax.set_title(ARM_NAMES[arm], fontsize=10)
    return fig


def spread_figure(runs: "VAERuns"):
    """fig-vae-spread: the authors' arm's latent spread against the paper's stored runs (left);
    the long arm's spread per data policy (right)."""
    fig, axes = plotting.subplots(1, 2, width=10.5, height=3.4)
    spread = stack_metric(runs.authors, "latent_spread")
    generations = np.arange(len(spread))
    plotting.band(axes[0, 0], generations, spread, label="this run (replace)",
                  color=plotting.color(0), marker="o", markersize=3)
    for generation, (low, high) in PAPER_SPREAD.items():
        axes[0, 0].plot([generation, generation], [low, high], color="#555555", linewidth=4,
                        solid_capstyle="butt",
                        label="authors' stored runs" if generation == 1 else None)
    axes[0, 0].set(xlabel="generation", ylabel="latent spread (gen-0 encoder)",
                   title=ARM_NAMES["authors"])
    plot_policy_bands(axes[0, 1], runs.chains, "latent_spread")
    axes[0, 1].set(ylabel="latent spread (gen-0 encoder)", title=ARM_NAMES["long"])
    for ax in axes[0]:
        ax.legend()
        ax.set_ylim(bottom=0)
    return fig


def sample_grids_figure(chains: Mapping[str, list[Chain]], generations: Sequence[int],
                        real: np.ndarray, seed_index: int = 0, columns: int = 6):
    """fig-vae-samples: the first row real held-out digits ``real`` (n, H, W); then one row per
    generation; one column per policy; each cell the decoder means of the same fixed latents
    decoded by that generation (seed ``seed_index``), dark = ink ("not run" past a policy's
    last generation)."""
    policies = list(chains)
    figure, axes = plt.subplots(len(generations) + 1, len(policies), squeeze=False,
                                figsize=(2.6 * len(policies), 1.1 * (len(generations) + 1)))
    for column, policy in enumerate(policies):
        grids = chains[policy][seed_index].metrics["grid"]
        _image_panel(axes[0, column], sample_mosaic(real[:len(grids[0])], columns),
                     title=policy, ylabel="real digits" if column == 0 else None)
        for row, generation in enumerate(generations, start=1):
            ylabel = f"generation {generation}" if column == 0 else None
            if generation < len(grids):
                _image_panel(axes[row, column], sample_mosaic(grids[generation], columns),
                             ylabel=ylabel)
            else:  # this policy stopped earlier (the mitigation horizon)
                _image_panel(axes[row, column], np.ones((1, 6)), ylabel=ylabel)
                axes[row, column].text(0.5, 0.5, "not run", ha="center", va="center",
                                       transform=axes[row, column].transAxes, fontsize=8,
                                       color="#777777")
    return figure


def modes_figure(runs: "VAERuns"):
    """fig-vae-modes: effective classes, rarest share, Fréchet distance and the held-out
    digits' negative ELBO per policy (long arm), with the real digits' values dotted."""
    reference = runs.classifier
    fig, axes = plotting.subplots(2, 2, width=10.5, height=6.2)
    plot_policy_bands(axes[0, 0], runs.chains, "class_entropy", transform=effective_classes)
    plotting.paper_reference(axes[0, 0], math.exp(reference["entropy"]), "real digits")
    axes[0, 0].set(ylabel="effective number of classes", ylim=(0, 10.5))
    plot_policy_bands(axes[0, 1], runs.chains, "rarest_share")
    plotting.paper_reference(axes[0, 1], reference["rarest_share"], "real digits")
    axes[0, 1].set_ylabel("share of the rarest digit")
    plot_policy_bands(axes[1, 0], runs.chains, "frechet")
    floor = np.median(stack_metric(runs.replace, "frechet_real_halves")[0])
    plotting.paper_reference(axes[1, 0], floor, "real vs real (halves)")
    axes[1, 0].set(ylabel="Fréchet distance to real", yscale="log")
    plot_policy_bands(axes[1, 1], runs.chains, "heldout_elbo")
    axes[1, 1].set_ylabel("held-out negative ELBO (nats / image)")
    axes[0, 0].legend()
    axes[1, 0].legend()
    return fig


def class_shares_figure(runs: "VAERuns"):
    """fig-vae-classes: stacked class shares against generation, one panel per policy."""
    fig, axes = plotting.subplots(1, len(runs.chains), width=10.5, height=3.2, sharey=True)
    for ax, (policy, chains) in zip(axes[0], runs.chains.items()):
        plot_class_shares(ax, chains)
        ax.set_title(policy, fontsize=10)
        if ax is not axes[0, 0]:
            ax.set_ylabel("")
    axes[0, -1].legend(title="digit", ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def mitigation_figure(runs: "VAERuns"):
    """fig-vae-mitigation: per policy, each seed's Fréchet distance (left) and latent spread
    (right) at the mitigation horizon over replace's at the same generation (same seed), with
    the 90% seed-bootstrap interval of the median."""
    fig, axes = plotting.subplots(1, 2, width=10.5, height=3.0)
    policies = [policy for policy in runs.chains if policy != "replace"]
    end = runs.mitigation_end
    for ax, name in zip(axes[0], ("frechet", "latent_spread")):
        base = stack_metric(runs.replace, name)[end]
        for row, policy in enumerate(policies):
            ratio = stack_metric(runs.chains[policy], name)[end] / base
            low, high = seed_interval(ratio)
            ax.plot([low, high], [row, row], color=plotting.color(row + 1), linewidth=5,
                    alpha=0.4, solid_capstyle="butt")
            ax.plot(ratio, np.full(len(ratio), row), "o", color=plotting.color(row + 1))
        ax.axvline(1, color="black", linewidth=0.8)
        ax.set_yticks(range(len(policies)), policies)
        ax.set_xscale("log")
    axes[0, 0].axvline(0.5, **plotting.PAPER_STYLE, label="criterion (0.5)")
    axes[0, 0].set_xlabel(f"FD at generation {end} / replace's")
    axes[0, 1].set_xlabel(f"latent spread at generation {end} / replace's")
    axes[0, 0].legend(loc="lower right")
    return fig
