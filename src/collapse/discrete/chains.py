"""The simulated chains of the discrete chapter (book/discrete.md): categorical models refitted
exactly to samples of themselves, many chains at once, through the shared loop
:func:`collapse.core.loop.run_generations` (:func:`run_chains`).

Absorption of small distributions (which delta, and when), two-state absorption and loss
times against the exact Wright–Fisher values, and the tail of a Zipf distribution (which
states are lost, and when). The real-text experiment is in :mod:`.words`.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Mapping, Sequence

import numpy as np
from scipy import stats

from ..core.checks import check_fraction, check_sample_size
from ..core.loop import FirstGeneration, Fold, History, run_generations
from ..core.policies import policy_from_name
from ..core.stats import spearman
from . import wright_fisher
from .family import (Categorical, check_counts, counts_from_probabilities, entropy,
                     gini_simpson, is_absorbed, is_lost, leading_state, replicate,
                     support_size, zipf_probabilities)

__all__ = [
    "run_chains", "chain_count", "chain_generations_per_second", "AbsorptionResult",
    "absorption_experiment", "absorption_summary", "absorption_time_ks", "AbsorptionTimes",
    "absorption_time_experiment", "diffusion_errors", "ZipfResult", "zipf_experiment",
    "loss_time_quantiles_by_count", "zipf_loss_order",
]


# --------------------------------------------------------------------------- running chains
def run_chains(initial_counts: np.ndarray, n_generations: int, rng: np.random.Generator,
               metrics: Mapping[str, Callable], policy: str = "replace",
               fraction: float | None = None, folds: Mapping[str, Fold] | None = None,
               sample_size: int | None = None) -> History:
    """Run chains from ``initial_counts`` (n_chains, K) — the real data, every row summing to
    M — through :func:`collapse.core.loop.run_generations` under ``policy`` (``sample_size``:
    the policy's M, required by `growing` as its M₀; default the real data's M)."""
    initial_counts = np.asarray(initial_counts, dtype=np.int64)
    if initial_counts.ndim != 2:
        raise ValueError(f"initial_counts must have shape (n_chains, K), got "
                         f"{initial_counts.shape}")
    check_sample_size(int(initial_counts.sum(axis=1).min()), "sample_size")
    chosen = policy_from_name(policy, fraction=fraction, sample_size=sample_size)
    return run_generations(Categorical(), initial_counts, chosen, n_generations, rng, metrics,
                           folds=folds)


def chain_count(history: History) -> int:
    """Number of chains a call of the loop ran (the leading axis of every metric row)."""
    return len(next(iter(history.metrics.values()))[0])


def chain_generations_per_second(history: History) -> float:
    """Speed of one call of the loop: chains × generations / wall seconds."""
    return chain_count(history) * history.n_generations / max(history.seconds, 1e-9)


# --------------------------------------------------------------------------- absorption
@dataclasses.dataclass
class AbsorptionResult:
    """Chains of one small distribution run until (almost) all are absorbed: the loop's
    ``history`` and ``exact_absorbed`` (G+1,), P(absorbed by n) from the exact K-state
    transition matrix."""

    name: str
    counts: np.ndarray
    exact_absorbed: np.ndarray
    history: History

    @property
    def absorbed(self) -> np.ndarray:
        """(G+1, n_chains) bool: the chain's model is a delta."""
        return self.history["absorbed"]

    @property
    def final_state(self) -> np.ndarray:
        """(n_chains,): the leading (absorbing, once absorbed) state at the last generation."""
        return self.history["state"][-1]

    @property
    def sample_size(self) -> int:
        return int(self.counts.sum())

    @property
    def q(self) -> np.ndarray:
        return self.counts / self.counts.sum()


def absorption_experiment(name: str, counts, n_chains: int, n_generations: int,
                          rng: np.random.Generator, policy: str = "replace") -> AbsorptionResult:
    """``n_chains`` chains from the real data ``counts`` (K,) — M = counts.sum() points,
    q = counts / M — under ``policy`` (the paper's `replace` by default): which delta each
    chain ends in, and when (``exact_absorbed`` is the `replace` theory whatever the policy)."""
    counts = check_counts(counts)
    history = run_chains(replicate(counts, n_chains), n_generations, rng,
                         {"absorbed": is_absorbed, "state": leading_state}, policy=policy)
    exact = wright_fisher.multistate_absorbed_by(counts, n_generations)
    return AbsorptionResult(name, counts, exact, history)


