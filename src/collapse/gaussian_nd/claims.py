"""The d-dimensional Gaussian chapter's claims: every criterion (:func:`declare_claims`, fixed
before the run) and every measurement it is applied to (:func:`evaluate_claims`, one
``_measure_*`` function per claim, each reading only the runs).

Paper claims (``kind="paper"``: Theorem 3.1 as stated, in d dimensions) come first; each has a
negative control in ``tests/test_gaussian_nd.py``. Checks follow: theory derived here (the
Wishart law of log det, the spectrum, the ML bound), the exact sampler, and the headline
statements of Kazdan et al. ("Collapse or Thrive?"), another paper's claims beyond Shumailov et
al.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, NamedTuple

import numpy as np

from ..core.stats import mc_mean_with_se, median_confidence_interval
from . import theory

if TYPE_CHECKING:  # for type hints only
    from .experiments import NDRuns, Run

__all__ = ["declare_claims", "evaluate_claims", "Measurement", "MEASUREMENTS"]

_THEOREM = "Nature, Theorem 3.1 (multidimensional Gaussian, unbiased mean and covariance)"
_KAZDAN = ("Kazdan et al. 2024, 'Collapse or Thrive?' (arXiv 2410.16713), abstract and "
           "multivariate Gaussian experiments; their released sweep: d ∈ {1, 3, 10, 31, 100} × "
           "n ∈ {10, 32, 100, 316, 1000}, 100 iterations, 100 seeds, ML covariance")


def declare_claims(record, settings: Mapping[str, Any]) -> None:
    """Fix every claim's criterion from the chapter's profile ``settings`` (before any
    experiment runs)."""
    dim, size = settings["theorem_dim"], settings["theorem_sample_size"]
    at = f"d = {dim}, M = {size}"
    # ------------------------------------------------------------------ paper claims
    record.declare_claim(
        "covariance-collapses",
        "The fitted covariance Σₙ → 0 almost surely, in d dimensions",
        "Σ_n → 0 a.s. (Theorem 3.1)",
        f"{at}, both estimators, N ≥ 10M: at n ≈ M, 3M and 10M the exact median of log det Σ_n "
        "(a sum of log χ² terms, inverted from its characteristic function) lies in the 99.9% "
        "order-statistic CI of the simulated median, and at n ≈ 10M the simulated median of "
        "the largest eigenvalue of Σ_n is below 0.1σ² (partially: below 0.1σ², theory missed "
        "somewhere)",
        reproduced_if=lambda v: len(v["inside"]) > 0 and all(v["inside"])
        and max(v["top_eigenvalue_10m"]) < 0.1,
        partially_if=lambda v: len(v["top_eigenvalue_10m"]) > 0
        and max(v["top_eigenvalue_10m"]) < 0.1, kind="paper", where=_THEOREM)
    record.declare_claim(
        "w2-diverges",
        "E[W₂²(N(μₙ, Σₙ), D₀)] → ∞ with the unbiased estimator, in d dimensions",
        "E[W2²] → ∞ (Theorem 3.1)",
        f"{at}, unbiased: at every n ≤ M the MC mean of ‖μ_n − μ‖² lies within 4 SE of its exact "
        "dσ²Σ1/M_i (the divergent part) and the MC mean W2² within 4 SE of the exact bracket "
        "[d × the 1-D E[W2²], E‖μ_n − μ‖² + E tr Σ_n + dσ²] derived here; the lower end of the "
        "bracket grows ≥ 5× from n = M to n = 10M (partially: agreement, growth < 5×)",
        reproduced_if=lambda v: v["mean_error_z"] <= 4 and v["outside_bracket_z"] <= 4
        and v["growth"] >= 5,
        partially_if=lambda v: v["mean_error_z"] <= 4 and v["outside_bracket_z"] <= 4,
        kind="paper", where=_THEOREM,
        revised="2026-12-02: was 'grows ≥ 10×', which the exact lower end cannot reach over "
                "n = M … 10M (it grows about (10 + 1.8)/(1 + 0.45) ≈ 8× for M ≫ 1; ~1.8× with "
                "ML); seen on the smoke run, the threshold is now 5×")
    # ------------------------------------------------------------------ checks
    record.declare_claim(
        "w2-bounded-ml",
        "With the maximum-likelihood covariance E[W₂²] stays below 2dσ²",
        "derived here (the d-dimensional form of the 1-D chapter's np.std result)",
        f"{at}, ML: the MC mean W2² lies within 4 SE of the exact bracket (whose upper end is "
        "E‖μ_n − μ‖² + E tr Σ_n + dσ² = 2dσ² exactly) at every generation",
        reproduced_if=lambda v: v["outside_bracket_z"] <= 4, kind="check")
    record.declare_claim(
        "log-det-law", "log det Σₙ follows the exact law of a sum of log χ² terms",
        "derived here: (M−1)Σ̂ is Wishart, Bartlett's decomposition",
        "every grid `replace` cell with M > d and both theorem runs: the exact median of "
        "log det Σ_N at the last generation lies in the 99.9% order-statistic CI of the "
        "simulated median (partially: ≥ 90% of them)",
        reproduced_if=lambda v: len(v) > 0 and all(v),
        partially_if=lambda v: len(v) > 0 and np.mean(v) >= 0.9, kind="check")
    record.declare_claim(
        "spectrum-spreads", "The smallest directions die first: eigenvalue i decays at rate "
                            "rᵢ ≈ −i/M per generation",
        "derived here (Lyapunov exponents of a product of Bartlett factors); the paper's SI "
        "describes collapse onto the top directions for kernel density estimation",
        f"{at}, both estimators: for every i, the slope of the median log λ_i(Σ_n) between "
        "n = M and n = 10M lies within ±1/(2M) (half the gap between consecutive exponents) of "
        "r_i = ψ((M−i)/2) + ln 2 − ln c (partially: the slopes decrease with i)",
        reproduced_if=lambda v: len(v["max_error_in_gaps"]) > 0
        and max(v["max_error_in_gaps"]) <= 0.5,
        partially_if=lambda v: len(v["ordered"]) > 0 and all(v["ordered"]), kind="check")
    record.declare_claim(
        "exact-sampler-nd", "The Wishart sampler has the law of drawing all M points",
        "method (not a paper claim)",
        "two-sample KS tests of log det Σ_N, tr Σ_N and ‖μ_N − μ‖² at the last generation, "
        "exact against naive sampler: every p ≥ 0.01/3 (Bonferroni over the three)",
        reproduced_if=lambda v: min(v) >= 0.01 / 3, kind="check")
    record.declare_claim(
        "kazdan-replace-collapses", "Replace: the fit degrades in every cell of the grid",
        "Kazdan et al.: replacing data suffers model collapse",
        "every grid cell, `replace`: the MC mean of ‖μ_N − μ‖² at the last iteration ≥ 5× its "
        "exact first-iteration value dσ²/M, and in ≥ 90% of the cells with M > d the mean "
        "per-seed change of log det Σ from the first to the last iteration is negative by more "
        "than 4 SE (cells with M ≤ d: det Σ = 0 from the first fit) (partially: the mean-error "
        "condition only)",
        reproduced_if=lambda v: min(v["mean_error_ratio"]) >= 5
        and np.mean(v["log_det_falls"]) >= 0.9,
        partially_if=lambda v: min(v["mean_error_ratio"]) >= 5, kind="check", where=_KAZDAN)
    record.declare_claim(
        "kazdan-accumulate-bounded", "Accumulate: the fit stays close to the truth in every cell",
        "Kazdan et al.: accumulating data keeps models stable, losses do not diverge",
        "every grid cell, `accumulate`: the MC means of ‖μ_N − μ‖² and tr Σ_N at the last "
        "iteration lie within 4 SE of their exact expectations derived here, and the exact "
        "E‖μ_N − μ‖² is ≤ 2× the first iteration's (≈ π²/6 ×) (partially: in every cell the MC "
        "mean ‖μ_N − μ‖² is not above 2× the first iteration's exact value by more than 4 SE, "
        "theory missed somewhere)",
        reproduced_if=lambda v: max(v["z"]) <= 4 and max(v["exact_ratio"]) <= 2,
        partially_if=lambda v: all(v["bounded"]), kind="check", where=_KAZDAN,
        revised="2026-12-02: 'partially' was 'the exact ratio ≤ 2', a statement of theory "
                "alone, so the row could never be 'not reproduced' (seen when `replace` runs "
                "were swapped in for the test of this check); now it reads the MC means")
    record.declare_claim(
        "kazdan-subsample-between", "Accumulate-subsample: degrades slowly, between the two",
        "Kazdan et al.: fixed-size subsets of the accumulated data degrade gradually, not "
        "explosively",
        "every grid cell, `accumulate_subsample` (naive sampler): the MC means of ‖μ_N − μ‖² "
        "and tr Σ_N lie within 4 SE of their exact expectations derived here, and the MC mean "
        "‖μ_N − μ‖² is ordered accumulate < accumulate_subsample < replace in ≥ 90% of the "
        "cells (partially: the ordering only)",
        reproduced_if=lambda v: max(v["z"]) <= 4 and np.mean(v["ordered"]) >= 0.9,
        partially_if=lambda v: np.mean(v["ordered"]) >= 0.9, kind="check", where=_KAZDAN)


class Measurement(NamedTuple):
    """What a claim's criterion is applied to (``value``), how it reads in the claims table
    (``measured``), and an optional note."""

    value: Any
    measured: str
    note: str = ""


def _nearest(generations: Any, generation: int) -> int:
    return int(np.argmin(np.abs(np.asarray(generations) - generation)))


def _median_inside(values: np.ndarray, exact: float) -> bool:
    low, high = median_confidence_interval(values)
    return bool(low <= exact <= high)


def _exact_median_log_det(run: "Run", generation: int) -> float:
    return float(theory.log_det_quantiles([0.5], run.dim, run.sample_size, [generation],
                                          run.estimator)[0, 0])


def _measure_covariance_collapses(runs: "NDRuns") -> Measurement:
    inside, top, texts = [], [], []
    for estimator, run in runs.theorem.items():
        size = run.sample_size
        if run.n_generations < 10 * size:
            continue
        for multiple in (1, 3, 10):
            generation = multiple * size
            inside.append(_median_inside(run.log_det[generation],
                                         _exact_median_log_det(run, generation)))
        kept = sorted(run.spectrum)
        generation = kept[_nearest(kept, 10 * size)]
        top.append(float(np.median(run.spectrum[generation][:, 0])))
        texts.append(f"{estimator}: median λ_max at n = {generation:,} {top[-1]:.2g}σ², median "
                     f"log det/d {np.median(run.log_det[10 * size]) / run.dim:.2f} (exact "
                     f"{_exact_median_log_det(run, 10 * size) / run.dim:.2f})")
    return Measurement({"inside": inside, "top_eigenvalue_10m": top},
                       f"{sum(inside)}/{len(inside)} exact log det medians inside the 99.9% CI "
                       f"at n = M, 3M, 10M; " + "; ".join(texts))


def _bracket_z(run: "Run", last: int) -> float:
    """Largest distance, in SE, by which the MC mean W2² leaves the exact bracket at n ≤ last."""
    lower, upper = theory.w2_bounds(run.dim, run.sizes(), run.estimator)
    mean, se = mc_mean_with_se(run.w2[:last + 1])
    outside = np.maximum(lower[:last + 1] - mean, mean - upper[:last + 1])
    return float(np.max(outside / se))


def _measure_w2_diverges(runs: "NDRuns") -> Measurement:
    run = runs.theorem["unbiased"]
    size, sizes = run.sample_size, run.sizes()
    mean, se = mc_mean_with_se(run.mean_error[:size + 1])
    exact = theory.expected_mean_error(run.dim, sizes, "unbiased")[:size + 1]
    mean_error_z = float(np.max(np.abs(mean - exact) / se))
    lower, _ = theory.w2_bounds(run.dim, sizes, "unbiased")
    growth = float(lower[min(10 * size, run.n_generations)] / lower[size])
    bracket_z = _bracket_z(run, size)
    w2_mean, w2_se = mc_mean_with_se(run.w2[size])
    return Measurement({"mean_error_z": mean_error_z, "outside_bracket_z": bracket_z,
                        "growth": growth},
                       f"n ≤ {size}: max |MC − exact|/SE of ‖μ_n − μ‖² = {mean_error_z:.1f}; MC "
                       f"W2² at n = {size} {w2_mean:.2f} ± {w2_se:.2f} in [{lower[size]:.2f}, "
                       f"{theory.w2_bounds(run.dim, sizes, 'unbiased')[1][size]:.2f}] (largest "
                       f"excursion {bracket_z:+.1f} SE); lower bound ×{growth:.1f} from n = M "
                       f"to 10M")


def _measure_w2_bounded_ml(runs: "NDRuns") -> Measurement:
    run = runs.theorem["ml"]
    z = _bracket_z(run, run.n_generations)
    mean, se = mc_mean_with_se(run.w2[-1])
    return Measurement({"outside_bracket_z": z},
                       f"MC W2² at n = {run.n_generations:,} {mean:.2f} ± {se:.2f} (2dσ² = "
                       f"{2 * run.dim}); largest excursion outside the bracket {z:+.1f} SE")


def _measure_log_det_law(runs: "NDRuns") -> Measurement:
    inside, missed = [], []
    cells = [r for r in runs.grid_runs("replace") if not r.singular]
    for run in cells + list(runs.theorem.values()):
        ok = _median_inside(run.log_det[-1], _exact_median_log_det(run, run.n_generations))
        inside.append(ok)
        if not ok:
            missed.append(run.label)
    return Measurement(inside, f"{sum(inside)}/{len(inside)} inside"
                               + (f"; missed: {', '.join(missed)}" if missed else ""))


def _measure_spectrum_spreads(runs: "NDRuns") -> Measurement:
    errors, ordered, texts = [], [], []
    for estimator, run in runs.theorem.items():
        size = run.sample_size
        kept = sorted(run.spectrum)
        if run.n_generations < 10 * size or size not in kept or 10 * size not in kept:
            continue
        start, end = (np.median(np.log(run.spectrum[g]), axis=0) for g in (size, 10 * size))
        slopes = (end - start) / (9 * size)
        rates = theory.lyapunov_exponents(run.dim, size, estimator)
        errors.append(float(np.max(np.abs(slopes - rates)) * size))
        ordered.append(bool(np.all(np.diff(slopes) < 0)))
        texts.append(f"{estimator}: slopes ×M {slopes[0] * size:.2f} … {slopes[-1] * size:.2f} "
                     f"(exact {rates[0] * size:.2f} … {rates[-1] * size:.2f}), largest error "
                     f"{errors[-1]:.2f}/M")
    return Measurement({"max_error_in_gaps": errors, "ordered": ordered}, "; ".join(texts))


def _measure_exact_sampler(runs: "NDRuns") -> Measurement:
    samplers = runs.samplers
    p = {name: result.pvalue for name, result in samplers.ks.items()}
    return Measurement(list(p.values()),
                       "KS p = " + ", ".join(f"{value:.2f} ({name})" for name, value in p.items())
                       + f"; {samplers.exact.n_seeds} seeds, d = {samplers.exact.dim}, "
                       f"M = {samplers.exact.sample_size}, N = {samplers.exact.n_generations} "
                       f"(the speed ratio, a timing, is in the chapter's text)")


def _measure_kazdan_replace(runs: "NDRuns") -> Measurement:
    ratios, falls = [], []
    for run in runs.grid_runs("replace"):
        first = run.dim / run.sample_size  # exact E‖μ_0 − μ‖² = dσ²/M
        ratios.append(float(run.mean_error[-1].mean() / first))
        if not run.singular:
            change = run.log_det[-1] - run.log_det[0]
            mean, se = mc_mean_with_se(change)
            falls.append(bool(mean < -4 * se))
    return Measurement({"mean_error_ratio": ratios, "log_det_falls": falls},
                       f"‖μ_N − μ‖² / first-iteration value: {min(ratios):.1f} – "
                       f"{max(ratios):.1f}× over the cells; log det falls by > 4 SE in "
                       f"{sum(falls)}/{len(falls)} cells with M > d")


def _pool_z(run: "Run", subsample: bool) -> tuple[list[float], float]:
    """|MC − exact|/SE at the last iteration for ‖μ_N − μ‖² and tr Σ_N, and the exact
    E‖μ_N − μ‖² over the first iteration's."""
    mean_error, trace = theory.pool_expectations(run.dim, run.sample_size, run.n_generations,
                                                 run.estimator, subsample)
    z = []
    for values, exact in ((run.mean_error[-1], mean_error[-1]), (run.trace[-1], trace[-1])):
        mean, se = mc_mean_with_se(values)
        z.append(float(abs(mean - exact) / se))
    return z, float(mean_error[-1] / mean_error[0])


