"""One plotting style for the whole book, and the few figure helpers every chapter uses.

Conventions: simulation medians as solid lines with 10–90% bands, theory as dashed black-ish
lines drawn over them, the paper's own reference values as dotted grey lines with a label.
"""
from __future__ import annotations

from typing import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from ..core.stats import quantile_band

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
           "#000000")  # Okabe–Ito, colour-blind safe
THEORY_STYLE = dict(color="#222222", linestyle="--", linewidth=1.2)
PAPER_STYLE = dict(color="#777777", linestyle=":", linewidth=1.4)


def use_style() -> None:
    """Apply the book's matplotlib style (call once at the top of a chapter)."""
    mpl.rcParams.update({
        "figure.figsize": (7.0, 4.2), "figure.dpi": 110, "savefig.dpi": 110,
        "figure.constrained_layout.use": True,
        "axes.prop_cycle": mpl.cycler(color=PALETTE), "axes.grid": True,
        "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False,
        "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 8.5,
        "legend.frameon": False, "xtick.labelsize": 9, "ytick.labelsize": 9,
        "lines.linewidth": 1.6, "font.family": "DejaVu Sans",
    })


def color(index: int) -> str:
    """The book's ``index``-th series colour."""
    return PALETTE[index % len(PALETTE)]


def band(ax, x: np.ndarray, samples: np.ndarray, label: str | None = None,
         color: str | None = None, quantiles: Sequence[float] = (0.1, 0.5, 0.9),
         alpha: float = 0.2, seed_axis: int = -1, **line_kwargs):
    """Draw the median of ``samples`` over ``seed_axis`` against ``x`` with a shaded band
    between the outer quantiles (default 10–90%). Returns the median line."""
    low, middle, high = quantile_band(samples, quantiles, axis=seed_axis)
    (line,) = ax.plot(x, middle, label=label, color=color, **line_kwargs)
    ax.fill_between(x, low, high, color=line.get_color(), alpha=alpha, linewidth=0)
    return line


def theory(ax, x: np.ndarray, y: np.ndarray, label: str | None = "theory", **kwargs):
    """Draw a theory curve in the book's theory style."""
    return ax.plot(x, y, label=label, **{**THEORY_STYLE, **kwargs})[0]


def paper_reference(ax, y: float, label: str, horizontal: bool = True, **kwargs):
    """Mark a value the paper reports (dotted grey line, labelled)."""
    draw = ax.axhline if horizontal else ax.axvline
    return draw(y, label=label, **{**PAPER_STYLE, **kwargs})


def subplots(nrows: int = 1, ncols: int = 1, width: float | None = None,
             height: float | None = None, **kwargs):
    """``plt.subplots`` with the book's default panel size (3.6 x 3.0 in per panel)."""
    width = width or min(3.6 * ncols, 10.5)
    height = height or 3.0 * nrows
    return plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False, **kwargs)
