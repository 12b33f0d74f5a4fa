"""The language-model chapter's claims: every criterion, fixed before the run
(:func:`declare_claims`), and the verdicts from a finished run (:func:`evaluate_claims`).

Where the scales differ (a small OPT trained from scratch on 16k tokens vs OPT-125m on 2M),
only relative quantities are compared: ratios to generation 0, shapes of distributions,
orderings between settings. Paper: Shumailov et al. 2024, Figure 1 and "Language model".
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .runs import LMRun

__all__ = ["declare_claims", "evaluate_claims", "claim_values"]


def declare_claims(record, settings: Mapping[str, Any]) -> None:
    """Declare the chapter's claims on ``record`` (a ChapterRecord) with their criteria."""
    last = settings["n_generations"]
    record.declare_claim(
        "finetuning-helps", "Fine-tuning the pretrained model on real WikiText-2 lowers its test "
        "perplexity (the starting point of Figure 1a).",
        "zero-shot 115 → 34 after fine-tuning (ratio 0.30)",
        "generation-0 / zero-shot test perplexity (mean over seeds) < 0.95: reproduced; "
        "< 1: partially",
        reproduced_if=lambda ratio: ratio < 0.95, partially_if=lambda ratio: ratio < 1.0)
    record.declare_claim(
        "degrades-without-real-data", "Without original data, test perplexity degrades "
        "generation after generation (setting a).",
        "34 → +20–28 points by generation 9: ratio ≈ 1.6–1.8",
        f"mean ratio generation {last} / generation 0 in [1.4, 2.1]: reproduced; > 1.1: "
        f"partially (degrades, different size)",
        reproduced_if=lambda ratio: 1.4 <= ratio <= 2.1, partially_if=lambda ratio: ratio > 1.1)
    record.declare_claim(
        "degradation-is-gradual", "The degradation builds up over the generations rather than "
        "arriving at once (setting a).",
        "Figure 1a: generation 1 is a few points above Real, generation 9 about 20–28 points",
        f"excess ratio (ratio − 1) at generation 1 ≤ half the excess at generation {last}: "
        "reproduced; ≤ 80% of it: partially",
        reproduced_if=lambda e: e["first"] <= 0.5 * e["last"],
        partially_if=lambda e: e["first"] <= 0.8 * e["last"])
    record.declare_claim(
        "real-data-limits-damage", "Keeping a random 10% of the original data makes the "
        "degradation minor (setting b).",
        "'minor degradation' (axis 32–42 for Real ≈ 34: ratio ≲ 1.2)",
        "excess ratio (ratio − 1) of (b) ≤ half that of (a) and ratio (b) ≤ 1.25: reproduced; "
        "ratio (b) < ratio (a): partially",
        reproduced_if=lambda v: v["b"] - 1 <= 0.5 * (v["a"] - 1) and v["b"] <= 1.25,
        partially_if=lambda v: v["b"] < v["a"])
    record.declare_claim(
        "data-become-probable", "Generated training data become more 'probable' under the "
        "generation-0 model (the histograms' mass moves to low perplexity).",
        "Figure 1b/c: later generations' histograms shift left",
        f"pooled median per-sequence perplexity of generation {last}'s data < that of the real "
        "data, in both settings: reproduced; in one: partially",
        reproduced_if=lambda shifted: all(shifted.values()),
        partially_if=lambda shifted: any(shifted.values()))
    record.declare_claim(
        "long-error-tail", "A long tail of improbable sequences appears in the generated data "
        "(errors introduced by the models), setting a.",
        "Figure 1b: a long right tail in later generations",
        f"99% quantile of generation {last}'s data > that of the real data: reproduced; "
        "the tail relative to the median (q99 / q50) grows: partially",
        reproduced_if=lambda q: q["last"][3] > q["real"][3],
        partially_if=lambda q: q["last"][3] / q["last"][1] > q["real"][3] / q["real"][1])
    record.declare_claim(
        "rare-words-forgotten-first", "Tails vanish first: rare words of the original text "
        "disappear from the generated data before frequent ones (early collapse), setting a.",
        "the theory's 'tails vanish first' (Suresh et al. 2025: the time to forget a word grows "
        "with its count)",
        f"share of original types seen once that generation {last} still produces < that of "
        "the most frequent types (seen ≥ 64 times; the highest bucket present), by > 0.2: "
        "reproduced; smaller but positive gap: partially",
        reproduced_if=lambda s: s["frequent"] - s["rare"] > 0.2,
        partially_if=lambda s: s["frequent"] - s["rare"] > 0)
    record.declare_claim(
        "penalty-does-not-help", "Penalising repetition does not stop collapse: with repetition "
        "penalty 2.0 perplexity about doubles, no less than without a penalty (ablation, one "
        "seed).",
        "repetition penalty 2.0: perplexity about doubles",
        "ablation ratio (last / generation 0) with penalty 2.0 ≥ 1.7 and ≥ the ratio with "
        "penalty 1.0: reproduced; ≥ the ratio with penalty 1.0 only: partially",
        reproduced_if=lambda r: r["penalty 2.0"] >= 1.7 and r["penalty 2.0"] >= r["penalty 1.0"],
        partially_if=lambda r: r["penalty 2.0"] >= r["penalty 1.0"])
    record.declare_claim(
        "accumulating-limits-damage", "Accumulating all data instead of replacing it keeps the "
        "degradation smaller (a follow-up result, ablation scale, one seed).",
        "Gerstgrasser et al. 2024: accumulating stays bounded, replacing does not",
        "ablation ratio (last / generation 0) with accumulate < with replace (penalty 3.0): "
        "reproduced",
        reproduced_if=lambda r: r["accumulate"] < r["penalty 3.0"])


