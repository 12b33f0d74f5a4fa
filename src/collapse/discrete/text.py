"""The discrete chapter's tables and sentences (Markdown or plain text), built from its runs
(:class:`.experiments.DiscreteRuns`): every number in the chapter's prose comes from here."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from ..core.loop import History
from . import wright_fisher
from .chains import (absorption_summary, chain_count, chain_generations_per_second,
                     zipf_loss_order)
from .experiments import (DiscreteRuns, absorption_check, policy_numbers, speed_entries,
                          survival_checkpoints, word_loss, wright_fisher_z)
from .words import COUNT_BUCKETS, bucket_of

__all__ = [
    "absorption_lines", "fixation_markdown", "times_lines", "times_markdown", "zipf_lines",
    "zipf_markdown", "corpus_markdown", "replace_line", "bucket_summary_markdown",
    "lost_words_markdown", "forgetting_markdown", "policy_lines", "policy_summary_markdown",
    "policy_markdown", "speed_table_markdown", "speed_markdown", "absorption_markdown",
    "key_headlines",
]


def key_headlines(runs: DiscreteRuns) -> dict[str, str]:
    """The "Key results" box's numbers, as shown: the share of small-distribution chains
    absorbed in a delta, the largest deviation of P(end on k) from q_k, and when the rarest
    WikiText-2 words are lost."""
    from .claims import absorption_value, tails_first_value
    value = absorption_value(runs.absorption)
    chains = min(result.absorbed.shape[1] for result in runs.absorption)
    last = max(result.absorbed.shape[0] - 1 for result in runs.absorption)
    tails = tails_first_value(runs.zipf, runs.replace, runs.corpus.counts)
    single = tails["singleton_median"]
    return {
        "Chains absorbed in a delta function": ("all" if value["min_absorbed"] == 1 else
                                                f"at least {value['min_absorbed']:.2%}")
        + f" of each small distribution's {chains:,} chains by generation {last:,}",
        "Chance of ending on state $k$ against $q_k$": f"largest deviation "
        f"{value['max_error']:.4f} ({value['max_z']:.2f} standard errors) over "
        f"{value['n_states']} states",
        "Word types seen once in WikiText-2": ("lost at a median generation of "
                                               f"{single:.0f}" if single == single else
                                               "not lost within the run")
        + f" (rank correlation of a Zipf state's count with its loss time "
          f"{tails['spearman']:.3f})"}


def absorption_markdown(runs: DiscreteRuns) -> str:
    """Table of the small distributions: original counts, M, chains, share absorbed by the
    last generation and the median absorption generation."""
    head = ["distribution", "counts $c$", "$M$", "chains", "absorbed", "median absorption "
            "generation"]
    rows = []
    for result in runs.absorption:
        summary = absorption_summary(result)
        rows.append([result.name, ", ".join(str(int(c)) for c in result.counts),
                     str(result.sample_size), f"{result.absorbed.shape[1]:,}",
                     f"{summary['absorbed_share']:.2%} by generation "
                     f"{result.absorbed.shape[0] - 1}",
                     f"{np.median(result.absorbed.argmax(axis=0)):.0f}"])
    return _table(head, rows)


def _code(word: str) -> str:
    """A word as a Markdown code span safe inside a table cell."""
    return "`" + str(word).replace("`", "'").replace("|", "¦") + "`"


def _table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in rows])


# --------------------------------------------------------------------------- absorption
def absorption_lines(runs: DiscreteRuns) -> str:
    """One line per small distribution: M, chains, share absorbed, median absorption
    generation, speed."""
    lines = []
    for result in runs.absorption:
        summary = absorption_summary(result)
        lines.append(
            f"{result.name:>12}: M = {result.sample_size}, {result.absorbed.shape[1]} chains, "
            f"{summary['absorbed_share']:.4%} absorbed by generation "
            f"{result.absorbed.shape[0] - 1}; median absorption generation "
            f"{np.median(result.absorbed.argmax(axis=0)):.0f}; "
            f"{chain_generations_per_second(result.history):,.0f} chain-generations/s")
    return "\n".join(lines)


def fixation_markdown(runs: DiscreteRuns) -> str:
    """Where the chains end against q, and the KS distance of the absorption time."""
    check = absorption_check(runs)
    return (
        f"Over the {len(check.z)} states the largest deviation of the share ending on a state "
        f"from $q_k$ is **{check.error.max():.4f}** (**{np.abs(check.z).max():.2f}** standard "
        f"errors; {{numref}}`fig-discrete-fixation`). The simulated distribution of the "
        f"absorption generation is within a Kolmogorov–Smirnov distance of "
        + ", ".join(f"{d:.4f} (p = {p:.2f}, {name})" for name, (d, p) in check.ks.items())
        + " of the exact one.")


# --------------------------------------------------------------------------- times
def times_lines(runs: DiscreteRuns) -> str:
    """One line per M of the two-state absorption-time experiment."""
    return "\n".join(
        f"M = {r.sample_size:>3}: {len(r.starts)} starts × {r.chains_per_start} chains, "
        f"horizon {r.n_generations} generations, {r.censored.sum()} censored; max |z| "
        f"absorption {np.abs(r.z).max():.2f}, loss {np.nanmax(np.abs(r.loss_z)):.2f}; "
        f"{chain_generations_per_second(r.history):,.0f} chain-generations/s"
        for r in runs.times)


def times_markdown(runs: DiscreteRuns) -> str:
    """Simulation against exact theory, and the diffusion formula's error."""
    return (
        f"Simulation and exact theory agree to within **{wright_fisher_z(runs):.2f}** standard "
        f"errors at every $M$ and start (absorption and loss times). The diffusion formula, by "
        f"contrast, is biased high for small $M$: at $p = 1/2$ it overshoots by "
        + ", ".join(f"{100 * e:.1f}% (M = {m})" for m, e in runs.diffusion_error.items())
        + " — the exact matrix, not the diffusion, is the reference for small $M$.")


