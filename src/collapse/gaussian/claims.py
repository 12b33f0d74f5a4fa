"""The Gaussian chapter's claims: every criterion (:func:`declare_claims`, fixed before the
run) and every measurement it is applied to (:func:`evaluate_claims`, one ``_measure_*``
function per claim, each reading only the runs).

Paper claims (``kind="paper"``, with ``where`` the paper makes them) come first; each has a
negative control in ``tests/test_gaussian.py`` (a run without the effect on which the same
criterion says "not reproduced"). Checks follow: method validation, theory derived here, other
papers' results.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping, NamedTuple

import numpy as np

from ..core.stats import mc_mean_with_se, median_confidence_interval
from . import theory
from .summaries import mc_breakdown_generation, median_std_table, tails_first_share
from .trajectories import Trajectories

if TYPE_CHECKING:  # for type hints only
    from .experiments import GaussianRuns

__all__ = ["declare_claims", "evaluate_claims", "Measurement"]


REVISED = "2026-12-02 (issue 12)"
_THEOREM = "Nature, Theorem 3.1"
_EXPANSION = ("Nature, Supplementary Information / arXiv 2305.17493 v3 §4.2 (the 1-D expansion "
              "of X_j^n behind Theorem 3.1)")


def declare_claims(record, settings: Mapping[str, Any]) -> None:
    """Fix every claim's criterion from the chapter's profile ``settings`` (before any
    experiment runs). Paper claims first (``kind="paper"``, ``where`` the paper says it), then
    checks (method validation, theory derived here or elsewhere, other papers' results)."""
    smallest, policy_size = min(settings["sample_sizes"]), settings["policy_sample_size"]
    # ------------------------------------------------------------------ paper claims
    record.declare_claim(
        "sigma-collapses", "The fitted σₙ → 0 almost surely (Theorem 3.1)",
        "Σ_n → 0 a.s. (Theorem 3.1); 1-D Gaussian figure",
        "every M with N ≥ 10M, both estimators: at n ≈ M, 3M and 10M the exact median σ_n "
        "lies in the 99.9% order-statistic CI of the simulated median, and the simulated "
        "median at n ≈ 10M is below 0.1σ (partially: below 0.1σ, theory missed somewhere)",
        reproduced_if=lambda v: len(v["inside"]) > 0 and all(v["inside"])
        and max(v["median_10m"]) < 0.1,
        partially_if=lambda v: len(v["median_10m"]) > 0 and max(v["median_10m"]) < 0.1,
        kind="paper", where=_THEOREM,
        revised=f"{REVISED}: was 'P(σ_N < 0.1σ) ≥ 0.99 at N ≥ 50M', which cannot fail (the "
                "median σ there is ~e⁻²⁵); now tested at n of order M against the exact median")
    record.declare_claim(
        "w2-diverges-unbiased",
        "E[W₂²(N(μₙ, σₙ²), D₀)] → ∞ with the unbiased estimator",
        "Theorem 3.1",
        f"M = {smallest}, unbiased: MC mean within 4 SE of the exact σ²Σ1/M_i + 2σ²(1−∏α) at "
        "every recorded n ≤ M, and the exact value grows ≥ 10× from n = M to the last "
        "generation (partially: agreement holds, growth < 10×)",
        reproduced_if=lambda v: v["max_abs_z"] <= 4 and v["growth"] >= 10,
        partially_if=lambda v: v["max_abs_z"] <= 4, kind="paper", where=_THEOREM)
    record.declare_claim(
        "w2-diverges-biased",
        "E[W₂²] → ∞ also in the authors' own setting (biased np.std)",
        "Theorem 3.1 is stated for the unbiased estimator; the authors' code uses np.std",
        f"M = {smallest}, biased: at n ≈ 2M (where a Monte-Carlo mean still resolves E[W2²]) "
        "the MC mean W2² exceeds 2σ² and exceeds by more than 4 SE the exact E[W2²] = "
        "2σ²(1 − ∏α_b(M_i)) derived here for np.std, which stays below 2σ² (so the "
        "criterion is expected to fail; the MC mean is reported against that exact value)",
        reproduced_if=lambda v: v["mc_mean"] > 2.0 and v["z_bounded"] > 4,
        kind="paper", where=f"{_THEOREM}, in the setting of the authors' notebook (np.std)",
        revised=f"{REVISED}: was 'MC mean at the last generation > 2σ²' while the exact value "
                "tends to 2σ² from below (a coin flip); now the MC mean must clear the exact "
                "bounded value by 4 SE at n ≈ 2M")
    record.declare_claim(
        "pooled-variance-grows",
        "The variance of a generation-n sample pooled over chains grows linearly: "
        "Var(Xⱼⁿ) = σ²(1 + Σᵢ 1/Mᵢ)",
        "Var(X_j^n) = σ²(1 + 1/M_0 + … + 1/M_{n−1}): 'the same scaling as a 1-D random walk'",
        f"M = {smallest}, unbiased: the MC mean over seeds of σ_n² + (μ_n − μ)² lies within 4 SE "
        "of σ²(1 + Σ_{i≤n} 1/M_i) at every recorded n ≤ M, and at n = M it exceeds σ² by more "
        "than 4 SE (partially: growth without agreement)",
        reproduced_if=lambda v: v["max_abs_z"] <= 4 and v["growth_z"] > 4,
        partially_if=lambda v: v["growth_z"] > 4, kind="paper", where=_EXPANSION)
    record.declare_claim(
        "tails-first", "The tails vanish first (early model collapse)",
        "early collapse: low-probability events disappear first",
        "unbiased, every M: at the first generation where the median σ_n falls to 0.9σ and "
        "(where reached) to 0.5σ, the median fraction of the original ±3σ tail mass lost is "
        "≥ 1.5× the fraction of σ lost",
        reproduced_if=lambda v: len(v) > 0 and min(v) >= 1.5,
        kind="paper", where="Nature, abstract and 'What is model collapse?' (early model "
                            "collapse: the tails of the original distribution disappear)")
    record.declare_claim(
        "non-gaussian-start", "Collapse does not need a Gaussian D₀",
        "Theorem 3.1: any D_0 with non-zero variance",
        "Student-t(ν=3) and bimodal D_0, unbiased, N ≥ 10M: at n = 10M the simulated median "
        "σ_n is below 0.1σ and the exact median for a Gaussian D_0 lies between the simulated "
        "25% and 75% quantiles of σ_n (partially: median below 0.1σ only)",
        reproduced_if=lambda v: len(v["median_10m"]) > 0 and max(v["median_10m"]) < 0.1
        and all(v["inside_iqr"]),
        partially_if=lambda v: len(v["median_10m"]) > 0 and max(v["median_10m"]) < 0.1,
        kind="paper", where=f"{_THEOREM} (D_0 any distribution with non-zero variance)",
        revised=f"{REVISED}: was 'P(σ_N < 0.1) ≥ 0.99 at N ≥ 50M and median W2² above the "
                "best-Gaussian floor' (cannot fail: no Gaussian is closer than the floor); now "
                "at n = 10M against the Gaussian-D_0 theory")
    # ------------------------------------------------------------------ checks
    record.declare_claim(
        "median-digamma", "The median σₙ follows the exact digamma drift",
        "not in the paper: the median σ_n ≈ exp(−n/(2M)) follows from the 1-D recursion behind "
        "Theorem 3.1 (derived here, exactly, with the digamma function)",
        "for every M and estimator, the exact median σ at generation 1000 lies in the 99.9% "
        "order-statistic CI of the simulated median (partially: ≥ 75% of them)",
        reproduced_if=lambda v: all(v), partially_if=lambda v: np.mean(v) >= 0.75,
        kind="check")
    record.declare_claim(
        "typical-levels-off",
        "The typical run's W₂² levels off while E[W₂²] keeps growing",
        "not in the paper (derived here: the divergence of Theorem 3.1 is carried by rare paths)",
        f"M = {smallest}, unbiased: median W2² changes by < 25% from n = 10M to the last "
        "generation while the exact E[W2²] grows ≥ 5× (partially: median changes < 25% only)",
        reproduced_if=lambda v: abs(v["median_ratio"] - 1) < 0.25 and v["mean_growth"] >= 5,
        partially_if=lambda v: abs(v["median_ratio"] - 1) < 0.25, kind="check")
    record.declare_claim(
        "mc-mean-limit",
        "A 1,000-seed Monte-Carlo mean resolves E[σₙ²] = σ² only up to n ≈ 3M",
        "not in the paper (derived here: E[σ²_n] = σ² is carried by rare paths)",
        "unbiased, each M with N ≥ 10M: the first generation at which the MC mean of σ²_n "
        "falls below σ²/2 lies in [M, 10M]",
        reproduced_if=lambda v: len(v) > 0 and all(x is not None and 1 <= x <= 10 for x in v),
        kind="check")
    record.declare_claim(
        "growing-schedules", "E[W₂²] stays bounded iff Σᵢ 1/Mᵢ < ∞",
        "Theorem 3.1 (constant M); derived here for schedules",
        "MC mean W2² within 4 SE of the exact value at the last generation for M_i ∝ i and "
        "∝ i²; the exact value's increase over the last decade of generations is < 1% for "
        "∝ i² and > 10% for ∝ i and constant M",
        reproduced_if=lambda v: max(abs(z) for z in v["z"].values()) <= 4
        and v["decade_growth"]["i2"] < 0.01 and v["decade_growth"]["i"] > 0.10
        and v["decade_growth"]["constant"] > 0.10, kind="check")
    record.declare_claim(
        "accumulate-bounded", "Accumulating real and synthetic data keeps the error bounded",
        "Gerstgrasser et al. 2024 (π²/6 × the first model's error for linear regression); "
        "the authors' notebook has an 'accumulate' variant",
        f"M = {policy_size}: MC mean W2² under accumulate at the last generation ≤ 2× the exact "
        "generation-0 value σ²/M + 2σ²(1 − α(M)), while replace's exceeds 5× it",
        reproduced_if=lambda v: v["accumulate_ratio"] <= 2 and v["replace_ratio"] >= 5,
        kind="check")
    record.declare_claim(
        "mix-real-stops", "Fresh real data each generation prevents collapse",
        "Bertrand et al. 2024; Alemohammad et al. 2024",
        "every mix_real(f) run: median σ_n/σ at the last generation in [0.8, 1.25] and no seed "
        "with σ_n < 0.1σ",
        reproduced_if=lambda v: all(0.8 <= m <= 1.25 for m in v["medians"])
        and max(v["collapsed"]) == 0, kind="check")
    record.declare_claim(
        "subsample-drifts", "A fixed-size resample of the accumulated pool still drifts",
        "attributed to the paper's supplementary material (not checked against it here); "
        "Kazdan et al. 2024 find it bounded",
        "naive sampler: MC mean W2² at the last generation N exceeds its value at N/10 by "
        "> 4 SE of the per-seed difference (partially: no drift, but above accumulate's at "
        "generation N by > 4 SE)",
        reproduced_if=lambda v: v["drift_z"] > 4, partially_if=lambda v: v["excess_z"] > 4,
        kind="check")
    record.declare_claim(
        "exact-sampler", "The sufficient-statistics sampler has the law of drawing all M points",
        "method (not a paper claim)",
        "two-sample KS tests of σ̂ and μ̂ at the last generation: p ≥ 0.01 for both",
        reproduced_if=lambda v: min(v) >= 0.01, kind="check")


class Measurement(NamedTuple):
    """What a claim's criterion is applied to (``value``), how it reads in the claims table
    (``measured``), and an optional note."""

    value: Any
    measured: str
    note: str = ""


def _nearest_row(run: Trajectories, generation: int) -> int:
    """Index of the recorded generation of ``run`` nearest to ``generation``."""
    return int(np.argmin(np.abs(run.generations - generation)))


def _exact_median_std(size: int, generation: int, estimator: str) -> float:
    return math.sqrt(theory.variance_quantiles([0.5], size, [generation], estimator)[0, 0])


def _measure_sigma_collapses(runs: "GaussianRuns") -> Measurement:
    """At n ≈ M, 3M, 10M of every chapter M whose run reaches 10M: is the exact median σ_n in
    the simulated median's 99.9% CI, and what is the median at n ≈ 10M."""
    inside, median_10m, texts = [], [], []
    for (estimator, size), run in sorted(runs.sweep.items()):
        if size not in runs.sample_sizes or run.n_generations < 10 * size:
            continue
        for multiple in (1, 3, 10):
            row = _nearest_row(run, multiple * size)
            low, high = median_confidence_interval(run.std[row])
            exact = _exact_median_std(size, int(run.generations[row]), estimator)
            inside.append(bool(low <= exact <= high))
        median_10m.append(float(np.median(run.std[row])))
        texts.append(f"{estimator}, M = {size}: median σ at n = {run.generations[row]:,} "
                     f"{median_10m[-1]:.3g} (exact {exact:.3g})")
    return Measurement({"inside": inside, "median_10m": median_10m},
                       f"{sum(inside)}/{len(inside)} exact medians inside the 99.9% CI at "
                       f"n ≈ M, 3M, 10M; " + "; ".join(texts))


def _measure_median_digamma(runs: "GaussianRuns") -> Measurement:
    """The exact median σ at generation 1000 against the simulated median's 99.9% CI."""
    table = median_std_table(runs.sweep, 1000)
    inside = [entry["ci_low"] <= entry["theory"] <= entry["ci_high"]
              for by_size in table.values() for entry in by_size.values()]
    worst = max((abs(entry["simulated"] / entry["theory"] - 1), estimator, size)
                for estimator, by_size in table.items() for size, entry in by_size.items())
    return Measurement(inside, f"{sum(inside)}/{len(inside)} inside; largest relative gap "
                               f"{worst[0]:.2%} ({worst[1]}, M = {worst[2]})")


def _unbiased_w2(runs: "GaussianRuns"):
    """The unbiased run at the smallest M: (run, W2² (R, S), MC mean (R,), SE (R,), exact
    E[W2²] at every generation (N + 1,))."""
    run = runs.sweep["unbiased", min(runs.sample_sizes)]
    w2 = run.w2_squared()
    mean, se = mc_mean_with_se(w2)
    return run, w2, mean, se, theory.expected_w2_squared(run.theory_sizes(), "unbiased")


def _measure_w2_diverges_unbiased(runs: "GaussianRuns") -> Measurement:
    smallest = min(runs.sample_sizes)
    run, _, mean, se, exact = _unbiased_w2(runs)
    early = run.generations <= smallest
    z = (mean[early] - exact[run.generations[early]]) / se[early]
    growth = exact[-1] / exact[smallest]
    return Measurement({"max_abs_z": float(np.abs(z).max()), "growth": float(growth)},
                       f"max |MC − exact|/SE = {np.abs(z).max():.1f} for n ≤ {smallest}; exact "
                       f"E[W2²] {exact[smallest]:.2f} → {exact[-1]:.1f} (n = {smallest} → "
                       f"{run.n_generations:,}); MC mean at the end {mean[-1]:.2f}")


def _measure_w2_diverges_biased(runs: "GaussianRuns") -> Measurement:
    """The biased run's MC mean W2² ± SE at n ≈ 2M against the exact bounded E[W2²]."""
    smallest = min(runs.sample_sizes)
    run = runs.sweep["biased", smallest]
    row = _nearest_row(run, 2 * smallest)
    mean, se = mc_mean_with_se(run.w2_squared()[row])
    exact = theory.expected_w2_squared(run.theory_sizes(), "biased")[run.generations[row]]
    z_bounded = (mean - exact) / se
    return Measurement({"mc_mean": float(mean), "z_bounded": float(z_bounded)},
                       f"M = {smallest}, n = {run.generations[row]}: MC mean W2² {mean:.3f} ± "
                       f"{se:.3f} (SE); exact for np.std {exact:.3f} ({z_bounded:+.1f} SE from "
                       f"it); 2σ² = 2",
                       note="bounded by 2σ², as the exact formula says: the divergence of "
                            "Theorem 3.1 needs the unbiased estimator")

def _measure_pooled_variance_grows(runs: "GaussianRuns") -> Measurement:
    """Var(X_n) pooled over chains, E[(X_n − μ)²] = E[σ_n²] + E[(μ_n − μ)²] (μ = 0, σ = 1),
    from each seed's fitted parameters (the exact conditional second moment of a draw X_n of
    that chain's model), against σ²(1 + Σ_{i≤n} 1/M_i) at every recorded n ≤ M."""
    smallest = min(runs.sample_sizes)
    run = runs.sweep["unbiased", smallest]
    mean, se = mc_mean_with_se(run.std ** 2 + run.mean ** 2)
    sizes = run.theory_sizes()
    exact = (theory.expected_variance(sizes, "unbiased")
             + theory.expected_mean_error(sizes, "unbiased"))[run.generations]
    early = run.generations <= smallest
    z = (mean[early] - exact[early]) / se[early]
    row = run.row(smallest)
    growth_z = (mean[row] - 1.0) / se[row]
    return Measurement({"max_abs_z": float(np.abs(z).max()), "growth_z": float(growth_z)},
                       f"M = {smallest}: pooled variance {mean[0]:.3f} (n = 0) → {mean[row]:.3f} "
                       f"± {se[row]:.3f} (n = {smallest}; exact {exact[row]:.3f}); max |MC − "
                       f"exact|/SE = {np.abs(z).max():.1f} for n ≤ {smallest}")


def _measure_typical_levels_off(runs: "GaussianRuns") -> Measurement:
    smallest = min(runs.sample_sizes)
    run, w2, _, _, exact = _unbiased_w2(runs)
    if 10 * smallest not in run.generations:
        return Measurement({"median_ratio": np.inf, "mean_growth": 0}, "run too short (N < 10M)")
    median_w2 = np.median(w2, axis=1)
    row_10m = run.row(10 * smallest)
    ratio = median_w2[-1] / median_w2[row_10m]
    mean_growth = exact[-1] / exact[10 * smallest]
    return Measurement({"median_ratio": float(ratio), "mean_growth": float(mean_growth)},
                       f"median W2² {median_w2[row_10m]:.3f} → {median_w2[-1]:.3f} "
                       f"(×{ratio:.2f}); exact E[W2²] ×{mean_growth:.1f}")


def _measure_mc_mean_limit(runs: "GaussianRuns") -> Measurement:
    ratios, texts = [], []
    for size in runs.sample_sizes:
        run = runs.sweep.get(("unbiased", size))
        if run is None or run.n_generations < 10 * size:
            continue
        breakdown = mc_breakdown_generation(run, fraction=0.5, for_good=False)
        ratios.append(None if breakdown is None else breakdown / size)
        texts.append(f"M = {size}: n* = {breakdown} "
                     f"({'—' if breakdown is None else f'{breakdown / size:.1f}M'})")
    return Measurement(ratios, "; ".join(texts) or "no M with N ≥ 10M")


def _measure_tails_first(runs: "GaussianRuns") -> Measurement:
    ratios, texts = [], []
    for size in runs.sample_sizes:
        for level in (0.9, 0.5):
            generation, median_std, share = tails_first_share(runs.sweep["unbiased", size],
                                                              std_level=level)
            if generation is not None:
                ratios.append((1 - share) / (1 - median_std))
                texts.append(f"M = {size}, n = {generation}: σ −{1 - median_std:.0%}, "
                             f"3σ tail −{1 - share:.0%}")
    return Measurement(ratios, "; ".join(texts) or "σ never fell to 0.9σ")


def _measure_non_gaussian_start(runs: "GaussianRuns") -> Measurement:
    """Every non-Gaussian D_0 at n = 10M: median σ_n, and whether the exact median for a
    Gaussian D_0 lies between the simulated 25% and 75% quantiles."""
    median_10m, inside_iqr, texts = [], [], []
    for name, run in runs.start_runs.items():
        if runs.starts[name].w2_squared_floor < 1e-9:  # the Gaussian reference D_0
            continue
        size = int(run.sizes[0])
        if run.n_generations < 10 * size:
            median_10m.append(np.inf)
            inside_iqr.append(False)
            texts.append(f"{name}: run too short (N < 10M)")
            continue
        row = _nearest_row(run, 10 * size)
        low, middle, high = np.quantile(run.std[row], [0.25, 0.5, 0.75])
        exact = _exact_median_std(size, int(run.generations[row]), "unbiased")
        median_10m.append(float(middle))
        inside_iqr.append(bool(low <= exact <= high))
        texts.append(f"{name}: median σ at n = {run.generations[row]:,} {middle:.3g} "
                     f"(25–75%: {low:.3g}–{high:.3g}; Gaussian D_0 exact {exact:.3g})")
    return Measurement({"median_10m": median_10m, "inside_iqr": inside_iqr}, "; ".join(texts))


def _measure_accumulate_bounded(runs: "GaussianRuns") -> Measurement:
    accumulate, replace = runs.policies["accumulate"], runs.policies["replace (constant M)"]
    size = int(accumulate.sizes[0])
    first_error = float(theory.expected_w2_squared([size], accumulate.estimator)[0])
    acc_mean, _ = mc_mean_with_se(accumulate.w2_squared())
    rep_mean, _ = mc_mean_with_se(replace.w2_squared())
    mean_limit = theory.accumulate_expected_mean_error(size, accumulate.n_generations,
                                                       accumulate.estimator)[-1] * size
    return Measurement({"accumulate_ratio": acc_mean[-1] / first_error,
                        "replace_ratio": rep_mean[-1] / first_error},
                       f"E[W2²]/E[W2²₀] at n = {accumulate.n_generations}: accumulate "
                       f"×{acc_mean[-1] / first_error:.2f}, replace "
                       f"×{rep_mean[-1] / first_error:.0f}; exact E|μ_N−μ|² = "
                       f"{mean_limit:.3f}·σ²/M (π²/6 = {math.pi ** 2 / 6:.3f})")


def _measure_growing_schedules(runs: "GaussianRuns") -> Measurement:
    z_scores, growth = {}, {}
    for key, label in (("i", "growing, Mᵢ ∝ i"), ("i2", "growing, Mᵢ ∝ i²"),
                       ("constant", "replace (constant M)")):
        spec = next(spec for spec in runs.specs if spec.label == label)
        run = runs.policies[label]
        exact = theory.expected_w2_squared(spec.theory_schedule(run.n_generations),
                                           run.estimator)
        mean, se = mc_mean_with_se(run.w2_squared()[-1])
        if key != "constant":
            z_scores[key] = float((mean - exact[-1]) / se)
        growth[key] = float(exact[-1] / exact[run.n_generations // 10] - 1)
    return Measurement({"z": z_scores, "decade_growth": growth},
                       f"(MC − exact)/SE: ∝ i {z_scores['i']:+.1f}, ∝ i² {z_scores['i2']:+.1f}; "
                       f"exact growth over the last decade: ∝ i² {growth['i2']:.2%}, ∝ i "
                       f"{growth['i']:.0%}, constant {growth['constant']:.0%}")


def _measure_mix_real_stops(runs: "GaussianRuns") -> Measurement:
    medians, collapsed, texts, last = [], [], [], None
    for spec in runs.specs:
        if spec.label.startswith("mix_real"):
            run = runs.policies[spec.label]
            medians.append(float(np.median(run.std[-1])))
            collapsed.append(int((run.std[-1] < 0.1).sum()))
            texts.append(f"{spec.label}: median σ = {medians[-1]:.2f}")
            last = run.n_generations
    return Measurement({"medians": medians, "collapsed": collapsed},
                       "; ".join(texts) + f" at n = {last}")


def _measure_subsample_drifts(runs: "GaussianRuns") -> Measurement:
    subsample, accumulate = runs.policies["accumulate_subsample"], runs.policies["accumulate"]
    last = subsample.n_generations
    w2 = subsample.w2_squared()
    difference = w2[-1] - w2[subsample.row(last // 10)]
    drift_z = difference.mean() / (difference.std(ddof=1) / math.sqrt(difference.size))
    acc_w2 = accumulate.w2_squared()[accumulate.row(last)]
    excess = w2[-1].mean() - acc_w2.mean()
    excess_z = excess / math.sqrt(w2[-1].var(ddof=1) / w2.shape[1]
                                  + acc_w2.var(ddof=1) / acc_w2.size)
    return Measurement({"drift_z": float(drift_z), "excess_z": float(excess_z)},
                       f"E[W2²] {w2[subsample.row(last // 10)].mean():.4f} (n = {last // 10}) "
                       f"→ {w2[-1].mean():.4f} (n = {last}), change {drift_z:+.1f} SE; "
                       f"accumulate {acc_w2.mean():.4f} ({excess_z:+.1f} SE)")


def _measure_exact_sampler(runs: "GaussianRuns") -> Measurement:
    samplers = runs.samplers
    return Measurement([samplers.ks_std.pvalue, samplers.ks_mean.pvalue],
                       f"KS p = {samplers.ks_std.pvalue:.2f} (σ̂), {samplers.ks_mean.pvalue:.2f} "
                       f"(μ̂); {samplers.exact.n_seeds} seeds, M = {int(samplers.exact.sizes[0])}, "
                       f"N = {samplers.exact.n_generations}")  # timings: in the text only


MEASUREMENTS = {
    "sigma-collapses": _measure_sigma_collapses,
    "median-digamma": _measure_median_digamma,
    "w2-diverges-unbiased": _measure_w2_diverges_unbiased,
    "w2-diverges-biased": _measure_w2_diverges_biased,
    "pooled-variance-grows": _measure_pooled_variance_grows,
    "typical-levels-off": _measure_typical_levels_off,
    "mc-mean-limit": _measure_mc_mean_limit,
    "tails-first": _measure_tails_first,
    "non-gaussian-start": _measure_non_gaussian_start,
    "accumulate-bounded": _measure_accumulate_bounded,
    "growing-schedules": _measure_growing_schedules,
    "mix-real-stops": _measure_mix_real_stops,
    "subsample-drifts": _measure_subsample_drifts,
    "exact-sampler": _measure_exact_sampler,
}
"""Claim id -> the function measuring it on the runs (one per declared claim)."""


def evaluate_claims(record, runs: "GaussianRuns") -> None:
    """Measure every declared claim on ``runs`` and record its verdict."""
    record.evaluate_all(MEASUREMENTS, runs)
