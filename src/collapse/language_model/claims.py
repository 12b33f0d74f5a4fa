"""The language-model chapter's claims: every criterion, fixed before the run
(:func:`declare_claims`), and the verdicts from a finished run (:func:`evaluate_claims`).

Paper claims are the paper's statements about Figure 1 and its language-model section
(Shumailov et al. 2024); checks are the regime gate, extensions (sampling, accumulate) and the
same statements on the SmolLM2 stand-in at reduced scale. Where the scales differ (a small
model trained here vs OPT-125m), only relative quantities are compared: ratios to generation 0,
the share of the fine-tuning gain that is lost, shapes of distributions, orderings between
settings. Where several seeds exist the verdict reads a seed-bootstrap interval of the mean
(90%, :func:`collapse.core.stats.bootstrap_interval`) and compares it with the paper's spread
over its five runs as read from its figure; the tail test is an exact binomial test.

Every value is measured by :class:`~collapse.language_model.runs.LMChapterRuns` (the same
functions the negative controls in ``tests/test_language_model.py`` call).
"""
from __future__ import annotations

from typing import Any, Mapping

__all__ = ["declare_claims", "evaluate_claims", "claim_values", "PAPER_RATIO_NO_REAL",
           "PAPER_GAIN_LOST", "PAPER_RATIO_KEEP_10PCT", "TAIL_QUANTILE", "TAIL_ALPHA"]

#: the paper's generation-9 / Real test-perplexity ratio without original data: Real ≈ 34, +20–28
#: points by generation 9 over its five runs (Fig. 1b, right panel)
PAPER_RATIO_NO_REAL = (54 / 34, 62 / 34)
#: the share of the fine-tuning gain lost by generation 9: (ppl₉ − 34) / (115 − 34)
PAPER_GAIN_LOST = (20 / 81, 28 / 81)
#: 10% of the original data kept: "minor degradation", axis 32–42 for Real ≈ 34 (Fig. 1c)
PAPER_RATIO_KEEP_10PCT = 42 / 34
#: the tail test: share of the last generated set above this quantile of the first
TAIL_QUANTILE = 0.95
#: significance level of the one-sided binomial tail test
TAIL_ALPHA = 0.01

FIGURE_1B = "Nature, Fig. 1b (right panel: 5 epochs, no original data, 5 runs)"
FIGURE_1C = "Nature, Fig. 1c (right panel: 10 epochs, 10% of the original data kept)"
HISTOGRAMS = "Nature, Fig. 1b,c (left panels: generated data scored by the generation-0 model)"


def _overlaps(interval, window) -> bool:
    return interval[0] <= window[1] and interval[1] >= window[0]


def _degrades_reproduced(v) -> bool:
    return _overlaps(v["ratio_interval"], PAPER_RATIO_NO_REAL) and \
        v["first_excess"] <= 0.5 * v["last_excess"]


