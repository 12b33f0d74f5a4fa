"""Exact and approximate theory of the discrete refitting chain (PAPER.md, Theory 1).

Refitting a categorical distribution exactly (by its empirical frequencies) to M samples of
itself is neutral Wright–Fisher drift with M gene copies: the count vector X_{n+1} of
generation n+1 is Multinomial(M, X_n / M). This module holds the classic results used to draw
theory over the simulations of :mod:`collapse.discrete.experiments`:

* two states (one state against the rest; the marginal of any state in a K-state chain is
  exactly this chain): the (M+1)x(M+1) transition matrix, absorption probabilities (= i/M,
  the paper's martingale argument), the exact mean absorption time from the fundamental matrix
  N = (I - Q)^-1, the mean time to loss given loss, the distribution of the loss time, and
  the diffusion approximations -2M[p ln p + (1-p) ln(1-p)] and -2M p ln p / (1-p);
* K states (small M and K): the transition matrix on all compositions of M into K parts, so
  the fraction of chains absorbed by generation n is exact there too;
* the M -> infinity limit at fixed count c: the count of a rare state is a critical
  Galton–Watson process with Poisson(1) offspring, lost by generation n with probability
  f_n(0)^c (f(s) = exp(s - 1)), which makes the median time to loss ~ 2c / ln 2 — linear in
  the original count (the Suresh et al. observation);
* the Gini–Simpson index 1 - sum p_k^2 ("heterozygosity"), whose mean decays exactly as
  (1 - 1/M)^n.

All chains start from counts X_0 (the real data); generation n's model is X_n / M, so the
absorption time T is the first generation whose model is a delta.
"""
from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np
from scipy import special, stats

from ..core.checks import check_sample_size

__all__ = [
    "transition_matrix", "absorption_probabilities", "mean_absorption_time",
    "mean_loss_time", "loss_probability_by", "absorption_probability_by",
    "generations_to_absorb", "diffusion_absorption_time", "diffusion_loss_time",
    "compositions", "multistate_transition_matrix", "multistate_absorbed_by",
    "multistate_absorption_probabilities", "galton_watson_loss_probability_by",
    "galton_watson_median_loss_time", "quantile_generation", "gini_simpson_mean",
]


# --------------------------------------------------------------------------- two states
@lru_cache(maxsize=32)
def _transition_matrix(sample_size: int) -> np.ndarray:
    states = np.arange(sample_size + 1)
    matrix = stats.binom.pmf(states[None, :], sample_size, states[:, None] / sample_size)
    matrix.setflags(write=False)
    return matrix


def transition_matrix(sample_size: int) -> np.ndarray:
    """Two-state Wright–Fisher transition matrix, shape (M+1, M+1).

    Entry [i, j] = P(X_{n+1} = j | X_n = i) = Binomial(M, i/M) pmf at j: the chance that a
    state held by i of the M training points is held by j points of the next sample.
    """
    return _transition_matrix(check_sample_size(sample_size, "sample_size"))


