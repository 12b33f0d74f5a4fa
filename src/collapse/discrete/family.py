"""The categorical family, fitted exactly: count-vector data, frequency-vector models, and the
per-generation measures of a model (PAPER.md, Theory 1).

* Data are *count vectors* with a leading chain axis, shape (n_chains, K) — a dataset of M
  points over K states, one per chain (:class:`CountData`): pooling for `accumulate` sums
  counts, taking n points without replacement is a multivariate hypergeometric draw.
* The model is the frequency vector, shape (n_chains, K) (:class:`Categorical`); generating
  n points is one multinomial draw per chain, vectorised across chains by numpy.
* Metrics are stateless functions f(model, data, generation) -> an array with the chain axis
  first; :func:`is_lost` is the condition of the loop's ``FirstGeneration`` fold (the
  generation at which each state was first lost).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import special

from ..core.checks import check_sample_size
from ..core.family import GenerationContext

__all__ = [
    "check_probabilities", "check_counts", "counts_from_probabilities", "zipf_probabilities",
    "replicate", "CountData", "Categorical", "is_absorbed", "leading_state", "support_size",
    "entropy", "gini_simpson", "is_lost", "TotalVariationTo", "AliveShareByGroup",
]


# --------------------------------------------------------------------------- inputs
def check_probabilities(probabilities, name: str = "probabilities") -> np.ndarray:
    """``probabilities`` as a float array of K >= 2 non-negative entries summing to 1 (to
    1e-9); ValueError naming ``name`` otherwise."""
    values = np.asarray(probabilities, dtype=float)
    if values.ndim != 1 or len(values) < 2:
        raise ValueError(f"{name} must be a 1-D sequence of at least 2 probabilities, "
                         f"got shape {values.shape}")
    if not np.all(np.isfinite(values)) or values.min() < 0:
        raise ValueError(f"{name} must be finite and non-negative, got {values.tolist()}")
    if abs(values.sum() - 1.0) > 1e-9:
        raise ValueError(f"{name} must sum to 1, got sum {values.sum():.12g}")
    return values


def counts_from_probabilities(probabilities, sample_size: int) -> np.ndarray:
    """Integer counts summing to M closest to M·q (largest-remainder rounding), shape (K,).

    The chain starts from these counts, so its generation-0 model is counts / M (exactly q
    when every M·q_k is an integer)."""
    q = check_probabilities(probabilities)
    sample_size = check_sample_size(sample_size, "sample_size")
    scaled = q * sample_size
    counts = np.floor(scaled).astype(np.int64)
    remainder = scaled - counts
    order = np.argsort(-remainder, kind="stable")
    counts[order[: sample_size - counts.sum()]] += 1
    return counts


def check_counts(counts, name: str = "counts") -> np.ndarray:
    """``counts`` as an int64 array of K >= 2 non-negative integers summing to M >= 2."""
    values = np.asarray(counts)
    if values.ndim != 1 or len(values) < 2:
        raise ValueError(f"{name} must be a 1-D sequence of at least 2 counts, got shape "
                         f"{values.shape}")
    if not np.issubdtype(values.dtype, np.integer) or values.min() < 0:
        raise ValueError(f"{name} must be non-negative integers, got {values.tolist()}")
    check_sample_size(int(values.sum()), f"sum of {name} (the sample size M)")
    return values.astype(np.int64)


def zipf_probabilities(n_states: int, exponent: float = 1.0) -> np.ndarray:
    """q_k ∝ k^-exponent for k = 1..K, shape (K,)."""
    n_states = check_sample_size(n_states, "n_states")
    if isinstance(exponent, bool) or not isinstance(exponent, (int, float, np.number)) \
            or not np.isfinite(exponent) or exponent < 0:
        raise ValueError(f"exponent must be a finite number >= 0, got {exponent!r}")
    weights = np.arange(1, n_states + 1, dtype=float) ** -float(exponent)
    return weights / weights.sum()


def replicate(counts, n_chains: int) -> np.ndarray:
    """The same count vector for ``n_chains`` chains, shape (n_chains, K)."""
    n_chains = check_sample_size(n_chains, "n_chains", minimum=1)
    values = np.asarray(counts)
    if values.ndim != 1:
        raise ValueError(f"counts must be 1-D (one count per state), got shape {values.shape}")
    if values.dtype.kind == "f" and np.all(np.isfinite(values)) \
            and np.all(values == np.round(values)):
        values = values.astype(np.int64)  # 10.0 is a count; 1.5 is not
    return np.tile(check_counts(values), (n_chains, 1))


# --------------------------------------------------------------------------- family
class CountData:
    """Datasets stored as counts per state, shape (n_chains, K) (or (K,) for one chain)."""

    def size(self, data: np.ndarray) -> int:
        """Number of points per chain (the same for every chain)."""
        totals = np.asarray(data).sum(axis=-1)
        if np.ndim(totals) and totals.min() != totals.max():
            raise ValueError(f"chains hold different numbers of points: {totals.min()} to "
                             f"{totals.max()}")
        return int(np.max(totals))

    def concat(self, parts: Sequence[np.ndarray]) -> np.ndarray:
        """The pooled dataset: counts add."""
        return np.sum(np.stack([np.asarray(part) for part in parts]), axis=0)

    def take(self, data: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` points per chain without replacement: a multivariate hypergeometric draw."""
        counts = np.asarray(data)
        size = self.size(counts)
        if n > size:
            raise ValueError(f"cannot take {n} points from a dataset of {size}")
        if size >= 10**9:
            raise ValueError(f"datasets of {size} >= 10**9 points are beyond numpy's "
                             f"hypergeometric sampler")
        if counts.ndim == 1:
            return rng.multivariate_hypergeometric(counts, n)
        n_chains, n_states = counts.shape
        if n_chains <= n_states:  # numpy's sampler once per chain: O(size) or O(K) per call
            method = "count" if size <= 40 * n_states else "marginals"
            return np.stack([rng.multivariate_hypergeometric(row, n, method=method)
                             for row in counts])
        # many chains, few states: successive conditional hypergeometric draws, across chains
        taken = np.zeros_like(counts)
        remaining_points = np.full(n_chains, size, dtype=np.int64)
        remaining_draws = np.full(n_chains, n, dtype=np.int64)
        for state in range(n_states - 1):
            good = counts[:, state]
            taken[:, state] = rng.hypergeometric(good, remaining_points - good,
                                                 remaining_draws)
            remaining_points -= good
            remaining_draws -= taken[:, state]
        taken[:, -1] = remaining_draws
        return taken


