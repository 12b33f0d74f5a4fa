"""Discrete distributions refitted exactly to samples of themselves (PAPER.md, Theory 1).

A categorical model fitted by its empirical frequencies to M points, sampled M times, refitted:
the count vector is a Markov chain (neutral Wright–Fisher drift, see
:mod:`collapse.wright_fisher`) absorbed in a delta function with probability 1, and the chance
of ending on state k is its original probability q_k. This module runs thousands of such
chains at once through the shared loop :func:`collapse.loop.run_generations`:

* data are *count vectors* with a leading chain axis, shape (n_chains, K) — a dataset of M
  points over K states, one per chain (:class:`CountData`): pooling for `accumulate` sums
  counts, taking n points without replacement is a multivariate hypergeometric draw;
* the model is the frequency vector, shape (n_chains, K) (:class:`Categorical`); generating
  n points is one multinomial draw per chain, vectorised across chains by numpy.

Experiments: absorption of small distributions, two-state absorption times, a Zipf
distribution's tail, and the unigram (word) distribution of WikiText-2's validation split.
Tokenisation of real text: whitespace-separated tokens of the raw file, case kept (``The`` and
``the`` are different types), punctuation and WikiText's ``@-@`` / ``=`` markers included.
"""
from __future__ import annotations

import dataclasses
import time
from collections import Counter
from typing import Callable, Mapping, Sequence

import numpy as np
from scipy import special, stats

from . import wright_fisher
from .loop import (GenerationContext, History, check_fraction, check_sample_size,
                   policy_from_name, run_generations)

__all__ = [
    "COUNT_BUCKETS", "check_probabilities", "check_counts", "counts_from_probabilities", "zipf_probabilities",
    "replicate", "CountData", "Categorical", "is_absorbed", "leading_state", "support_size",
    "entropy", "gini_simpson", "TotalVariationTo", "LossTracker", "WordSurvival",
    "ChainRun", "run_chains", "AbsorptionResult", "absorption_experiment",
    "absorption_summary", "absorption_time_ks", "AbsorptionTimes", "absorption_time_experiment", "ZipfResult",
    "zipf_experiment", "word_counts", "wikitext_word_counts", "bucket_of", "WikitextRun",
    "wikitext_experiment", "loss_time_quantiles_by_count", "ForgettingTimes",
    "forgetting_times", "loglog_slope",
    "bucket_summary_markdown", "lost_words_markdown", "policy_label", "compare_policies",
    "policy_summary_markdown", "speed_table_markdown",
]

# original-count buckets for word types: (label, lowest count, highest count or None)
COUNT_BUCKETS = (("1", 1, 1), ("2–5", 2, 5), ("6–20", 6, 20), ("21–100", 21, 100),
                 (">100", 101, None))


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
    weights = np.arange(1, n_states + 1, dtype=float) ** -float(exponent)
    return weights / weights.sum()


def replicate(counts, n_chains: int) -> np.ndarray:
    """The same count vector for ``n_chains`` chains, shape (n_chains, K)."""
    n_chains = check_sample_size(n_chains, "n_chains", minimum=1)
    counts = np.asarray(counts, dtype=np.int64)
    if counts.ndim != 1:
        raise ValueError(f"counts must be 1-D (one count per state), got shape {counts.shape}")
    return np.tile(counts, (n_chains, 1))


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


class TotalVariationTo:
    """Total-variation distance of each chain's model to a reference distribution q."""

    def __init__(self, reference):
        self.reference = np.asarray(reference, dtype=float)

    def __call__(self, model, data, generation) -> np.ndarray:
        return 0.5 * np.abs(np.asarray(model) - self.reference).sum(axis=-1)


class LossTracker:
    """Records, per chain and state, the first generation whose model gives the state zero
    probability (``first_loss``, shape (n_chains, K); -1 = never lost). As a metric it returns
    the number of states alive, shape (n_chains,)."""

    def __init__(self, n_chains: int, n_states: int):
        self.first_loss = np.full((n_chains, n_states), -1, dtype=np.int32)

    def __call__(self, model, data, generation) -> np.ndarray:
        alive = np.asarray(model) > 0
        newly_lost = ~alive & (self.first_loss < 0)
        self.first_loss[newly_lost] = generation
        return alive.sum(axis=-1)