def absorption_summary(result: AbsorptionResult) -> dict[str, np.ndarray]:
    """Empirical absorption distribution among absorbed chains against q, per state:
    frequency, its binomial standard error sqrt(q(1-q)/n), z = (freq - q)/se, and a 95%
    Wilson interval (all NaN when no chain was absorbed)."""
    absorbed = result.absorbed[-1]
    finals = result.final_state[absorbed]
    n = len(finals)
    hits = np.bincount(finals, minlength=len(result.counts))
    q = result.q
    if n == 0:
        nan = np.full(len(q), np.nan)
        return {"q": q, "frequency": nan, "se": nan, "z": nan, "ci_low": nan, "ci_high": nan,
                "n_absorbed": 0, "absorbed_share": 0.0}
    frequency = hits / n
    se = np.sqrt(q * (1 - q) / n)
    low, high = np.transpose([stats.binomtest(int(k), n).proportion_ci(0.95, "wilson")
                              for k in hits])
    return {"q": q, "frequency": frequency, "se": se, "z": (frequency - q) / se,
            "ci_low": low, "ci_high": high, "n_absorbed": n,
            "absorbed_share": absorbed.mean()}


def absorption_time_ks(result: AbsorptionResult, exact: np.ndarray | None = None
                       ) -> tuple[float, float]:
    """Kolmogorov–Smirnov comparison of the simulated absorption-time distribution with the
    exact one: (D = max_n |share absorbed by n − exact P(T <= n)|, p-value of D for
    n_chains draws). ``exact`` defaults to the result's own transition-matrix curve. For a
    discrete T the p-value is conservative (too large), so a small one is strong evidence."""
    exact = result.exact_absorbed if exact is None else np.asarray(exact)
    n_chains = result.absorbed.shape[1]
    distance = float(np.abs(result.absorbed.mean(axis=1) - exact).max())
    return distance, float(stats.kstwo.sf(distance, n_chains))


# --------------------------------------------------------------------------- absorption times
@dataclasses.dataclass
class AbsorptionTimes:
    """Two-state absorption and loss times for one M and several starting counts c of the
    tracked state (the other state holds M - c).

    Per start (arrays of shape (n_starts,)): the simulated mean absorption time and its
    standard error, the exact mean from the transition matrix and the diffusion value; the
    same for the time to loss of the tracked state among chains that lost it
    (``loss_*``); the number of chains still unabsorbed at the horizon (counted as absorbed
    there)."""

    sample_size: int
    starts: np.ndarray
    mean: np.ndarray
    standard_error: np.ndarray
    exact: np.ndarray
    diffusion: np.ndarray
    loss_mean: np.ndarray
    loss_standard_error: np.ndarray
    loss_exact: np.ndarray
    loss_diffusion: np.ndarray
    censored: np.ndarray
    history: History

    @property
    def n_generations(self) -> int:
        """The horizon G every chain ran to."""
        return self.history.n_generations

    @property
    def chains_per_start(self) -> int:
        return self.history["absorbed"].shape[1] // len(self.starts)

    @property
    def p(self) -> np.ndarray:
        return self.starts / self.sample_size

    @property
    def z(self) -> np.ndarray:
        """(simulated - exact) mean absorption time in standard errors, shape (n_starts,)."""
        return (self.mean - self.exact) / self.standard_error

    @property
    def loss_z(self) -> np.ndarray:
        """(simulated - exact) mean time to loss given loss in standard errors."""
        return (self.loss_mean - self.loss_exact) / self.loss_standard_error


def absorption_time_experiment(sample_size: int, start_fractions: Sequence[float],
                               chains_per_start: int, rng: np.random.Generator,
                               tail: float = 1e-5) -> AbsorptionTimes:
    """Generation of absorption (and of loss of the tracked state) of two-state chains started
    at counts c = round(p·M) (clipped to 1..M-1; duplicates merged).

    All starts run as one batch of chains (rows of the real data differ). The horizon is the
    first generation where the exact P(T > G) <= ``tail`` for every start, so censoring
    biases a mean by about tail·G at most — far below its standard error."""
    sample_size = check_sample_size(sample_size, "sample_size")
    chains_per_start = check_sample_size(chains_per_start, "chains_per_start")
    fractions = np.array([check_fraction(p, "start_fraction") for p in start_fractions])
    starts = np.unique(np.clip(np.round(fractions * sample_size), 1, sample_size - 1)
                       ).astype(np.int64)
    start_of_chain = np.repeat(starts, chains_per_start)
    initial = np.stack([start_of_chain, sample_size - start_of_chain], axis=1)
    horizon = wright_fisher.generations_to_absorb(sample_size, tail)
    history = run_chains(initial, horizon, rng, {"absorbed": is_absorbed, "state": leading_state})
    absorbed = history["absorbed"]  # (G+1, chains)
    ever = absorbed[-1]
    shape = (len(starts), chains_per_start)
    times = np.where(ever, absorbed.argmax(axis=0), horizon).reshape(shape)
    lost = (ever & (history["state"][-1] == 1)).reshape(shape)
    loss_times = np.where(lost, times, np.nan)
    n_lost = lost.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        loss_mean = np.nanmean(loss_times, axis=1)
        loss_se = np.nanstd(loss_times, axis=1, ddof=1) / np.sqrt(n_lost)
    p = starts / sample_size
    return AbsorptionTimes(
        sample_size, starts, times.mean(axis=1),
        times.std(axis=1, ddof=1) / np.sqrt(chains_per_start),
        wright_fisher.mean_absorption_time(sample_size)[starts],
        wright_fisher.diffusion_absorption_time(p, sample_size),
        loss_mean, loss_se, wright_fisher.mean_loss_time(sample_size)[starts],
        wright_fisher.diffusion_loss_time(p, sample_size),
        (~ever).reshape(shape).sum(axis=1), history)