def claim_values(runs: LMRun) -> dict[str, tuple[Any, str, str]]:
    """Claim id -> (the value its criterion reads, how it is shown, note), from ``runs``."""
    settings, summary = runs.settings, runs.summary()
    last = settings["n_generations"]
    a, b = (summary["settings"][name] for name in ("no_real", "keep_10pct"))
    zero_shot = summary["zero_shot_test_perplexity"]
    real = float(np.mean(runs.metric("test_perplexity", "no_real")[:, 0]))
    excess = {"first": float(np.mean(runs.perplexity_ratio("no_real")[:, 1])) - 1,
              "last": a["ratio_last_mean"] - 1}
    shifted = {name: value["quantiles_last"][1] < value["quantiles_generation_0"][1]
               for name, value in summary["settings"].items()}
    qa = (a["quantiles_generation_0"], a["quantiles_last"])
    ratios = {name: value["ratio_last"] for name, value in summary["ablations"].items()}
    return {
        "finetuning-helps": (real / zero_shot, f"zero-shot {zero_shot:.1f} → {real:.1f}", ""),
        "degrades-without-real-data": (
            a["ratio_last_mean"], f"ratio {a['ratio_last_mean']:.2f} at generation {last}",
            f"{settings['n_seeds']} seeds; see the next claim for how it got there"),
        "degradation-is-gradual": (
            excess, f"excess ratio {excess['first']:.2f} at generation 1, {excess['last']:.2f} "
            f"at generation {last}", ""),
        "real-data-limits-damage": (
            {"a": a["ratio_last_mean"], "b": b["ratio_last_mean"]},
            f"ratio (b) {b['ratio_last_mean']:.2f} vs (a) {a['ratio_last_mean']:.2f}", ""),
        "data-become-probable": (
            shifted, "; ".join(f"{name}: median {value['quantiles_generation_0'][1]:.1f} → "
                               f"{value['quantiles_last'][1]:.1f}"
                               for name, value in summary["settings"].items()), ""),
        "long-error-tail": (
            {"real": qa[0], "last": qa[1]},
            f"q99 {qa[0][3]:.1f} → {qa[1][3]:.1f}; q99/q50 {qa[0][3] / qa[0][1]:.2f} → "
            f"{qa[1][3] / qa[1][1]:.2f}", ""),
        "rare-words-forgotten-first": (
            {"rare": a["rare_type_share_last"], "frequent": a["frequent_type_share_last"]},
            f"seen once: {a['rare_type_share_last']:.0%} kept; seen {a['frequent_bucket']} "
            f"times: {a['frequent_type_share_last']:.0%}", ""),
        "penalty-does-not-help": (
            ratios, f"ratios: penalty 1.0 {ratios['penalty 1.0']:.2f}, 2.0 "
                    f"{ratios['penalty 2.0']:.2f}, 3.0 {ratios['penalty 3.0']:.2f}",
            f"one seed, {settings['ablation']['n_generations']} generations"),
        "accumulating-limits-damage": (
            ratios, f"accumulate {ratios['accumulate']:.2f} vs replace "
                    f"{ratios['penalty 3.0']:.2f}", "one seed"),
    }


def evaluate_claims(record, runs: LMRun) -> dict[str, str]:
    """Evaluate every declared claim on ``runs``; returns claim id -> verdict."""
    return {claim: record.evaluate(claim, value, measured, note=note)
            for claim, (value, measured, note) in claim_values(runs).items()}