class WordSurvival(LossTracker):
    """:class:`LossTracker` that returns, instead of the number alive, the share of each
    original-count bucket's states alive in each chain's model, plus the share of all states
    (last column): shape (n_chains, n_buckets + 1). One pass over the alive mask."""

    def __init__(self, bucket: np.ndarray, n_buckets: int, n_chains: int):
        super().__init__(n_chains, len(bucket))
        masks = np.zeros((n_buckets + 1, len(bucket)))
        masks[bucket, np.arange(len(bucket))] = 1.0
        masks[-1] = 1.0
        with np.errstate(invalid="ignore"):  # an empty bucket reports NaN
            self.weights = (masks / masks.sum(axis=1, keepdims=True)).T  # (K, n_buckets + 1)

    def __call__(self, model, data, generation) -> np.ndarray:
        alive = np.asarray(model) > 0
        self.first_loss[~alive & (self.first_loss < 0)] = generation
        return np.minimum(alive @ self.weights, 1.0)  # 1/3 + 1/3 + 1/3 may round above 1


# --------------------------------------------------------------------------- running chains
@dataclasses.dataclass
class ChainRun:
    """One call of the shared loop on ``n_chains`` chains: its history and speed."""

    history: History
    n_chains: int
    n_generations: int
    seconds: float

    @property
    def chain_generations_per_second(self) -> float:
        return self.n_chains * self.n_generations / max(self.seconds, 1e-9)


def run_chains(initial_counts: np.ndarray, n_generations: int, rng: np.random.Generator,
               metrics: Mapping[str, Callable], policy: str = "replace",
               fraction: float | None = None) -> ChainRun:
    """Run chains from ``initial_counts`` (n_chains, K) — the real data, every row summing to
    M — through :func:`collapse.loop.run_generations` under ``policy``."""
    initial_counts = np.asarray(initial_counts, dtype=np.int64)
    if initial_counts.ndim != 2:
        raise ValueError(f"initial_counts must have shape (n_chains, K), got "
                         f"{initial_counts.shape}")
    check_sample_size(int(initial_counts.sum(axis=1).min()), "sample_size")
    chosen = policy_from_name(policy, fraction=fraction)
    started = time.perf_counter()
    history = run_generations(Categorical(), initial_counts, chosen, n_generations, rng,
                              metrics)
    return ChainRun(history, len(initial_counts), n_generations, time.perf_counter() - started)


# --------------------------------------------------------------------------- absorption
@dataclasses.dataclass
class AbsorptionResult:
    """Chains of one small distribution run until (almost) all are absorbed.

    ``absorbed``: (G+1, n_chains) bool; ``final_state``: (n_chains,) the absorbing state;
    ``exact_absorbed``: (G+1,) P(absorbed by n) from the exact transition matrix."""

    name: str
    counts: np.ndarray
    absorbed: np.ndarray
    final_state: np.ndarray
    exact_absorbed: np.ndarray
    run: ChainRun

    @property
    def sample_size(self) -> int:
        return int(self.counts.sum())

    @property
    def q(self) -> np.ndarray:
        return self.counts / self.counts.sum()


def absorption_experiment(name: str, counts, n_chains: int, n_generations: int,
                          rng: np.random.Generator) -> AbsorptionResult:
    """``n_chains`` replace-chains from the real data ``counts`` (K,) — M = counts.sum() points,
    q = counts / M: which delta each chain ends in, and when."""
    counts = check_counts(counts)
    run = run_chains(replicate(counts, n_chains), n_generations, rng,
                     {"absorbed": is_absorbed, "state": leading_state})
    exact = wright_fisher.multistate_absorbed_by(counts, n_generations)
    return AbsorptionResult(name, counts, run.history["absorbed"],
                            run.history["state"][-1], exact, run)