def declare_claims(record, settings: Mapping[str, Any]) -> None:
    """Declare the chapter's claims on ``record`` (a ChapterRecord) with their criteria."""
    last = settings["n_generations"]
    low, high = PAPER_RATIO_NO_REAL
    record.declare_claim(
        "finetuning-helps", "Fine-tuning the pretrained model on real WikiText-2 lowers its test "
        "perplexity (the starting point of Figure 1).",
        "zero-shot 115 → 34 after fine-tuning (ratio 0.30)",
        "upper end of the seed-bootstrap interval of generation-0 / zero-shot test perplexity "
        "< 0.95: reproduced; mean < 1: partially",
        reproduced_if=lambda v: v["interval"][1] < 0.95, partially_if=lambda v: v["mean"] < 1,
        kind="paper", where="Nature, 'Model collapse in language models' (zero-shot 115, "
                            "fine-tuned 34)")
    record.declare_claim(
        "degrades-without-real-data", "Without original data, test perplexity degrades "
        "gradually over the generations, by about 20–28 points from 34 (setting a, 5-beam "
        "search).",
        f"ratio generation 9 / Real ≈ {low:.2f}–{high:.2f} over 5 runs, rising gradually",
        f"the seed-bootstrap interval of the mean ratio generation {last} / generation 0 "
        f"overlaps the paper's {low:.2f}–{high:.2f} AND the rise is gradual (mean excess at "
        f"generation 1 ≤ half the excess at generation {last}): reproduced; the interval lies "
        f"above 1 (it degrades, but not like the paper): partially",
        reproduced_if=_degrades_reproduced,
        partially_if=lambda v: v["ratio_interval"][0] > 1.0,
        kind="paper", where=FIGURE_1B)
    record.declare_claim(
        "gain-lost", "The degradation undoes a part of what fine-tuning on real text gained "
        "(setting a): (ppl_last − ppl₀) / (ppl_zero-shot − ppl₀).",
        f"(54…62 − 34) / (115 − 34) ≈ {PAPER_GAIN_LOST[0]:.2f}–{PAPER_GAIN_LOST[1]:.2f}",
        f"the seed-bootstrap interval of the mean share at generation {last} overlaps "
        f"{PAPER_GAIN_LOST[0]:.2f}–{PAPER_GAIN_LOST[1]:.2f}: reproduced; it lies above 0: "
        "partially",
        reproduced_if=lambda v: _overlaps(v["interval"], PAPER_GAIN_LOST),
        partially_if=lambda v: v["interval"][0] > 0,
        kind="paper", where=FIGURE_1B + " with the text's zero-shot 115 and fine-tuned 34")
    record.declare_claim(
        "real-data-limits-damage", "Keeping a random 10% of the original data makes the "
        "degradation minor (setting b).",
        f"'minor degradation' (axis 32–42 for Real ≈ 34: ratio ≲ {PAPER_RATIO_KEEP_10PCT:.2f})",
        f"upper end of the interval of the mean excess ratio (ratio − 1) of (b) ≤ half the mean "
        f"excess of (a), and mean ratio (b) ≤ {PAPER_RATIO_KEEP_10PCT:.2f}: reproduced; mean "
        f"ratio (b) < mean ratio (a): partially",
        reproduced_if=lambda v: v["b_excess_interval"][1] <= 0.5 * v["a_excess"]
        and v["b_ratio"] <= PAPER_RATIO_KEEP_10PCT,
        partially_if=lambda v: v["b_ratio"] < v["a_ratio"],
        kind="paper", where=FIGURE_1C)
    record.declare_claim(
        "data-become-probable", "The data the generations write are more 'probable' under the "
        "generation-0 model than real text it never trained on (the histograms' mass sits at "
        "lower perplexity).",
        "Fig. 1b,c: generated data's histograms lie left of the original model's",
        "log(median perplexity of the generated data / median of as many held-out real test "
        f"blocks), both scored by generation 0, per seed: the upper end of its seed-bootstrap "
        f"interval < 0 for the data of generation {last} in both settings: reproduced; in one "
        "setting or only for the first generated data: partially",
        reproduced_if=lambda v: all(interval[1] < 0 for interval in v["last"].values()),
        partially_if=lambda v: any(interval[1] < 0 for interval in
                                   [*v["last"].values(), *v["first"].values()]),
        kind="paper", where=HISTOGRAMS)
    record.declare_claim(
        "long-error-tail", "Later generations write a long tail of sequences the original model "
        "finds improbable (setting a): the tail grows against the first generated data.",
        "Fig. 1b: 'a much longer tail appears for later generations'",
        f"share of generation {last}'s data (pooled over seeds) above the "
        f"{TAIL_QUANTILE:.0%} quantile of the first generated data of the same seed, both "
        f"scored by generation 0: ≥ {2 * (1 - TAIL_QUANTILE):.0%} (twice the no-change value) "
        f"and a one-sided exact exceedance test (distribution-free: the quantile is estimated "
        f"from the first set, seeds pooled) with p < {TAIL_ALPHA}: reproduced; p < "
        f"{TAIL_ALPHA} only: partially",
        reproduced_if=lambda v: v["share"] >= 2 * (1 - TAIL_QUANTILE) and v["p"] < TAIL_ALPHA,
        partially_if=lambda v: v["p"] < TAIL_ALPHA,
        kind="paper", where=HISTOGRAMS,
        revised="2025-12-02, before any real run: from a binomial test against 5%, which "
                "ignores that the 95% quantile is estimated (it passed 4 of 40 drawn nulls at "
                "a nominal 1%); the exact exceedance distribution holds the level")
    record.declare_claim(
        "rare-words-forgotten-first", "Tails vanish first: the rare words of the original text "
        "disappear from the generated data before the frequent ones (setting a).",
        "early model collapse: 'the tails of the original distribution disappear'",
        f"per seed, the share of the original word types that generation {last}'s data still "
        "contain, divided by the share an equal number of held-out real blocks contain "
        "(real-vs-real null = 1), for types seen once minus types in the most frequent bucket: "
        "the seed-bootstrap interval of the mean gap (frequent − rare) lies above 0.2: "
        "reproduced; above 0: partially",
        reproduced_if=lambda v: v["interval"][0] > 0.2,
        partially_if=lambda v: v["interval"][0] > 0,
        kind="paper", where="Nature, 'What is model collapse?' (early model collapse loses the "
                            "tails)")
    record.declare_claim(
        "penalty-does-not-help", "A weaker repetition penalty (2.0 instead of the script's 3.0) "
        "does not make collapse weaker; perplexity about doubles (decoding comparison, one "
        "seed).",
        "repetition penalty 2.0: perplexity about doubles, collapse no weaker",
        "decoding comparison (replace, one seed): ratio last / generation 0 with penalty 2.0 ≥ "
        "1.7 and ≥ the ratio with penalty 3.0: reproduced; ≥ the ratio with 3.0 only: partially",
        reproduced_if=lambda r: r["beam, penalty 2.0"] >= 1.7
        and r["beam, penalty 2.0"] >= r["beam, penalty 3.0"],
        partially_if=lambda r: r["beam, penalty 2.0"] >= r["beam, penalty 3.0"],
        kind="paper", where="Nature, 'Model collapse in language models' (ablation with "
                            "repetition penalty 2.0)")
    # ------------------------------------------------------------------ checks
    record.declare_claim(
        "regime-gate", "Generation 0 writes like the paper's: its beam-search text is about as "
        "diverse as real text and fine-tuning helped (the declared gate, evaluated before any "
        "collapse curve).",
        "OPT-125m's generation 0 writes fluent text (Example 1)",
        "every gate condition holds for the chosen base (see the sweep table): reproduced; "
        "all but one: partially",
        reproduced_if=lambda gate: all(gate.values()),
        partially_if=lambda gate: sum(not ok for ok in gate.values()) <= 1,
        kind="check")
    record.declare_claim(
        "sampling-degrades", "With temperature-1 sampling (no decoding bias: only the "
        "statistical error of finite samples, the paper's main mechanism) test perplexity also "
        "degrades (setting a).",
        "the theory: statistical approximation error alone causes collapse",
        f"the seed-bootstrap interval of the mean ratio generation {last} / generation 0 under "
        "sampling lies above 1.05: reproduced; above 1: partially",
        reproduced_if=lambda v: v["interval"][0] > 1.05,
        partially_if=lambda v: v["interval"][0] > 1.0, kind="check")
    record.declare_claim(
        "accumulating-limits-damage", "Accumulating all data instead of replacing it keeps the "
        "degradation smaller, whatever the decoding (a follow-up result; one seed per decoding).",
        "Gerstgrasser et al. 2024: accumulating stays bounded, replacing does not",
        "ratio last / generation 0 with accumulate < with replace for every decoding of the "
        "comparison: reproduced; for most of them: partially",
        reproduced_if=lambda v: all(a < r for a, r in v.values()),
        partially_if=lambda v: sum(a < r for a, r in v.values()) > len(v) / 2, kind="check")
    if not settings.get("smollm2"):  # the SmolLM2 arm does not run under this profile
        return
    record.declare_claim(
        "smollm2-finetuning-helps", "On SmolLM2-135M (a real pretrained model of OPT-125m's "
        "size, reduced CPU scale) fine-tuning on real WikiText-2 lowers test perplexity.",
        "OPT-125m: zero-shot 115 → 34",
        "generation-0 / zero-shot test perplexity (mean over seeds) < 0.95: reproduced; < 1: "
        "partially",
        reproduced_if=lambda v: v["mean"] < 0.95, partially_if=lambda v: v["mean"] < 1,
        kind="check")
    record.declare_claim(
        "smollm2-degrades", "On SmolLM2-135M at reduced scale, recursive fine-tuning on its own "
        "5-beam text without original data degrades test perplexity gradually.",
        "OPT-125m: +20–28 points by generation 9, rising gradually",
        "mean ratio last / generation 0 > 1.05 and mean excess at generation 1 ≤ half the "
        "excess at the last generation: reproduced; ratio > 1.0: partially (fewer generations "
        "than the paper: no magnitude comparison)",
        reproduced_if=lambda v: v["last_ratio"] > 1.05
        and v["first_excess"] <= 0.5 * v["last_excess"],
        partially_if=lambda v: v["last_ratio"] > 1.0, kind="check")


def claim_values(runs) -> dict[str, tuple[Any, str, str]]:
    """Claim id -> (the value its criterion reads, how it is shown, note), from ``runs`` (an
    :class:`~collapse.language_model.runs.LMChapterRuns`)."""
    return runs.claim_values()


def evaluate_claims(record, runs) -> dict[str, str]:
    """Evaluate every declared claim that ``runs`` has a value for; returns claim id ->
    verdict (claims of an arm that did not run, e.g. SmolLM2 under ``smoke``, are left
    unevaluated and shown as such)."""
    return {claim: record.evaluate(claim, value, measured, note=note)
            for claim, (value, measured, note) in claim_values(runs).items()
            if claim in record.claims}
