"""Every figure of the VAE chapter; each takes the chapter's runs
(:class:`collapse.vae.experiments.VAERuns`) or some of its chains and returns the figure."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from ..publish import plotting
from .chains import Chain, stack_metric
from .claims import PAPER_SPREAD
from .evaluation import DENSITY_EDGES, effective_classes

if TYPE_CHECKING:
    from .experiments import VAERuns

__all__ = ["plot_latent_densities", "sample_mosaic", "plot_policy_bands", "plot_class_shares",
           "density_figure", "spread_figure", "sample_grids_figure", "modes_figure",
           "class_shares_figure", "ablation_figure"]


# --------------------------------------------------------------------------- panels
def plot_latent_densities(ax, chains: Sequence[Chain], cmap: str = "viridis"):
    """Density of the generation-0 encoder's latent means of each generation's samples
    (averaged over seeds), one curve per generation coloured by generation: the paper's
    view. Returns the colour mapping (for a colour bar)."""
    edges = DENSITY_EDGES
    centres = 0.5 * (edges[1:] + edges[:-1])
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


def plot_policy_bands(ax, chains: dict[str, list[Chain]], name: str, transform=None):
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


# --------------------------------------------------------------------------- figures
def density_figure(runs: "VAERuns"):
    """fig-vae-density: latent-mean densities per generation under `replace`."""
    fig, axes = plotting.subplots(1, 1, width=6.4, height=3.4)
    mapping = plot_latent_densities(axes[0, 0], runs.replace)
    fig.colorbar(mapping, ax=axes[0, 0], label="generation")
    return fig


def spread_figure(runs: "VAERuns"):
    """fig-vae-spread: mean and spread of the latent means under `replace` against the paper's
    (left); spread relative to generation 1 per policy against the paper's ratio (right)."""
    fig, axes = plotting.subplots(1, 2, width=10.5, height=3.4)
    spread = stack_metric(runs.replace, "latent_spread")
    generations = np.arange(runs.n_generations + 1)
    plotting.band(axes[0, 0], generations, spread, label="spread (std)",
                  color=plotting.color(0))
    plotting.band(axes[0, 0], generations, stack_metric(runs.replace, "latent_mean"),
                  label="mean", color=plotting.color(1))
    paper_style = dict(color=plotting.PAPER_STYLE["color"], marker="o", linestyle="none")
    axes[0, 0].plot(list(PAPER_SPREAD), list(PAPER_SPREAD.values()),
                    label="paper (MNIST): spread", **paper_style)
    axes[0, 0].set(xlabel="generation", ylabel="latent mean / std (gen-0 encoder)")
    plot_policy_bands(axes[0, 1], runs.chains, "latent_spread",
                      transform=lambda values: values / values[1])
    axes[0, 1].plot([1, 5], [1.0, PAPER_SPREAD[5] / PAPER_SPREAD[1]],
                    label="paper (MNIST)", **paper_style)
    axes[0, 1].set_ylabel("spread / spread at generation 1")
    for ax in axes[0]:
        ax.legend()
    return fig


def sample_grids_figure(runs: "VAERuns", seed_index: int = 0, columns: int = 6):
    """fig-vae-samples: rows = generations (``runs.grid_generations``), columns = policies;
    each cell the decoder means of the same fixed latents decoded by that generation (seed
    ``seed_index``), dark = ink."""
    policies, generations = list(runs.chains), runs.grid_generations
    figure, axes = plt.subplots(len(generations), len(policies), squeeze=False,
                                figsize=(2.6 * len(policies), 1.25 * len(generations)))
    for column, policy in enumerate(policies):
        chain = runs.chains[policy][seed_index]
        for row, generation in enumerate(generations):
            ax = axes[row, column]
            ax.imshow(sample_mosaic(chain.metrics["grid"][generation], columns), cmap="gray",
                      vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
            if row == 0:
                ax.set_title(policy)
            if column == 0:
                ax.set_ylabel(f"generation {generation}", fontsize=9)
    return figure


def modes_figure(runs: "VAERuns"):
    """fig-vae-modes: effective classes, rarest share and Fréchet distance per policy, with the
    real digits' values (and the real-vs-real noise floor) dotted."""
    reference = runs.label_reference
    fig, axes = plotting.subplots(1, 3, width=10.5, height=3.3)
    plot_policy_bands(axes[0, 0], runs.chains, "class_entropy", transform=effective_classes)
    plotting.paper_reference(axes[0, 0], np.exp(reference["entropy"]), "real digits")
    axes[0, 0].set(ylabel="effective number of classes", ylim=(0, 10.5))
    plot_policy_bands(axes[0, 1], runs.chains, "rarest_share")
    plotting.paper_reference(axes[0, 1], reference["rarest_share"], "real digits")
    axes[0, 1].set_ylabel("share of the rarest digit")
    plot_policy_bands(axes[0, 2], runs.chains, "frechet")
    floor = np.median(stack_metric(runs.replace, "frechet_real_halves")[0])
    plotting.paper_reference(axes[0, 2], floor, "real vs real (halves)")
    axes[0, 2].set_ylabel("Fréchet distance to real")
    axes[0, 0].legend()
    axes[0, 2].legend()
    return fig


def class_shares_figure(runs: "VAERuns"):
    """fig-vae-classes: stacked class shares against generation, one panel per policy."""
    fig, axes = plotting.subplots(1, len(runs.chains), width=10.5, height=3.2, sharey=True)
    for ax, (policy, chains) in zip(axes[0], runs.chains.items()):
        plot_class_shares(ax, chains)
        ax.set_title(policy)
        if ax is not axes[0, 0]:
            ax.set_ylabel("")
    axes[0, -1].legend(title="digit", ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def ablation_figure(runs: "VAERuns"):
    """fig-vae-ablation: latent spread and effective classes under `replace` with the book's KL
    weight and (when run) the authors' weight 1."""
    fig, axes = plotting.subplots(1, 2, width=10.5, height=3.3)
    variants = {f"KL weight {runs.kl_weight:.3f} (book)": runs.replace}
    if runs.ablation is not None:
        variants[f"KL weight {runs.ablation_kl_weight:g} (authors)"] = runs.ablation
    for index, (label, variant) in enumerate(variants.items()):
        spread = stack_metric(variant, "latent_spread")
        plotting.band(axes[0, 0], np.arange(len(spread)), spread, label=label,
                      color=plotting.color(index))
        classes = effective_classes(stack_metric(variant, "class_entropy"))
        plotting.band(axes[0, 1], np.arange(len(classes)), classes, label=label,
                      color=plotting.color(index))
    axes[0, 0].set(xlabel="generation", ylabel="latent spread (gen-0 encoder)")
    axes[0, 1].set(xlabel="generation", ylabel="effective number of classes", ylim=(0, 10.5))
    axes[0, 0].legend()
    return fig