# --------------------------------------------------------------------------- Zipf
def zipf_lines(runs: DiscreteRuns) -> str:
    """The Zipf experiment's size and speed, and the rank correlation of loss order."""
    zipf = runs.zipf
    return (f"Zipf: K = {len(zipf.counts)}, M = {zipf.sample_size}, counts "
            f"{zipf.counts.max()} … {zipf.counts.min()}; {chain_count(zipf.history)} chains × "
            f"{zipf.history.n_generations} generations; "
            f"{chain_generations_per_second(zipf.history):,.0f} chain-generations/s\n"
            f"Spearman ρ(original count, median generation of loss) = "
            f"{zipf_loss_order(zipf)[2]:.3f}")


def zipf_markdown(runs: DiscreteRuns) -> str:
    """The Zipf tail: which states go first, support and Gini–Simpson against theory."""
    zipf = runs.zipf
    _, quantiles, rho = zipf_loss_order(zipf)
    support = zipf.history["support"]
    return (
        f"The rare states go first ({{numref}}`fig-discrete-zipf-loss`): states of count 1 are "
        f"lost at a median generation of **{quantiles[1][0]:.0f}**, and the order of loss "
        f"follows the original count (Spearman ρ = **{rho:.3f}**). The support shrinks from "
        f"{support[0, 0]} to a median of **{np.median(support[-1]):.0f}** states in "
        f"{zipf.history.n_generations} generations (exact mean {zipf.exact_support[-1]:.1f}), "
        f"and the Gini–Simpson index follows its exact geometric decay "
        f"({{numref}}`fig-discrete-zipf-diversity`).")


# --------------------------------------------------------------------------- real text
def corpus_markdown(runs: DiscreteRuns) -> str:
    """Tokens, types, types per count bucket and the most frequent words of the corpus."""
    words, counts = runs.corpus.words, runs.corpus.counts
    bucket = bucket_of(counts)
    return (f"{runs.corpus.name}: **{counts.sum():,} tokens** (M), **{len(counts):,} types** "
            f"(K). Types by original count: "
            + ", ".join(f"{label}: {(bucket == i).sum():,}"
                        for i, (label, _, _) in enumerate(COUNT_BUCKETS))
            + ". The most frequent: "
            + ", ".join(f"`{w}` ({c:,})" for w, c in zip(words[:6], counts[:6])) + ".")


def replace_line(runs: DiscreteRuns) -> str:
    """Size and speed of the word chains under `replace`."""
    history = runs.replace
    return (f"replace: {chain_count(history)} chains × {history.n_generations} "
            f"generations in {history.seconds:.1f} s "
            f"({chain_generations_per_second(history):,.0f} chain-generations/s)")


def bucket_summary_markdown(runs: DiscreteRuns) -> str:
    """Table per count bucket under `replace`: types, median share alive at the
    :func:`survival_checkpoints` (over chains), pooled median generation of loss (censored ->
    '> G')."""
    history, counts = runs.replace, runs.corpus.counts
    bucket, horizon = bucket_of(counts), history.n_generations
    alive_share, first_loss = history["alive_share"], history.folds["first_loss"]
    checkpoints = survival_checkpoints(horizon)
    head = (["original count", "types"] + [f"alive at gen {g}" for g in checkpoints]
            + ["median loss generation"])
    rows = []
    for index, (label, _, _) in enumerate(COUNT_BUCKETS):
        members = bucket == index
        lost = np.where(first_loss[:, members] >= 0, first_loss[:, members],
                        horizon + 1).ravel()
        median = np.sort(lost)[int(np.ceil(0.5 * len(lost))) - 1]
        cells = [label, f"{members.sum():,}"]
        cells += [f"{np.median(alive_share[g, :, index]):.1%}" for g in checkpoints]
        cells.append(str(median) if median <= horizon else f"> {horizon}")
        rows.append(cells)
    return _table(head, rows)


