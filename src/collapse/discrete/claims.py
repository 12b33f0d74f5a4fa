"""The discrete chapter's claims (book/discrete.md): each criterion is fixed by
:func:`declare_claims` before any chain runs, and :func:`evaluate_claims` turns the runs into
verdicts. Monte-Carlo tolerances are in standard errors of the estimate (a 4-SE band misses a
true value with probability 6e-5 per comparison).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..core.loop import History
from .chains import AbsorptionResult, ZipfResult, zipf_loss_order
from .experiments import (DiscreteRuns, absorption_check_of, policy_numbers, word_loss,
                          wright_fisher_z)
from .words import forgetting_times, policy_label

__all__ = ["DISCRETE_SECTION", "declare_claims", "evaluate_claims", "criteria_markdown",
           "absorption_value", "tails_first_value"]

DISCRETE_SECTION = "Nature, 'Discrete distributions with exact approximation'"


def absorption_value(results: Sequence[AbsorptionResult]) -> dict[str, float]:
    """What ``absorbed`` and ``fixation-q`` are decided on, for chains of small distributions:
    the smallest share of chains absorbed at the last generation, the smallest KS p-value of
    the absorption time against the exact transition matrix, and the largest |share ending on
    k − q_k| in binomial standard errors (and absolute) over every state."""
    check = absorption_check_of(results)
    return {"min_absorbed": check.min_absorbed, "min_ks_p": check.min_ks_p,
            "max_z": float(np.abs(check.z).max()), "max_error": float(check.error.max()),
            "n_states": len(check.z)}


def tails_first_value(zipf: ZipfResult, words: History, counts: np.ndarray) -> dict[str, float]:
    """What ``tails-first`` is decided on: Spearman ρ of the original count against the
    median generation of loss over the Zipf states (censored medians ranked beyond the run),
    and the median generation of loss of the count-1 word types of ``words`` (a word-chain
    history with its ``first_loss`` fold; ``counts`` (K,) the original counts; NaN when not
    reached within the run)."""
    forgetting = forgetting_times(words.folds["first_loss"], counts, words.n_generations)
    singles = forgetting.quantiles[1][forgetting.counts == 1]
    return {"spearman": zipf_loss_order(zipf)[2],
            "singleton_median": float(singles[0]) if len(singles) else float("nan")}


def declare_claims(record, settings: Any) -> None:
    """Declare the chapter's ten claims and their criteria on ``record``: three paper claims
    (the paper's discrete argument), seven checks (Wright–Fisher theory, extensions, other
    papers' claims)."""
    mix_label = policy_label("mix_real", settings.mix_fraction)
    record.declare_claim(
        "absorbed", "Refitting a categorical distribution to M samples of itself ends in a "
        "delta function with probability 1.",
        "absorbing Markov chain whose only absorbing states are delta functions; absorbed "
        "with probability 1",
        "every small distribution: ≥ 99.9% of chains absorbed at the last generation, and the "
        "distribution of the absorption generation matches the exact transition-matrix one "
        "(Kolmogorov–Smirnov p ≥ 0.001)",
        lambda v: v["min_absorbed"] >= 0.999 and v["min_ks_p"] >= 0.001,
        kind="paper", where=DISCRETE_SECTION)
    record.declare_claim(
        "fixation-q",
        "The chance of ending on state k equals its original probability qₖ.",
        "each probability is a martingale: P(end on k) = q_k",
        "every state of every small distribution: |share ending on k − q_k| ≤ 4 SE, "
        "SE = √(q(1−q)/n)",
        lambda v: v["max_z"] <= 4.0, kind="paper", where=DISCRETE_SECTION)
    record.declare_claim(
        "tails-first", "States with q ≲ 1/M vanish within a few generations; the "
        "tails go first.", "low-probability states (q ≤ 1/M) are lost first; the support shrinks",
        "Zipf chains: Spearman ρ(original count, median generation of loss) ≥ 0.9; WikiText-2: "
        "the median generation of loss of count-1 word types ≤ 3",
        lambda v: v["spearman"] >= 0.9 and v["singleton_median"] <= 3,
        kind="paper", where=DISCRETE_SECTION)
    record.declare_claim(
        "wright-fisher-times", "Known theory: the mean two-state absorption time and the mean "
        "time to lose a state (given loss) equal their exact transition-matrix values.",
        "not in the paper; classic Wright–Fisher results (Kimura & Ohta 1969)",
        "every M and start: |simulated mean − exact| ≤ 4 SE, for both times",
        lambda v: v <= 4.0, partially_if=lambda v: v <= 6.0,
        kind="check", where="theory from elsewhere (Wright–Fisher drift), checking the chains")
    record.declare_claim(
        "diffusion-error", "The diffusion formula −2M[p ln p + (1−p) ln(1−p)] is 6–12% high "
        "for M ≤ 20.", "not in the paper; this book's summary of Wright–Fisher theory",
        "at p = 1/2, diffusion/exact − 1 in [5.5%, 12.5%] for every even M ≤ 20 checked; "
        "partially: only for 10 ≤ M ≤ 20, and positive for all",
        lambda v: all(0.055 <= e <= 0.125 for e in v.values()),
        partially_if=lambda v: all(e > 0 for e in v.values())
        and all(0.055 <= e <= 0.125 for m, e in v.items() if 10 <= m <= 20),
        kind="check", where="exact arithmetic (transition matrix against the diffusion "
                            "formula); a statement of this book's summary, not the paper's")
    record.declare_claim(
        "forget-linear", "The time to forget a word grows roughly linearly with its original "
        "count.", "Suresh et al. 2025: forgetting time ≈ linear in the count; survival ≥ 1 − "
        "exp(−c/k)",
        "WikiText-2: log-log slope of the median generation of loss against count in "
        "[0.8, 1.25] (partially: [0.5, 1.5]), fitted over the counts (≥ 3 of them) whose "
        "Galton–Watson loss probability within the run is ≥ 0.75 and that ≥ 40 (type, chain) "
        "pairs share",
        lambda v: v["n_counts"] >= 3 and 0.8 <= v["slope"] <= 1.25,
        partially_if=lambda v: v["n_counts"] >= 3 and 0.5 <= v["slope"] <= 1.5,
        kind="check", where="another paper (Suresh et al. 2025)")
    record.declare_claim(
        "wikitext-collapse", "Refitting the WikiText-2 unigram distribution to samples of itself "
        "loses rare words first and lowers entropy.",
        "extension: the paper's discrete argument on a real word distribution (the paper shows "
        "vanishing tails for LMs, GMMs and VAEs, not for unigrams)",
        "replace, last generation: median share of types alive strictly increases with the "
        "count bucket, and median entropy is below generation 0's",
        lambda v: all(a < b for a, b in zip(v["alive"], v["alive"][1:]))
        and v["entropy_drop"] > 0,
        kind="check", where="extension of Nature, 'Discrete distributions with exact "
                            "approximation', to real text")
    record.declare_claim(
        "accumulate-keeps", "Accumulating real and synthetic data stops the collapse.",
        "Gerstgrasser et al. 2024: accumulate keeps the error bounded",
        "accumulate, last generation: ≥ 99% of each bucket's types alive, and median TV to the "
        "real distribution ≤ half that of replace",
        lambda v: v["min_alive"] >= 0.99 and v["tv"] <= 0.5 * v["tv_replace"],
        kind="check", where="another paper (Gerstgrasser et al. 2024)")
    record.declare_claim(
        "subsample-between", "A fixed-size resample from the accumulated pool sits between "
        "replace and accumulate: it loses types and drifts, but less than replace.",
        "Kazdan et al. 2024 (a fixed-size resample that still drifts is attributed to the "
        "paper's supplementary material, not checked against it here)",
        "last generation: types alive and TV to real strictly between accumulate and replace",
        lambda v: v["alive_replace"] < v["alive"] < v["alive_accumulate"]
        and v["tv_accumulate"] < v["tv"] < v["tv_replace"],
        kind="check", where="another paper (Kazdan et al. 2024)")
    record.declare_claim(
        "mix-real-stabilises", f"Fresh real data each generation ({mix_label}) stops the loss.",
        "Bertrand et al. 2024; Alemohammad et al. 2024",
        "share of all types alive at the last generation ≥ 2× replace's, and it and the TV to "
        "real change by ≤ 0.02 between the middle and the last generation (a plateau)",
        lambda v: v["alive"] >= 2 * v["alive_replace"] and v["alive_change"] <= 0.02
        and v["tv_change"] <= 0.02,
        kind="check", where="other papers (Bertrand et al. 2024; Alemohammad et al. 2024)")


def criteria_markdown(record) -> str:
    """The declared claims and their criteria as a Markdown list (shown before the run)."""
    return "\n".join(f"- **{claim.id}** ({claim.kind}): {claim.criterion}."
                     for claim in record.claims.values())


def evaluate_claims(record, runs: DiscreteRuns) -> None:
    """Apply every declared criterion to ``runs`` (verdicts and the measured text)."""
    value = absorption_value(runs.absorption)
    record.evaluate("absorbed", value,
                    f"min share absorbed {value['min_absorbed']:.4%}; "
                    f"absorption-time KS p ≥ {value['min_ks_p']:.2f}")
    record.evaluate("fixation-q", value,
                    f"max |share − q| = {value['max_error']:.4f} = {value['max_z']:.2f} SE over "
                    f"{value['n_states']} states")
    time_z = wright_fisher_z(runs)
    record.evaluate("wright-fisher-times", time_z,
                    f"max |z| = {time_z:.2f} over {sum(len(r.starts) for r in runs.times)} "
                    f"starts × 2 times")
    errors = runs.diffusion_error
    in_range = [m for m, e in errors.items() if 0.055 <= e <= 0.125]
    worst_m = max(errors, key=errors.get)
    within = f"M = {min(in_range)}–{max(in_range)}" if in_range else "none"
    record.evaluate("diffusion-error", errors,
                    ", ".join(f"M={m}: {100 * e:.1f}%" for m, e in errors.items()),
                    note=f"exact arithmetic, no simulation; within 6–12% for {within} "
                         f"of those checked, {100 * errors[worst_m]:.0f}% at M = {worst_m}")

    value, loss = tails_first_value(runs.zipf, runs.replace, runs.corpus.counts), word_loss(runs)
    record.evaluate("tails-first", value,
                    f"Zipf ρ = {value['spearman']:.3f}; count-1 words lost at median generation "
                    f"{value['singleton_median']:.0f}")
    forgetting = loss.forgetting
    reliable = forgetting.reliable
    span = f"1–{forgetting.counts[reliable].max()}" if reliable.any() else "none"
    record.evaluate("forget-linear", {"slope": forgetting.slope, "n_counts": int(reliable.sum())},
                    f"slope {forgetting.slope:.2f} over {reliable.sum()} counts ({span}); "
                    f"medians ≥ Suresh bound c/ln 2: {loss.suresh_ok}")
    alive = loss.alive_last[:5]
    record.evaluate("wikitext-collapse", {"alive": list(alive), "entropy_drop": loss.entropy_drop},
                    f"alive at gen {forgetting.horizon}: " + ", ".join(f"{a:.1%}" for a in alive)
                    + f"; entropy −{loss.entropy_drop:.3f} bits")

    numbers = policy_numbers(runs)
    acc, sub, rep, mix = (numbers[label] for label in
                          ("accumulate", "accumulate_subsample", "replace", runs.mix_label))
    record.evaluate("accumulate-keeps", {"min_alive": acc["alive_by_bucket"].min(),
                                         "tv": acc["tv"], "tv_replace": rep["tv"]},
                    f"min bucket alive {acc['alive_by_bucket'].min():.1%}; TV {acc['tv']:.3f} "
                    f"vs replace {rep['tv']:.3f}")
    record.evaluate("subsample-between",
                    {"alive": sub["alive"], "alive_replace": rep["alive"],
                     "alive_accumulate": acc["alive"], "tv": sub["tv"],
                     "tv_replace": rep["tv"], "tv_accumulate": acc["tv"]},
                    f"alive {sub['alive']:.1%} (replace {rep['alive']:.1%}, accumulate "
                    f"{acc['alive']:.1%}); TV {sub['tv']:.3f} (replace {rep['tv']:.3f}, "
                    f"accumulate {acc['tv']:.3f})")
    record.evaluate("mix-real-stabilises",
                    {"alive": mix["alive"], "alive_replace": rep["alive"],
                     "alive_change": abs(mix["alive"] - mix["alive_middle"]),
                     "tv_change": abs(mix["tv"] - mix["tv_middle"])},
                    f"alive {mix['alive_middle']:.1%} → {mix['alive']:.1%} (replace "
                    f"{rep['alive']:.1%}); TV {mix['tv_middle']:.3f} → {mix['tv']:.3f}")
