"""Summaries over seeds shared by every chapter: Monte-Carlo means with standard errors,
quantile bands, distribution-free intervals for medians, seed bootstraps, rank correlation.

Convention: the seed axis is the last one unless ``axis`` says otherwise.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
from scipy import stats

__all__ = ["mc_mean_with_se", "max_abs_z", "quantile_band", "median_confidence_interval",
           "bootstrap_interval", "spearman", "loglog_slope"]


def mc_mean_with_se(values: np.ndarray, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Monte-Carlo mean over the seed ``axis`` and its standard error s/√S."""
    values = np.asarray(values, float)
    count = values.shape[axis]
    return values.mean(axis=axis), values.std(axis=axis, ddof=1) / math.sqrt(count)


def max_abs_z(simulated: np.ndarray, exact: np.ndarray, axis: int = -1) -> float:
    """max over all other axes of |MC mean − exact| / SE (seeds on ``axis``)."""
    mean, se = mc_mean_with_se(simulated, axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (mean - exact) / se, 0.0)
    return float(np.abs(z).max())


def quantile_band(values: np.ndarray, quantiles: Sequence[float] = (0.1, 0.5, 0.9),
                  axis: int = -1) -> np.ndarray:
    """Quantiles of ``values`` over the seed ``axis``: shape (len(quantiles), ...)."""
    return np.nanquantile(values, quantiles, axis=axis)


def median_confidence_interval(values: np.ndarray, level: float = 0.999) -> tuple:
    """Distribution-free CI of the median over the last axis, from order statistics
    (binomial(S, ½) ranks): covers the true median with probability ≥ ``level``."""
    values = np.sort(values, axis=-1)
    count = values.shape[-1]
    low_rank = int(stats.binom.ppf((1 - level) / 2, count, 0.5))
    high_rank = int(stats.binom.isf((1 - level) / 2, count, 0.5))
    return values[..., max(low_rank - 1, 0)], values[..., min(high_rank, count - 1)]


def bootstrap_interval(values: np.ndarray, statistic: Callable[[np.ndarray], float] = np.median,
                       level: float = 0.9, n_resamples: int = 2000, seed: int = 0
                       ) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over seeds (a 1-D array of per-seed values),
    via ``scipy.stats.bootstrap`` with a fixed seed. With one value the interval is that value."""
    values = np.asarray(values, float).ravel()
    if values.size < 2:
        return float(values[0]), float(values[0])
    result = stats.bootstrap((values,), statistic, confidence_level=level,
                             n_resamples=n_resamples, method="percentile",
                             random_state=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def spearman(x, y) -> float:
    """Spearman's rank correlation of two equal-length sequences."""
    return float(stats.spearmanr(x, y).statistic)


def loglog_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of log y against log x over the finite, positive pairs (NaN when
    fewer than two)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])