class Categorical:
    """Exact fitting of a categorical distribution: the model is the frequency vector.

    ``fit(counts)`` -> probabilities, shape (n_chains, K); ``generate(model, n)`` -> counts of
    n fresh samples per chain (Multinomial(n, p), vectorised across chains)."""

    data_type = CountData()

    def fit(self, data: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        counts = np.asarray(data)
        return counts / counts.sum(axis=-1, keepdims=True)

    def generate(self, model: np.ndarray, n: int, rng: np.random.Generator,
                 context: GenerationContext | None = None) -> np.ndarray:
        return rng.multinomial(n, model)


# --------------------------------------------------------------------------- metrics
# Each metric is f(model, data, generation) -> an array with the chain axis first.
def is_absorbed(model, data, generation) -> np.ndarray:
    """True where the model is a delta function, shape (n_chains,)."""
    return (np.asarray(model) == 1.0).any(axis=-1)


def leading_state(model, data, generation) -> np.ndarray:
    """The most probable state (the absorbing one once absorbed), shape (n_chains,)."""
    return np.asarray(model).argmax(axis=-1).astype(np.int32)


def support_size(model, data, generation) -> np.ndarray:
    """Number of states with non-zero probability, shape (n_chains,)."""
    return (np.asarray(model) > 0).sum(axis=-1)


def entropy(model, data, generation) -> np.ndarray:
    """Shannon entropy in bits, shape (n_chains,)."""
    return special.entr(np.asarray(model)).sum(axis=-1) / np.log(2.0)


def gini_simpson(model, data, generation) -> np.ndarray:
    """1 - sum_k p_k^2, shape (n_chains,); its mean decays exactly as (1 - 1/M)^n."""
    model = np.asarray(model)
    return 1.0 - np.einsum("...k,...k->...", model, model)


def is_lost(model, data) -> np.ndarray:
    """True where a state has zero probability, shape (n_chains, K): the condition of the
    ``FirstGeneration`` fold that records when each state was lost (never to return under
    `replace`)."""
    return ~(np.asarray(model) > 0)


class TotalVariationTo:
    """Total-variation distance of each chain's model to a reference distribution q."""

    def __init__(self, reference):
        self.reference = np.asarray(reference, dtype=float)

    def __call__(self, model, data, generation) -> np.ndarray:
        return 0.5 * np.abs(np.asarray(model) - self.reference).sum(axis=-1)


class AliveShareByGroup:
    """Share of each group's states alive (non-zero probability) in each chain's model, plus
    the share of all states (last column): shape (n_chains, n_groups + 1). ``group`` (K,)
    is each state's group index in 0..n_groups-1; an empty group reports NaN."""

    def __init__(self, group: np.ndarray, n_groups: int):
        group = np.asarray(group)
        masks = np.zeros((n_groups + 1, len(group)))
        masks[group, np.arange(len(group))] = 1.0
        masks[-1] = 1.0
        with np.errstate(invalid="ignore"):
            self.weights = (masks / masks.sum(axis=1, keepdims=True)).T  # (K, n_groups + 1)

    def __call__(self, model, data, generation) -> np.ndarray:
        alive = np.asarray(model) > 0
        return np.minimum(alive @ self.weights, 1.0)  # 1/3 + 1/3 + 1/3 may round above 1
