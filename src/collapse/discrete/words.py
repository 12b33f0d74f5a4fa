"""The real-text experiment of the discrete chapter (book/discrete.md): the unigram (word)
distribution of a corpus refitted each generation on a corpus-sized sample of itself, under
`replace` and the other data policies.

Tokenisation: whitespace-separated tokens of the raw file, case kept (``The`` and ``the`` are
different types), punctuation and WikiText's ``@-@`` / ``=`` markers included. Word types are
grouped by their original count (:data:`COUNT_BUCKETS`); the loop's ``FirstGeneration`` fold
records when each type was lost.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Mapping

import numpy as np

from ..core.loop import FirstGeneration, History
from ..core.policies import policy_from_name
from ..core.seeds import spawn_seed_sequences
from ..core.stats import loglog_slope
from . import wright_fisher
from .chains import loss_time_quantiles_by_count, run_chains
from .family import AliveShareByGroup, TotalVariationTo, check_counts, entropy, is_lost, replicate

__all__ = [
    "COUNT_BUCKETS", "Corpus", "word_counts", "wikitext_corpus", "bucket_of",
    "wikitext_experiment", "ForgettingTimes", "forgetting_times", "policy_label",
    "compare_policies",
]

# original-count buckets for word types: (label, lowest count, highest count or None)
COUNT_BUCKETS = (("1", 1, 1), ("2–5", 2, 5), ("6–20", 6, 20), ("21–100", 21, 100),
                 (">100", 101, None))


@dataclasses.dataclass
class Corpus:
    """A text's unigram distribution: ``words`` and their ``counts`` (K,), sorted by
    decreasing count then alphabetically; ``name`` says where it comes from (e.g.
    "WikiText-2 validation split")."""

    name: str
    words: np.ndarray
    counts: np.ndarray


def word_counts(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(types, counts) of the whitespace tokens of ``text`` (case kept), sorted by decreasing
    count then alphabetically; shapes (K,), (K,)."""
    counted = Counter(text.split())
    if len(counted) < 2:
        raise ValueError(f"text must hold at least 2 distinct tokens, got {len(counted)}")
    ordered = sorted(counted.items(), key=lambda item: (-item[1], item[0]))
    return (np.array([word for word, _ in ordered], dtype=object),
            np.array([count for _, count in ordered], dtype=np.int64))


def wikitext_corpus(split: str = "validation") -> Corpus:
    """The word types and counts of WikiText-2 raw ``split`` (sha256-verified by
    :func:`collapse.core.data.read_wikitext`; DataError when missing or corrupt)."""
    from ..core.data import read_wikitext
    return Corpus(f"WikiText-2 {split} split", *word_counts(read_wikitext(split)))


def bucket_of(counts) -> np.ndarray:
    """Index into :data:`COUNT_BUCKETS` of each original count, shape like ``counts``."""
    counts = np.asarray(counts)
    if counts.min() < 1:
        raise ValueError("original counts must be >= 1 to fall in a count bucket")
    edges = [low for _, low, _ in COUNT_BUCKETS[1:]]
    return np.searchsorted(edges, counts, side="right")


def wikitext_experiment(counts: np.ndarray, policy: str, n_chains: int, n_generations: int,
                        rng: np.random.Generator, fraction: float | None = None) -> History:
    """Refit the unigram distribution of ``counts`` (K,) each generation on M = counts.sum()
    tokens drawn as ``policy`` says ("replace", "accumulate", "accumulate_subsample",
    "mix_real" with ``fraction``), for ``n_chains`` independent chains.

    Metrics: ``alive_share`` (G+1, n_chains, n_buckets + 1), the share of each count bucket's
    types (last: all types) alive in the model; ``entropy`` (bits) and ``total_variation`` (to
    the real unigram distribution), (G+1, n_chains). Fold ``first_loss`` (n_chains, K)."""
    counts = check_counts(counts)
    metrics = {"alive_share": AliveShareByGroup(bucket_of(counts), len(COUNT_BUCKETS)),
               "entropy": entropy, "total_variation": TotalVariationTo(counts / counts.sum())}
    return run_chains(replicate(counts, n_chains), n_generations, rng, metrics, policy,
                      fraction, folds={"first_loss": FirstGeneration(is_lost)})


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
    horizon: int  # the run's last generation G


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
    return ForgettingTimes(distinct, quantiles, samples, reliable, slope, n_generations)


# --------------------------------------------------------------------------- what stops it
def policy_label(policy: str, fraction: float | None = None) -> str:
    """The label a policy carries in histories and figures, e.g. ``mix_real(0.1)``."""
    return policy_from_name(policy, fraction=fraction).label()


def compare_policies(counts: np.ndarray, n_chains: int, n_generations: int,
                     seed: np.random.SeedSequence, mix_fraction: float,
                     done: Mapping[str, History] | None = None) -> dict[str, History]:
    """The word-distribution experiment under replace, accumulate, accumulate_subsample and
    mix_real(``mix_fraction``), each with its own random stream spawned from ``seed``; runs in
    ``done`` (label -> history of the same size) are reused instead of rerun."""
    policies = [("replace", None), ("accumulate", None), ("accumulate_subsample", None),
                ("mix_real", mix_fraction)]
    streams = spawn_seed_sequences(seed, len(policies))
    runs = {}
    for (policy, fraction), stream in zip(policies, streams):
        label = policy_label(policy, fraction)
        previous = (done or {}).get(label)
        if previous is not None and previous["alive_share"].shape[:2] == (n_generations + 1,
                                                                           n_chains):
            runs[label] = previous
            continue
        runs[label] = wikitext_experiment(counts, policy, n_chains, n_generations,
                                          np.random.default_rng(stream), fraction)
    return runs