def _measure_kazdan_accumulate(runs: "NDRuns") -> Measurement:
    zs, ratios, bounded = [], [], []
    for run in runs.grid_runs("accumulate"):
        z, ratio = _pool_z(run, subsample=False)
        zs += z
        ratios.append(ratio)
        mean, se = mc_mean_with_se(run.mean_error[-1])
        bounded.append(bool(mean - 4 * se <= 2 * run.dim / run.sample_size))
    return Measurement({"z": zs, "exact_ratio": ratios, "bounded": bounded},
                       f"max |MC − exact|/SE over {len(ratios)} cells: {max(zs):.1f}; exact "
                       f"E‖μ_N − μ‖² / first iteration {min(ratios):.2f} – {max(ratios):.2f}")


def _measure_kazdan_subsample(runs: "NDRuns") -> Measurement:
    zs, ordered = [], []
    for run in runs.grid_runs("accumulate_subsample"):
        zs += _pool_z(run, subsample=True)[0]
        key = (run.dim, run.sample_size)
        means = [runs.grid[(*key, policy)].mean_error[-1].mean()
                 for policy in ("accumulate", "accumulate_subsample", "replace")]
        ordered.append(bool(means[0] < means[1] < means[2]))
    return Measurement({"z": zs, "ordered": ordered},
                       f"max |MC − exact|/SE over {len(ordered)} cells: {max(zs):.1f}; "
                       f"accumulate < subsample < replace in {sum(ordered)}/{len(ordered)} "
                       f"cells")


MEASUREMENTS = {
    "covariance-collapses": _measure_covariance_collapses,
    "w2-diverges": _measure_w2_diverges,
    "w2-bounded-ml": _measure_w2_bounded_ml,
    "log-det-law": _measure_log_det_law,
    "spectrum-spreads": _measure_spectrum_spreads,
    "exact-sampler-nd": _measure_exact_sampler,
    "kazdan-replace-collapses": _measure_kazdan_replace,
    "kazdan-accumulate-bounded": _measure_kazdan_accumulate,
    "kazdan-subsample-between": _measure_kazdan_subsample,
}
"""Claim id -> the function measuring it on the runs (one per declared claim)."""


def evaluate_claims(record, runs: "NDRuns") -> None:
    """Measure every declared claim on ``runs`` and record its verdict."""
    record.evaluate_all(MEASUREMENTS, runs)