def absorption_summary(result: AbsorptionResult) -> dict[str, np.ndarray]:
    """Empirical absorption distribution among absorbed chains against q, per state:
    frequency, its binomial standard error sqrt(q(1-q)/n), z = (freq - q)/se, and a 95%
    Wilson interval."""
    absorbed = result.absorbed[-1]
    finals = result.final_state[absorbed]
    n = len(finals)
    hits = np.bincount(finals, minlength=len(result.counts))
    frequency = hits / n
    q = result.q
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
    n_generations: int
    run: ChainRun

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
    run = run_chains(initial, horizon, rng, {"absorbed": is_absorbed, "state": leading_state})
    absorbed = run.history["absorbed"]  # (G+1, chains)
    ever = absorbed[-1]
    shape = (len(starts), chains_per_start)
    times = np.where(ever, absorbed.argmax(axis=0), horizon).reshape(shape)
    lost = (ever & (run.history["state"][-1] == 1)).reshape(shape)
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
        (~ever).reshape(shape).sum(axis=1), horizon, run)


# --------------------------------------------------------------------------- Zipf tail
@dataclasses.dataclass
class ZipfResult:
    """Chains from a Zipf distribution. Metric arrays have shape (G+1, n_chains);
    ``first_loss`` (n_chains, K); exact curves from the transition matrix (two-state
    marginals): ``exact_loss_by`` (G+1, K), ``exact_support`` and ``exact_gini_simpson``
    (G+1,) are means over chains."""

    counts: np.ndarray
    support: np.ndarray
    entropy: np.ndarray
    gini_simpson: np.ndarray
    first_loss: np.ndarray
    exact_loss_by: np.ndarray
    exact_support: np.ndarray
    exact_gini_simpson: np.ndarray
    run: ChainRun

    @property
    def sample_size(self) -> int:
        return int(self.counts.sum())


def zipf_experiment(n_states: int, sample_size: int, n_chains: int, n_generations: int,
                    rng: np.random.Generator, exponent: float = 1.0) -> ZipfResult:
    """Replace-chains from a Zipf(``exponent``) distribution over ``n_states`` states."""
    counts = counts_from_probabilities(zipf_probabilities(n_states, exponent), sample_size)
    tracker = LossTracker(n_chains, n_states)
    run = run_chains(replicate(counts, n_chains), n_generations, rng,
                     {"support": tracker, "entropy": entropy, "gini_simpson": gini_simpson})
    loss_by = wright_fisher.loss_probability_by(sample_size, counts, n_generations)
    q = counts / sample_size
    return ZipfResult(counts, run.history["support"], run.history["entropy"],
                      run.history["gini_simpson"], tracker.first_loss, loss_by,
                      (1.0 - loss_by).sum(axis=1),
                      wright_fisher.gini_simpson_mean(1.0 - (q ** 2).sum(), sample_size,
                                                      n_generations), run)