def _fundamental(sample_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, R): the fundamental matrix N = (I - Q)^-1 over the transient states 1..M-1 and the
    transient -> absorbing block R (columns: loss X=0, fixation X=M)."""
    matrix = transition_matrix(sample_size)
    inner = slice(1, sample_size)
    q_block = matrix[inner, inner]
    fundamental = np.linalg.inv(np.eye(sample_size - 1) - q_block)
    return fundamental, matrix[inner][:, [0, sample_size]]


def absorption_probabilities(sample_size: int) -> np.ndarray:
    """P(absorbed at loss / fixation | X_0 = i), shape (M+1, 2), from B = N R.

    The paper's claim: P(fixation | i) = i/M = q (each probability is a martingale).
    """
    sample_size = check_sample_size(sample_size, "sample_size")
    fundamental, absorbing = _fundamental(sample_size)
    result = np.zeros((sample_size + 1, 2))
    result[0, 0] = result[sample_size, 1] = 1.0
    result[1:sample_size] = fundamental @ absorbing
    return result


def mean_absorption_time(sample_size: int) -> np.ndarray:
    """Exact E[T | X_0 = i] for i = 0..M, shape (M+1,): T = first generation with a delta model
    (X_T in {0, M}); t = N 1 over the transient states, 0 at the two absorbing ends."""
    sample_size = check_sample_size(sample_size, "sample_size")
    fundamental, _ = _fundamental(sample_size)
    times = np.zeros(sample_size + 1)
    times[1:sample_size] = fundamental.sum(axis=1)
    return times


def mean_loss_time(sample_size: int) -> np.ndarray:
    """Exact E[T | X_0 = i, the state is lost] for i = 0..M-1, shape (M,).

    E[T; loss] = sum_j N_ij b_j with b_j = P(loss | j), divided by b_i.
    """
    sample_size = check_sample_size(sample_size, "sample_size")
    fundamental, absorbing = _fundamental(sample_size)
    loss = fundamental @ absorbing[:, 0]
    times = np.zeros(sample_size)
    times[1:] = (fundamental @ loss) / loss
    return times


def loss_probability_by(sample_size: int, counts, n_generations: int) -> np.ndarray:
    """P(X_n = 0 | X_0 = c): the chance a state with original count c is lost by generation n,
    shape (n_generations + 1, len(counts)). Exact: row n is (P^n e_0)[c]."""
    sample_size = check_sample_size(sample_size, "sample_size")
    counts = _check_counts(counts, sample_size)
    matrix = transition_matrix(sample_size)
    column = np.zeros(sample_size + 1)
    column[0] = 1.0
    rows = [column[counts]]
    for _ in range(n_generations):
        column = matrix @ column
        rows.append(column[counts])
    return np.array(rows)


def absorption_probability_by(sample_size: int, counts, n_generations: int) -> np.ndarray:
    """P(T <= n | X_0 = c), shape (n_generations + 1, len(counts)); exact (two states)."""
    sample_size = check_sample_size(sample_size, "sample_size")
    counts = _check_counts(counts, sample_size)
    matrix = transition_matrix(sample_size)
    column = np.zeros(sample_size + 1)
    column[[0, sample_size]] = 1.0
    rows = [column[counts]]
    for _ in range(n_generations):
        column = matrix @ column
        rows.append(column[counts])
    return np.array(rows)


def generations_to_absorb(sample_size: int, tail: float = 1e-6, limit: int = 100_000) -> int:
    """Smallest G with P(T > G | X_0 = i) <= tail for every start i (exact, two states)."""
    sample_size = check_sample_size(sample_size, "sample_size")
    matrix = transition_matrix(sample_size)
    column = np.zeros(sample_size + 1)
    column[[0, sample_size]] = 1.0
    for generation in range(1, limit + 1):
        column = matrix @ column
        if 1.0 - column.min() <= tail:
            return generation
    raise ValueError(f"chains of sample_size {sample_size} not absorbed within {limit} "
                     f"generations at tail {tail}")


def diffusion_absorption_time(p, sample_size: int) -> np.ndarray:
    """Diffusion approximation of the mean absorption time, -2M[p ln p + (1-p) ln(1-p)]."""
    p = np.asarray(p, dtype=float)
    return 2.0 * sample_size * (special.entr(p) + special.entr(1.0 - p))


def diffusion_loss_time(p, sample_size: int) -> np.ndarray:
    """Diffusion approximation of the mean time to loss given loss, -2M p ln p / (1 - p)."""
    p = np.asarray(p, dtype=float)
    return 2.0 * sample_size * special.entr(p) / (1.0 - p)


def _check_counts(counts, sample_size: int) -> np.ndarray:
    counts = np.atleast_1d(np.asarray(counts))
    if not np.issubdtype(counts.dtype, np.integer) or counts.min() < 0 \
            or counts.max() > sample_size:
        raise ValueError(f"counts must be integers in [0, {sample_size}], got {counts!r}")
    return counts.astype(int)


# --------------------------------------------------------------------------- K states
@lru_cache(maxsize=8)
def compositions(sample_size: int, n_states: int) -> np.ndarray:
    """Every count vector of M points over K states, shape (C(M+K-1, K-1), K) (stars and bars).
    The K delta states come first."""
    sample_size = check_sample_size(sample_size, "sample_size")
    n_states = check_sample_size(n_states, "n_states")
    rows = []
    for bars in itertools.combinations(range(sample_size + n_states - 1), n_states - 1):
        edges = np.array((-1,) + bars + (sample_size + n_states - 1,))
        rows.append(np.diff(edges) - 1)
    table = np.array(rows)
    is_delta = table.max(axis=1) == sample_size
    table = np.concatenate([table[is_delta], table[~is_delta]])
    table.setflags(write=False)
    return table


def multistate_transition_matrix(sample_size: int, n_states: int,
                                 max_states: int = 5000) -> np.ndarray:
    """Exact K-state transition matrix over :func:`compositions`: Multinomial(M, x/M) pmf.

    Shape (S, S), S = C(M+K-1, K-1); refuses S > ``max_states`` (memory grows as S^2).
    """
    table = compositions(sample_size, n_states)
    if len(table) > max_states:
        raise ValueError(f"{len(table)} count vectors for sample_size={sample_size}, "
                         f"n_states={n_states}: more than max_states={max_states}")
    with np.errstate(divide="ignore"):
        log_p = np.log(table / sample_size)
    log_p[~np.isfinite(log_p)] = -1e6  # a state with p = 0 cannot be drawn: exp(-1e6) = 0
    # log_pmf[a, b]: log P(next counts = composition b | counts = composition a)
    log_pmf = (special.gammaln(sample_size + 1)
               - special.gammaln(table + 1).sum(axis=1)[None, :]
               + log_p @ table.T.astype(float))
    matrix = np.exp(log_pmf)
    return matrix / matrix.sum(axis=1, keepdims=True)


def _composition_index(counts: np.ndarray) -> int:
    table = compositions(int(counts.sum()), len(counts))
    matches = np.flatnonzero((table == counts).all(axis=1))
    return int(matches[0])


def multistate_absorbed_by(counts, n_generations: int) -> np.ndarray:
    """P(the K-state chain started at ``counts`` is a delta by generation n), n = 0..G; exact."""
    counts = np.asarray(counts, dtype=int)
    sample_size, n_states = int(counts.sum()), len(counts)
    matrix = multistate_transition_matrix(sample_size, n_states)
    distribution = np.zeros(len(matrix))
    distribution[_composition_index(counts)] = 1.0
    absorbed = [distribution[:n_states].sum()]
    for _ in range(n_generations):
        distribution = distribution @ matrix
        absorbed.append(distribution[:n_states].sum())
    return np.array(absorbed)


def multistate_absorption_probabilities(counts) -> np.ndarray:
    """P(absorbed in the delta on state k | X_0 = counts), shape (K,); exact, via B = N R.
    The paper's claim is that this equals counts / M."""
    counts = np.asarray(counts, dtype=int)
    sample_size, n_states = int(counts.sum()), len(counts)
    matrix = multistate_transition_matrix(sample_size, n_states)
    start = _composition_index(counts)
    if start < n_states:
        return (np.arange(n_states) == start).astype(float)
    transient = slice(n_states, None)
    q_block, r_block = matrix[transient, transient], matrix[transient, :n_states]
    row = np.linalg.solve((np.eye(len(q_block)) - q_block).T,
                          np.eye(len(q_block))[start - n_states])
    deltas = compositions(sample_size, n_states)[:n_states].argmax(axis=1)
    result = np.zeros(n_states)
    result[deltas] = row @ r_block
    return result


