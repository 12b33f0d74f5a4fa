"""One plotting style for the whole book, and the few figure helpers every chapter uses.

Conventions: simulation medians as solid lines with 10–90% bands, theory as dashed black-ish
lines drawn over them, the paper's own reference values as dotted grey lines with a label.

Sizes: a figure is at most :data:`MAX_WIDTH` inches wide and is shown at :data:`DPI` CSS pixels
per inch, so the widest figure fills the page's text column (about 760 px) without being
shrunk, and its 9–10 pt labels stay 12–14 px. In a notebook, figures are "retina" PNGs (twice
the pixels, shown at the logical size): sharp on high-resolution screens and when a phone
zooms in. Generation axes get integer ticks (:func:`generation_axis`); many series share one
legend below the panels (:func:`legend_below`) rather than a legend over the data.
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


DPI = 100          # CSS pixels per inch of a figure in the page
MAX_WIDTH = 7.6    # inches: the text column (~760 px) at DPI
PANEL = (3.4, 2.7)  # inches per panel in subplots()


def use_style(retina: bool = True) -> None:
    """Apply the book's matplotlib style (call once at the top of a chapter); in a notebook,
    figures become 2x ("retina") PNGs unless ``retina=False``."""
    mpl.rcParams.update({
        "figure.figsize": (6.4, 3.8), "figure.dpi": DPI, "savefig.dpi": 2 * DPI,
        "figure.constrained_layout.use": True,
        "axes.prop_cycle": mpl.cycler(color=PALETTE), "axes.grid": True,
        "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False,
        "font.size": 9.5, "axes.titlesize": 10.5, "axes.labelsize": 10,
        "legend.fontsize": 9, "legend.frameon": False, "legend.handlelength": 1.8,
        "xtick.labelsize": 9, "ytick.labelsize": 9,
        "lines.linewidth": 1.6, "font.family": "DejaVu Sans",
        "mathtext.fontset": "dejavusans",
    })
    if retina:
        _inline_retina()


def _inline_retina() -> None:
    """Ask IPython's inline backend for 2x PNGs (nothing outside a notebook)."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


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
    """``plt.subplots`` with the book's panel size (:data:`PANEL` per panel, at most
    :data:`MAX_WIDTH` wide by default). A wider explicit ``width`` is shrunk by the page to
    the text column, labels with it: keep figures within :data:`MAX_WIDTH` (prefer a second
    row to a fourth column). Returns (fig, axes) with ``axes`` always 2-D."""
    width = width or min(PANEL[0] * ncols, MAX_WIDTH)
    height = height or PANEL[1] * nrows
    return plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False, **kwargs)


def generation_axis(ax, label: str = "generation $n$", log: bool = False, axis: str = "x"):
    """Label a generation axis and give it integer ticks (no 2.5, 7.5); ``log`` for the
    paper's log-scaled generation axes (ticks 1, 10, 100, ...)."""
    from matplotlib.ticker import LogLocator, MaxNLocator
    target = ax.xaxis if axis == "x" else ax.yaxis
    if log:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
        target.set_major_locator(LogLocator(base=10))
    else:
        target.set_major_locator(MaxNLocator(integer=True))
    target.set_label_text(label)
    return ax


def legend_below(fig, axes=None, ncols: int | None = None, **kwargs):
    """One legend for the whole figure, below the panels (the handles of every panel, each
    label once): many series without a legend over the data. Returns the legend."""
    axes = fig.axes if axes is None else np.ravel(axes)
    handles, labels = {}, []
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in handles and not label.startswith("_"):
                handles[label] = handle
                labels.append(label)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    ncols = ncols or min(len(labels), 4) or 1
    return fig.legend([handles[label] for label in labels], labels, loc="outside lower center",
                      ncols=ncols, **kwargs)