# --------------------------------------------------------------------------- real text
def word_counts(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(types, counts) of the whitespace tokens of ``text`` (case kept), sorted by decreasing
    count then alphabetically; shapes (K,), (K,)."""
    counted = Counter(text.split())
    if len(counted) < 2:
        raise ValueError(f"text must hold at least 2 distinct tokens, got {len(counted)}")
    ordered = sorted(counted.items(), key=lambda item: (-item[1], item[0]))
    return (np.array([word for word, _ in ordered], dtype=object),
            np.array([count for _, count in ordered], dtype=np.int64))


def wikitext_word_counts(split: str = "validation") -> tuple[np.ndarray, np.ndarray]:
    """Word types and counts of WikiText-2 raw ``split`` (sha256-verified by
    :func:`collapse.data.read_wikitext`; DataError when missing or corrupt)."""
    from .data import read_wikitext
    return word_counts(read_wikitext(split))


def bucket_of(counts) -> np.ndarray:
    """Index into :data:`COUNT_BUCKETS` of each original count, shape like ``counts``."""
    counts = np.asarray(counts)
    if counts.min() < 1:
        raise ValueError("original counts must be >= 1 to fall in a count bucket")
    edges = [low for _, low, _ in COUNT_BUCKETS[1:]]
    return np.searchsorted(edges, counts, side="right")


@dataclasses.dataclass
class WikitextRun:
    """Chains refitted to corpus-sized samples of a word distribution under one policy.

    ``alive_share``: (G+1, n_chains, n_buckets + 1) share of each count bucket's types (last:
    all types) alive in the model; ``entropy`` (bits) and ``total_variation`` (to the real
    unigram distribution): (G+1, n_chains); ``first_loss``: (n_chains, K)."""

    policy: str
    alive_share: np.ndarray
    entropy: np.ndarray
    total_variation: np.ndarray
    first_loss: np.ndarray
    run: ChainRun


def wikitext_experiment(counts: np.ndarray, policy: str, n_chains: int, n_generations: int,
                        rng: np.random.Generator, fraction: float | None = None
                        ) -> WikitextRun:
    """Refit the unigram distribution of ``counts`` (K,) each generation on M = counts.sum()
    tokens drawn as ``policy`` says ("replace", "accumulate", "accumulate_subsample",
    "mix_real" with ``fraction``), for ``n_chains`` independent chains."""
    counts = check_counts(counts)
    survival = WordSurvival(bucket_of(counts), len(COUNT_BUCKETS), n_chains)
    metrics = {"alive_share": survival, "entropy": entropy,
               "total_variation": TotalVariationTo(counts / counts.sum())}
    run = run_chains(replicate(counts, n_chains), n_generations, rng, metrics, policy,
                     fraction)
    history = run.history
    return WikitextRun(history.policy, history["alive_share"], history["entropy"],
                       history["total_variation"], survival.first_loss, run)


# --------------------------------------------------------------------------- summaries
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


@dataclasses.dataclass
class ForgettingTimes:
    """Median generation of loss per distinct original count (pooled over types and chains).

    ``reliable`` marks counts whose median is not biased by the finite run: the Galton–Watson
    probability of loss within the run is >= ``min_loss_probability`` and at least
    ``min_samples`` (type, chain) pairs share the count. ``slope`` is the log-log slope of the
    median against the count over the reliable counts (Suresh et al.: about 1)."""

    counts: np.ndarray
    quantiles: np.ndarray  # (3, C): 10%, 50%, 90%
    samples: np.ndarray
    reliable: np.ndarray
    slope: float


def forgetting_times(first_loss: np.ndarray, counts: np.ndarray, n_generations: int,
                     min_loss_probability: float = 0.75, min_samples: int = 40
                     ) -> ForgettingTimes:
    """:class:`ForgettingTimes` of a run's ``first_loss`` (n_chains, K)."""
    distinct, quantiles = loss_time_quantiles_by_count(first_loss, counts, n_generations)
    samples = np.array([np.sum(counts == count) for count in distinct]) * first_loss.shape[0]
    lost_by_end = wright_fisher.galton_watson_loss_probability_by(distinct, n_generations)[-1]
    reliable = ((lost_by_end >= min_loss_probability) & (samples >= min_samples)
                & np.isfinite(quantiles[1]))
    slope = loglog_slope(distinct[reliable], quantiles[1][reliable])
    return ForgettingTimes(distinct, quantiles, samples, reliable, slope)


def loglog_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of log y against log x over the finite, positive pairs."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])


def _code(word: str) -> str:
    """A word as a Markdown code span safe inside a table cell."""
    return "`" + str(word).replace("`", "'").replace("|", "¦") + "`"