# --------------------------------------------------------------------------- M -> infinity
def galton_watson_loss_probability_by(counts, n_generations: int) -> np.ndarray:
    """f_n(0)^c, shape (n_generations + 1, len(counts)): the M -> infinity limit of
    :func:`loss_probability_by` at fixed count c (Poisson(1) offspring, f(s) = exp(s - 1))."""
    counts = np.atleast_1d(np.asarray(counts, dtype=float))
    extinct = np.zeros(n_generations + 1)
    for generation in range(1, n_generations + 1):
        extinct[generation] = np.exp(extinct[generation - 1] - 1.0)
    with np.errstate(divide="ignore"):
        return np.exp(np.log(extinct)[:, None] * counts[None, :])


def quantile_generation(cumulative: np.ndarray, level: float) -> np.ndarray:
    """First generation n with cumulative[n] >= level for each column (NaN if never):
    a quantile of the loss or absorption time from its exact CDF, shape (columns,)."""
    cumulative = np.asarray(cumulative)
    reached = cumulative >= level
    first = reached.argmax(axis=0).astype(float)
    first[~reached.any(axis=0)] = np.nan
    return first


def galton_watson_median_loss_time(counts, n_generations: int = 100_000) -> np.ndarray:
    """Median generation of loss of a state with original count c as M -> infinity;
    ~ 2c / ln 2 for large c (1 - f_n(0) ~ 2/n): linear in c."""
    counts = np.atleast_1d(np.asarray(counts, dtype=float))
    horizon = int(min(n_generations, max(10, 4 * counts.max() + 10)))
    return quantile_generation(galton_watson_loss_probability_by(counts, horizon), 0.5)


# --------------------------------------------------------------------------- diversity
def gini_simpson_mean(initial, sample_size: int, n_generations: int) -> np.ndarray:
    """E[1 - sum_k p_{n,k}^2] = (1 - sum_k q_k^2)(1 - 1/M)^n, n = 0..G: the exact decay of the
    Gini–Simpson index (population genetics' heterozygosity) under refitting."""
    sample_size = check_sample_size(sample_size, "sample_size")
    initial = np.asarray(initial, dtype=float)
    return initial * (1.0 - 1.0 / sample_size) ** np.arange(n_generations + 1)