def lost_words_markdown(runs: DiscreteRuns, chain: int = 0, per_bucket: int = 5) -> str:
    """Table of which words chain ``chain`` lost first in each count bucket under `replace`,
    and the most frequent words it lost by the last generation."""
    words, counts = runs.corpus.words, runs.corpus.counts
    bucket, horizon = bucket_of(counts), runs.replace.n_generations
    first_loss = runs.replace.folds["first_loss"][chain]
    head = ["original count", "lost first (generation)", "highest original count among the "
            f"words lost by generation {horizon} (count)"]
    rows = []
    for index, (label, _, _) in enumerate(COUNT_BUCKETS):
        members = np.flatnonzero((bucket == index) & (first_loss >= 0))
        earliest = members[np.argsort(first_loss[members], kind="stable")][:per_bucket]
        frequent = members[:per_bucket]  # types are sorted by decreasing original count
        first = ", ".join(f"{_code(words[k])} ({first_loss[k]})" for k in earliest) or "—"
        top = ", ".join(f"{_code(words[k])} ({counts[k]})" for k in frequent) or "—"
        rows.append([label, first, top])
    return _table(head, rows)


def forgetting_markdown(runs: DiscreteRuns) -> str:
    """How fast words are forgotten under `replace`, against Galton–Watson and Suresh et al."""
    loss = word_loss(runs)
    forgetting, alive = loss.forgetting, loss.alive_last
    reliable = forgetting.reliable
    largest = forgetting.counts[reliable].max() if reliable.any() else "—"
    return (
        f"A word seen once is gone by a median generation of **{loss.singleton_median:.0f}** "
        f"(Galton–Watson: {wright_fisher.galton_watson_median_loss_time([1])[0]:.0f}); after "
        f"{forgetting.horizon} generations {alive[0]:.1%} of the count-1 types and "
        f"{alive[4]:.1%} of the types with count >100 survive, and the entropy has fallen by "
        f"{loss.entropy_drop:.3f} bits. The median time to forget grows with the original "
        f"count with a log-log slope of **{forgetting.slope:.2f}** over the {reliable.sum()} "
        f"counts up to {largest} whose median the run can measure without bias (Galton–Watson "
        f"loss probability within the run ≥ 0.75) — Suresh et al.'s near-linear growth; every "
        f"such median respects their bound c/ln 2 (to one generation of rounding): "
        f"**{loss.suresh_ok}**.")


# --------------------------------------------------------------------------- policies
def policy_lines(runs: DiscreteRuns) -> str:
    """Speed of the word chains under each data policy."""
    return "\n".join(f"{label:>22}: {chain_generations_per_second(history):,.0f} "
                     f"chain-generations/s ({history.seconds:.1f} s)"
                     for label, history in runs.policies.items())


def policy_summary_markdown(policies: Mapping[str, History]) -> str:
    """Table: per policy, the median (over chains) share of each count bucket's types alive at
    the last generation, the entropy and the total variation to the real distribution there."""
    head = (["policy"] + [f"alive, count {label}" for label, _, _ in COUNT_BUCKETS]
            + ["alive, all", "entropy (bits)", "TV to real"])
    rows = []
    for label, history in policies.items():
        shares = np.median(history["alive_share"][-1], axis=0)
        cells = [f"`{label}`"] + [f"{share:.1%}" for share in shares]
        cells += [f"{np.median(history['entropy'][-1]):.3f}",
                  f"{np.median(history['total_variation'][-1]):.3f}"]
        rows.append(cells)
    return _table(head, rows)


def policy_markdown(runs: DiscreteRuns) -> str:
    """What each policy does to the word distribution, in numbers."""
    numbers = policy_numbers(runs)
    acc, sub, rep = numbers["accumulate"], numbers["accumulate_subsample"], numbers["replace"]
    mix = numbers[runs.mix_label]
    generations = next(iter(runs.policies.values())).n_generations
    return (
        f"Accumulating keeps every real type in the pool, so none can be lost, and the distance "
        f"to the real distribution stays at {acc['tv']:.3f} (replace: {rep['tv']:.3f}). "
        f"Resampling a fixed-size set from the pool loses types ({sub['alive']:.1%} alive) but "
        f"far fewer than replace ({rep['alive']:.1%}). Fresh real data reaches a plateau: "
        f"{mix['alive_middle']:.1%} of types alive at generation {generations // 2}, "
        f"{mix['alive']:.1%} at {generations}; a rare word lost by the model is re-introduced "
        f"whenever the fresh real tokens happen to contain it.")


# --------------------------------------------------------------------------- speed
def speed_table_markdown(entries: Mapping[str, tuple[History, int]]) -> str:
    """Table of chain-generations per second: name -> (history, number of states K)."""
    head = ["experiment", "chains", "states K", "generations", "seconds",
            "chain-generations/s"]
    rows = []
    for name, (history, n_states) in entries.items():
        rows.append([name, f"{chain_count(history):,}", f"{n_states:,}",
                     f"{history.n_generations:,}", f"{history.seconds:.2f}",
                     f"{chain_generations_per_second(history):,.0f}"])
    return _table(head, rows)


def speed_markdown(runs: DiscreteRuns, wall_seconds: float) -> str:
    """The speed table and the machine's load during the run."""
    load = runs.load_average
    return (speed_table_markdown(speed_entries(runs))
            + f"\n\nLoad average {load['start']:.2f} at the start and {load['end']:.2f} at the "
              f"end of the run, on {load['cpus']} CPUs shared with other jobs; wall time so far "
              f"{wall_seconds:.0f} s.")
