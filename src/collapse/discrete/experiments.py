"""Everything the discrete chapter (book/discrete.md) simulates, from its profile settings:
:func:`run` -> :class:`DiscreteRuns`, :func:`record_metrics`, and the derived numbers the
claims, tables and sentences share (each a function of the runs).

One master seed fixes the chapter: it is spawned into one stream per experiment
(:data:`STREAMS`), so adding an experiment never changes another one's numbers.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..core.loop import History
from ..core.seeds import spawn_seed_sequences
from .chains import (AbsorptionResult, AbsorptionTimes, ZipfResult, absorption_experiment,
                     absorption_summary, absorption_time_experiment, absorption_time_ks,
                     chain_generations_per_second, diffusion_errors, run_chains,
                     zipf_experiment, zipf_loss_order)
from .family import counts_from_probabilities, replicate, support_size, zipf_probabilities
from .words import (COUNT_BUCKETS, Corpus, ForgettingTimes, compare_policies,
                    forgetting_times, policy_label, wikitext_corpus, wikitext_experiment)

__all__ = ["STREAMS", "DiscreteRuns", "run", "record_metrics", "settings_summary",
           "AbsorptionCheck", "absorption_check_of", "absorption_check", "wright_fisher_z", "survival_checkpoints",
           "WordLoss", "word_loss", "policy_numbers", "speed_entries", "zipf_counts",
           "policy_run"]

STREAMS = ("absorption", "times", "zipf", "wikitext", "policies")  # one seed stream each


@dataclasses.dataclass
class DiscreteRuns:
    """All of the chapter's chains.

    ``absorption``: one result per small distribution; ``times``: two-state absorption times,
    one per M; ``diffusion_error``: M -> diffusion/exact − 1 at p = 1/2 (exact arithmetic,
    for the even M ≤ 20 of ``diffusion_sample_sizes``); ``zipf``; ``corpus`` (the real
    text's word counts); ``replace``: the word chains under `replace`; ``policies``: label
    -> the word chains under each data policy (``replace`` reused when it has the same size);
    ``load_average``: the machine's load at the start and end of :func:`run`.
    """

    absorption: list[AbsorptionResult]
    times: list[AbsorptionTimes]
    diffusion_sample_sizes: list[int]
    diffusion_error: dict[int, float]
    zipf: ZipfResult
    corpus: Corpus
    replace: History
    policies: dict[str, History]
    mix_label: str
    load_average: dict[str, float] = dataclasses.field(default_factory=dict)


def run(settings: Any, progress: Callable[[str], None] | None = None,
        corpus: Corpus | None = None) -> DiscreteRuns:
    """Run every experiment of the chapter with ``settings`` (the "discrete" profile
    settings). ``corpus`` replaces the WikiText-2 split of the settings (tests use a small
    synthetic one); it is read first, so missing data fails before any chain runs."""
    say = progress or (lambda message: None)
    corpus = corpus if corpus is not None else wikitext_corpus(settings.wikitext_split)
    streams = dict(zip(STREAMS, spawn_seed_sequences(settings.seed, len(STREAMS))))
    load_start = os.getloadavg()[0]
    say(f"load average at start {load_start:.2f} on {os.cpu_count()} CPUs")

    rng = np.random.default_rng(streams["absorption"])
    absorption = [absorption_experiment(name, counts, settings.absorption_chains,
                                        settings.absorption_generations, rng)
                  for name, counts in settings.absorption_distributions.items()]
    say(f"absorption: {len(absorption)} distributions in "
        f"{sum(r.history.seconds for r in absorption):.1f} s")
    rng = np.random.default_rng(streams["times"])
    times = [absorption_time_experiment(M, settings.time_start_fractions,
                                        settings.time_chains_per_start, rng)
             for M in settings.time_sample_sizes]
    say(f"absorption times: M = {', '.join(str(r.sample_size) for r in times)} in "
        f"{sum(r.history.seconds for r in times):.1f} s")
    zipf = zipf_experiment(settings.zipf_states, settings.zipf_sample_size,
                           settings.zipf_chains, settings.zipf_generations,
                           np.random.default_rng(streams["zipf"]))
    say(f"Zipf: {zipf.history.seconds:.1f} s")
    replace = wikitext_experiment(corpus.counts, "replace", settings.wikitext_chains,
                                  settings.wikitext_generations,
                                  np.random.default_rng(streams["wikitext"]))
    say(f"{corpus.name}, replace: {replace.seconds:.1f} s")
    policies = compare_policies(corpus.counts, settings.policy_chains,
                                settings.policy_generations, streams["policies"],
                                settings.mix_fraction, done={"replace": replace})
    say(f"{corpus.name}, other policies: "
        f"{sum(h.seconds for h in policies.values() if h is not replace):.1f} s")
    return DiscreteRuns(
        absorption, times, list(settings.diffusion_check_sample_sizes),
        diffusion_errors(settings.diffusion_check_sample_sizes), zipf, corpus, replace,
        policies, policy_label("mix_real", settings.mix_fraction),
        {"start": load_start, "end": os.getloadavg()[0], "cpus": os.cpu_count()})


def settings_summary(settings: Any) -> str:
    """One line: how many chains and generations each experiment runs under ``settings``."""
    return (f"profile {settings.profile}: {settings.absorption_chains:,} chains per small "
            f"distribution, {settings.time_chains_per_start:,} per start for absorption times, "
            f"{settings.zipf_chains:,} Zipf chains, {settings.wikitext_chains} WikiText-2 chains "
            f"× {settings.wikitext_generations} generations (replace), "
            f"{settings.policy_chains} × {settings.policy_generations} per policy")


# --------------------------------------------------------------------------- derived numbers
@dataclasses.dataclass
class AbsorptionCheck:
    """Where and when the small distributions' chains were absorbed, against theory:
    per-distribution :func:`absorption_summary` and Kolmogorov–Smirnov (D, p) of the
    absorption time; ``z`` and ``error`` (share ending on k − q_k, in SE and absolute)
    concatenated over every state of every distribution."""

    summaries: dict[str, dict]
    ks: dict[str, tuple[float, float]]

    @property
    def z(self) -> np.ndarray:
        return np.concatenate([s["z"] for s in self.summaries.values()])

    @property
    def error(self) -> np.ndarray:
        return np.concatenate([np.abs(s["frequency"] - s["q"]) for s in self.summaries.values()])

    @property
    def min_ks_p(self) -> float:
        return min(p for _, p in self.ks.values())

    @property
    def min_absorbed(self) -> float:
        return min(s["absorbed_share"] for s in self.summaries.values())


def absorption_check_of(results: Sequence[AbsorptionResult]) -> AbsorptionCheck:
    """:class:`AbsorptionCheck` of chains of small distributions."""
    return AbsorptionCheck({r.name: absorption_summary(r) for r in results},
                           {r.name: absorption_time_ks(r) for r in results})


def absorption_check(runs: DiscreteRuns) -> AbsorptionCheck:
    """:class:`AbsorptionCheck` of the runs' small distributions."""
    return absorption_check_of(runs.absorption)


def wright_fisher_z(runs: DiscreteRuns) -> float:
    """Largest |simulated − exact| / SE over every M and start, for the mean absorption time
    and the mean time to loss given loss."""
    return max(np.abs(np.concatenate([r.z for r in runs.times])).max(),
               np.nanmax(np.abs(np.concatenate([r.loss_z for r in runs.times]))))


def survival_checkpoints(horizon: int) -> list[int]:
    """Generations at which the word-survival table reports: 1, 10, 100, G/2, G (≤ G)."""
    return sorted({min(g, horizon) for g in (1, 10, 100, horizon // 2, horizon)})


@dataclasses.dataclass
class WordLoss:
    """How the word chains under `replace` lost types: forgetting times by original count,
    the median generation of loss of count-1 types, whether every reliable median respects
    Suresh et al.'s bound c/ln 2 (to one generation), the median share alive per bucket (and
    all types) at the last generation, and the median entropy drop in bits."""

    forgetting: ForgettingTimes
    singleton_median: float
    suresh_ok: bool
    alive_last: np.ndarray
    entropy_drop: float


def word_loss(runs: DiscreteRuns) -> WordLoss:
    """:class:`WordLoss` of ``runs.replace``."""
    history, counts = runs.replace, runs.corpus.counts
    forgetting = forgetting_times(history.folds["first_loss"], counts, history.n_generations)
    reliable = forgetting.reliable
    singles = forgetting.quantiles[1][forgetting.counts == 1]
    suresh_ok = bool(np.all(forgetting.quantiles[1][reliable]
                            >= forgetting.counts[reliable] / np.log(2) - 1))
    entropy = history["entropy"]
    return WordLoss(forgetting,
                    singles[0] if len(singles) else float("nan"), suresh_ok,
                    np.median(history["alive_share"][-1], axis=0),
                    float(np.median(entropy[0]) - np.median(entropy[-1])))


def policy_numbers(runs: DiscreteRuns) -> dict[str, dict[str, Any]]:
    """Per policy, medians over chains: share of all types alive at the last and the middle
    generation, per bucket at the last, TV to the real distribution at both, entropy."""
    numbers = {}
    for label, history in runs.policies.items():
        middle = history.n_generations // 2
        alive, tv = history["alive_share"], history["total_variation"]
        numbers[label] = {"alive": np.median(alive[-1, :, -1]),
                          "alive_by_bucket": np.median(alive[-1], axis=0),
                          "alive_middle": np.median(alive[middle, :, -1]),
                          "tv": np.median(tv[-1]), "tv_middle": np.median(tv[middle]),
                          "entropy": np.median(history["entropy"][-1])}
    return numbers


def speed_entries(runs: DiscreteRuns) -> dict[str, tuple[History, int]]:
    """Name -> (history, number of states K) of every call of the loop, for the speed table."""
    entries = {f"absorption, {r.name}": (r.history, len(r.counts)) for r in runs.absorption}
    entries.update({f"absorption times, M = {r.sample_size}": (r.history, 2)
                    for r in runs.times})
    entries["Zipf"] = (runs.zipf.history, len(runs.zipf.counts))
    n_types = len(runs.corpus.counts)
    entries["WikiText-2 replace"] = (runs.replace, n_types)
    entries.update({f"WikiText-2 {label}": (history, n_types)
                    for label, history in runs.policies.items() if history is not runs.replace})
    return entries


# --------------------------------------------------------------------------- results file
def record_metrics(record, runs: DiscreteRuns) -> None:
    """The chapter's headline numbers, into its :class:`ChapterRecord`."""
    check = absorption_check(runs)
    record.metric("absorption_probability_max_abs_error", check.error.max())
    record.metric("absorption_probability_max_abs_z", np.abs(check.z).max())
    record.metric("absorption_share_absorbed",
                  {name: s["absorbed_share"] for name, s in check.summaries.items()})
    record.metric("absorption_probabilities",
                  {name: {"q": s["q"], "share": s["frequency"], "se": s["se"]}
                   for name, s in check.summaries.items()})
    record.metric("absorption_time_ks", {name: {"distance": d, "p_value": p}
                                         for name, (d, p) in check.ks.items()})
    record.metric("mean_absorption_time", {str(r.sample_size): {
        "start_count": r.starts, "simulated": r.mean, "standard_error": r.standard_error,
        "exact": r.exact, "diffusion": r.diffusion, "censored": r.censored}
        for r in runs.times})
    record.metric("mean_loss_time", {str(r.sample_size): {
        "start_count": r.starts, "simulated": r.loss_mean,
        "standard_error": r.loss_standard_error, "exact": r.loss_exact,
        "diffusion": r.loss_diffusion} for r in runs.times})
    record.metric("wright_fisher_times_max_abs_z", wright_fisher_z(runs))
    record.metric("diffusion_relative_error_at_half", runs.diffusion_error)

    zipf = runs.zipf
    record.metric("zipf_spearman_count_vs_loss", zipf_loss_order(zipf)[2])
    record.metric("zipf_support", {"generation": [0, zipf.history.n_generations],
                                   "median": np.median(zipf.history["support"][[0, -1]], axis=1),
                                   "exact_mean": zipf.exact_support[[0, -1]]})

    counts, replace, loss = runs.corpus.counts, runs.replace, word_loss(runs)
    record.metric("wikitext_tokens", counts.sum())
    record.metric("wikitext_types", len(counts))
    checkpoints = survival_checkpoints(replace.n_generations)
    record.metric("wikitext_type_survival_replace", {
        "generation": checkpoints, "buckets": [label for label, _, _ in COUNT_BUCKETS] + ["all"],
        "median_share_alive": [np.median(replace["alive_share"][g], axis=0)
                               for g in checkpoints]})
    record.metric("wikitext_entropy_bits_replace",
                  {"generation_0": np.median(replace["entropy"][0]),
                   "last": np.median(replace["entropy"][-1])})
    forgetting = loss.forgetting
    record.metric("wikitext_forgetting_slope", forgetting.slope)
    record.metric("wikitext_forgetting_median_by_count",
                  {"count": forgetting.counts[forgetting.reliable],
                   "median_generation": forgetting.quantiles[1][forgetting.reliable]})
    any_policy = next(iter(runs.policies.values()))
    record.metric("wikitext_type_survival_by_policy",
                  {"generation": any_policy.n_generations, **policy_numbers(runs)})

    record.metric("chain_generations_per_second",
                  {name: chain_generations_per_second(history)
                   for name, (history, _) in speed_entries(runs).items()})
    record.metric("load_average", runs.load_average)


# =============================================================================== cross-family
def zipf_counts(settings: Mapping[str, Any]) -> np.ndarray:
    """The real data of the cross-family comparison: M = ``settings["sample_size"]`` tokens of
    a Zipf(``exponent``, default 1) distribution over ``n_states`` states, as expected
    counts (:func:`~collapse.discrete.family.counts_from_probabilities`), shape (K,)."""
    probabilities = zipf_probabilities(settings["n_states"], settings.get("exponent", 1.0))
    return counts_from_probabilities(probabilities, settings["sample_size"])


def policy_run(policy: str, n_seeds: int, n_generations: int, rng: np.random.Generator, *,
               real_rng: np.random.Generator, settings: Mapping[str, Any]) -> np.ndarray:
    """The cross-family comparison's protocol (:class:`collapse.core.experiment.PolicyRunner`):
    ``n_seeds`` chains of the exact categorical fit from :func:`zipf_counts` under ``policy``
    (a :func:`~collapse.core.policies.policy_from_name` name, M = ``sample_size``); returns the
    share of the states present in the real data that the model still gives non-zero
    probability, shape (n_generations + 1, n_seeds). ``real_rng`` is not used: the real data
    are the same expected counts for every seed."""
    counts = zipf_counts(settings)
    history = run_chains(replicate(counts, n_seeds), n_generations, rng,
                         {"support": support_size}, policy=policy,
                         sample_size=settings["sample_size"])
    return history["support"] / int((counts > 0).sum())