def diffusion_errors(sample_sizes: Sequence[int], largest: int = 20) -> dict[int, float]:
    """Relative error of the diffusion mean absorption time at p = 1/2 against the exact one,
    diffusion/exact − 1, for the even M ≤ ``largest`` among ``sample_sizes`` (exact
    arithmetic)."""
    errors = {}
    for M in sample_sizes:
        if M % 2 == 0 and M <= largest:
            errors[M] = float(wright_fisher.diffusion_absorption_time(0.5, M)
                              / wright_fisher.mean_absorption_time(M)[M // 2] - 1)
    return errors


# --------------------------------------------------------------------------- Zipf tail
@dataclasses.dataclass
class ZipfResult:
    """Chains from a Zipf distribution: the loop's ``history`` (metrics support, entropy,
    gini_simpson of shape (G+1, n_chains); fold first_loss (n_chains, K)) and exact curves
    from the transition matrix (two-state marginals): ``exact_loss_by`` (G+1, K),
    ``exact_support`` and ``exact_gini_simpson`` (G+1,) are means over chains."""

    counts: np.ndarray
    exact_loss_by: np.ndarray
    exact_support: np.ndarray
    exact_gini_simpson: np.ndarray
    history: History

    @property
    def sample_size(self) -> int:
        return int(self.counts.sum())


def zipf_experiment(n_states: int, sample_size: int, n_chains: int, n_generations: int,
                    rng: np.random.Generator, exponent: float = 1.0,
                    policy: str = "replace") -> ZipfResult:
    """Chains from a Zipf(``exponent``) distribution over ``n_states`` states under ``policy``
    (the paper's `replace` by default; the exact curves are the `replace` theory)."""
    counts = counts_from_probabilities(zipf_probabilities(n_states, exponent), sample_size)
    history = run_chains(replicate(counts, n_chains), n_generations, rng,
                         {"support": support_size, "entropy": entropy,
                          "gini_simpson": gini_simpson}, policy=policy,
                         folds={"first_loss": FirstGeneration(is_lost)})
    loss_by = wright_fisher.loss_probability_by(sample_size, counts, n_generations)
    q = counts / sample_size
    return ZipfResult(counts, loss_by, (1.0 - loss_by).sum(axis=1),
                      wright_fisher.gini_simpson_mean(1.0 - (q ** 2).sum(), sample_size,
                                                      n_generations), history)


def loss_time_quantiles_by_count(first_loss: np.ndarray, counts: np.ndarray,
                                 n_generations: int,
                                 levels: Sequence[float] = (0.1, 0.5, 0.9)
                                 ) -> tuple[np.ndarray, np.ndarray]:
    """Quantiles of the generation of loss of states with the same original count, pooled
    over chains and states: (distinct counts (C,), quantiles (len(levels), C)). A quantile is
    NaN when fewer than that share of the pooled states were lost by the horizon (censored)."""
    counts = np.asarray(counts)
    distinct = np.unique(counts)
    lost = np.where(first_loss >= 0, first_loss, n_generations + 1)  # never lost: beyond G
    result = np.full((len(levels), len(distinct)), np.nan)
    for column, count in enumerate(distinct):
        times = np.sort(lost[:, counts == count].ravel())
        for row, level in enumerate(levels):
            value = times[min(int(np.ceil(level * len(times))) - 1, len(times) - 1)]
            result[row, column] = value if value <= n_generations else np.nan
    return distinct, result


def zipf_loss_order(zipf: ZipfResult) -> tuple[np.ndarray, np.ndarray, float]:
    """(distinct counts, loss-time quantiles (3, C), Spearman ρ of the original count against
    the median generation of loss of each state, censored medians ranked beyond G)."""
    horizon = zipf.history.n_generations
    distinct, quantiles = loss_time_quantiles_by_count(zipf.history.folds["first_loss"],
                                                       zipf.counts, horizon)
    median_by_state = quantiles[1][np.searchsorted(distinct, zipf.counts)]
    rho = spearman(zipf.counts, np.nan_to_num(median_by_state, nan=horizon + 1))
    return distinct, quantiles, rho