def bucket_summary_markdown(run: WikitextRun, counts: np.ndarray,
                            checkpoints: Sequence[int]) -> str:
    """Markdown table per count bucket: types, median share alive at ``checkpoints`` (over
    chains), pooled median generation of loss (censored -> '> G')."""
    bucket = bucket_of(counts)
    horizon = run.alive_share.shape[0] - 1
    head = (["original count", "types"] + [f"alive at gen {g}" for g in checkpoints]
            + ["median loss generation"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for index, (label, _, _) in enumerate(COUNT_BUCKETS):
        members = bucket == index
        lost = np.where(run.first_loss[:, members] >= 0, run.first_loss[:, members],
                        horizon + 1).ravel()
        median = np.sort(lost)[int(np.ceil(0.5 * len(lost))) - 1]
        cells = [label, f"{members.sum():,}"]
        cells += [f"{np.median(run.alive_share[g, :, index]):.1%}" for g in checkpoints]
        cells.append(str(median) if median <= horizon else f"> {horizon}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def lost_words_markdown(run: WikitextRun, words: np.ndarray, counts: np.ndarray,
                        chain: int = 0, per_bucket: int = 5) -> str:
    """Markdown table of which words chain ``chain`` lost first in each count bucket, and the
    most frequent words it lost by the last generation."""
    bucket = bucket_of(counts)
    horizon = run.alive_share.shape[0] - 1
    first_loss = run.first_loss[chain]
    lines = ["| original count | lost first (generation) | highest original count among the "
             f"words lost by generation {horizon} (count) |", "|---|---|---|"]
    for index, (label, _, _) in enumerate(COUNT_BUCKETS):
        members = np.flatnonzero((bucket == index) & (first_loss >= 0))
        earliest = members[np.argsort(first_loss[members], kind="stable")][:per_bucket]
        frequent = members[:per_bucket]  # types are sorted by decreasing original count
        first = ", ".join(f"{_code(words[k])} ({first_loss[k]})" for k in earliest) or "—"
        top = ", ".join(f"{_code(words[k])} ({counts[k]})" for k in frequent) or "—"
        lines.append(f"| {label} | {first} | {top} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- what stops it
def policy_label(policy: str, fraction: float | None = None) -> str:
    """The label a policy carries in histories and figures, e.g. ``mix_real(0.1)``."""
    return policy_from_name(policy, fraction=fraction).label()


def compare_policies(counts: np.ndarray, n_chains: int, n_generations: int,
                     seed: np.random.SeedSequence, mix_fraction: float,
                     done: Mapping[str, WikitextRun] | None = None
                     ) -> dict[str, WikitextRun]:
    """The word-distribution experiment under replace, accumulate, accumulate_subsample and
    mix_real(``mix_fraction``), each with its own random stream spawned from ``seed``; runs in
    ``done`` (label -> run of the same size) are reused instead of rerun."""
    policies = [("replace", None), ("accumulate", None), ("accumulate_subsample", None),
                ("mix_real", mix_fraction)]
    streams = seed.spawn(len(policies))
    runs = {}
    for (policy, fraction), stream in zip(policies, streams):
        label = policy_label(policy, fraction)
        previous = (done or {}).get(label)
        if previous is not None and previous.alive_share.shape[:2] == (n_generations + 1,
                                                                         n_chains):
            runs[label] = previous
            continue
        runs[label] = wikitext_experiment(counts, policy, n_chains, n_generations,
                                          np.random.default_rng(stream), fraction)
    return runs


def policy_summary_markdown(runs: Mapping[str, WikitextRun]) -> str:
    """Markdown table: per policy, the median (over chains) share of each count bucket's types
    alive at the last generation, the entropy and the total variation to the real
    distribution there."""
    head = (["policy"] + [f"alive, count {label}" for label, _, _ in COUNT_BUCKETS]
            + ["alive, all", "entropy (bits)", "TV to real"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, run in runs.items():
        shares = np.median(run.alive_share[-1], axis=0)
        cells = [f"`{label}`"] + [f"{share:.1%}" for share in shares]
        cells += [f"{np.median(run.entropy[-1]):.3f}", f"{np.median(run.total_variation[-1]):.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def speed_table_markdown(entries: Mapping[str, tuple[ChainRun, int]]) -> str:
    """Markdown table of chain-generations per second: name -> (run, number of states K)."""
    lines = ["| experiment | chains | states K | generations | seconds | chain-generations/s |",
             "|---|---|---|---|---|---|"]
    for name, (run, n_states) in entries.items():
        lines.append(f"| {name} | {run.n_chains:,} | {n_states:,} | {run.n_generations:,} | "
                     f"{run.seconds:.2f} | {run.chain_generations_per_second:,.0f} |")
    return "\n".join(lines)
