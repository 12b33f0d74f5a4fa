"""The error-sources chapter's claims: every criterion (:func:`declare_claims`, fixed before the
run from the profile settings) and every measurement it is applied to (:func:`evaluate_claims`,
one ``_measure_*`` function per claim, each reading only the runs, so that the tests can apply
the same criteria to runs without the effect). Monte-Carlo tolerances are in standard errors of
the estimate; the exact (infinite-data) EM run is held to 1e-8.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, NamedTuple

import numpy as np

from ..core.stats import mc_mean_with_se
from ..gaussian import theory as gaussian_theory
from .experiments import (ErrorSourceRuns, em_label, kde_sample_size, kde_theory_mean_error,
                          kde_theory_variance)
from .family import SEPARATION
from .theory import exact_kde_variance

__all__ = ["declare_claims", "evaluate_claims", "Measurement", "MEASUREMENTS"]


def declare_claims(record, settings: Mapping[str, Any]) -> None:
    """Fix every claim's criterion before the experiments run: four paper claims (the three
    error sources and how they combine) and two checks of this chapter's own derivations.

    Three statements are identities of exact, infinite-data runs and can only fail through a
    bug, so they are tests, not rows (tests/test_error_sources.py): the expressivity error is
    made once, at the first fit (the paper's statement); the infinite-data KDE adds exactly h²
    per generation; and the KDE's exact recursions under accumulate and mix_real."""
    small, large = settings["small_sample_size"], settings["large_sample_size"]
    record.declare_claim(
        "statistical-only", "Finite samples alone make the fitted Gaussian collapse; the error "
        "disappears as the number of samples grows",
        "statistical approximation error: the primary error, it vanishes as M → ∞",
        f"M = {small}: median σ_N < 0.1 at the last generation N, and the exact median lies "
        f"inside the simulated 45–55% quantiles; M = {large:,}: the 10–90% band of σ_N lies "
        "within [0.95, 1.05]",
        reproduced_if=lambda v: v["small_median"] < 0.1 and v["median_inside"]
        and v["large_low"] >= 0.95 and v["large_high"] <= 1.05,
        partially_if=lambda v: v["small_median"] < 0.1 and v["large_low"] >= 0.9,
        kind="paper", where="Nature, 'Statistical approximation error'")
    record.declare_claim(
        "approximation-em", "An imperfect procedure alone — infinite data, a family that "
        "contains the truth — still changes the distribution generation after generation: EM "
        "stopped early keeps the variance but sharpens the modes, and the tails vanish",
        "functional approximation error: arises even with infinite data and perfect "
        "expressivity (the EM example is this chapter's)",
        "for the fewest EM iterations: |Vₙ − 1| < 1e-8 at every generation, the mass outside "
        "D₀'s central 99% falls below half its D₀ value (1%) by the last generation and the W2² "
        "to D₀ at least doubles; with the most iterations the tail mass stays within 10% of 1% "
        "(partially: the tail mass falls below 0.9%)",
        reproduced_if=lambda v: v["variance_error"] < 1e-8 and v["fewest_tail"] < 0.005
        and v["fewest_w2_growth"] >= 2 and abs(v["most_tail"] / 0.01 - 1) < 0.1,
        partially_if=lambda v: v["variance_error"] < 1e-8 and v["fewest_tail"] <= 0.009,
        kind="paper", where="Nature, 'Functional approximation error'",
        revised="2026-12-02: the negative control (EM run to convergence) passed the old "
                "thresholds through rounding (tail mass 0.0099999968 < 1%, W2² ×1.04 at 1e-13); "
                "was: W2² grows (> 1×), partially: tail mass < 1%")
    record.declare_claim(
        "errors-compound", "Errors can compound: expressivity and statistical errors add",
        "errors compound across generations; more often than not they cascade (paper's text, "
        "paraphrased)",
        f"M = {small}, generation 1: MC mean W2² to D₀ with both errors lies within ±10% of the "
        "sum of the parts (expressivity floor + statistical-only MC mean) and above the larger "
        "part by more than 4 SE (partially: above the larger part only)",
        reproduced_if=lambda v: abs(v["ratio_to_sum"] - 1) <= 0.1 and v["z"] > 4,
        partially_if=lambda v: v["z"] > 4,
        kind="paper", where="Nature, the three sources of error (how they combine)")
    record.declare_claim(
        "errors-cancel", "Errors can cancel: with h² = σ²/M the KDE's kernel inflation offsets "
        "the finite-sample shrinkage",
        "better expressiveness can counteract statistical noise as well as compound it "
        "(paper's text, paraphrased; the KDE example is this chapter's)",
        f"KDE, M = {settings['kde_sample_size']}, h² = σ²/M: MC mean V_N within 4 SE of σ² at "
        "the last generation, while the statistical error alone leaves median σ²_N ≤ 0.5σ² and "
        "the approximation error alone V_N ≥ 1.5σ²",
        reproduced_if=lambda v: abs(v["z"]) <= 4 and v["statistical"] <= 0.5
        and v["approximation"] >= 1.5,
        kind="paper", where="Nature, the three sources of error (how they combine)")
    record.declare_claim(
        "kde-recursion", "A KDE refitted to M samples of itself: E V_{n+1} = (1 − 1/M) E Vₙ + h², "
        "so the variance goes to M h²",
        "not in the paper (derived here)",
        "every bandwidth: |MC mean − exact E Vₙ| ≤ 4 SE at generations 1, M/10, M, 3M and the "
        "last, and the exact E V_N within 2% of M h² when N ≥ 5M",
        reproduced_if=lambda v: v["max_z"] <= 4 and (v["n_over_m"] < 5 or v["max_gap"] <= 0.02),
        partially_if=lambda v: v["max_z"] <= 6,
        kind="check", where="this chapter's derivation, checked by simulation")
    record.declare_claim(
        "cancel-is-partial", "The cancellation is partial: the location still drifts",
        "not in the paper (derived here)",
        "the same KDE chain: MC mean of (m_N − μ)² within 4 SE of the exact (N + 1)σ²/M and "
        "≥ 10× its generation-0 value σ²/M",
        reproduced_if=lambda v: abs(v["z"]) <= 4 and v["growth"] >= 10,
        kind="check", where="this chapter's derivation, checked by simulation")


class Measurement(NamedTuple):
    """What a claim's criterion is applied to (``value``), how it reads in the claims table
    (``measured``), and an optional note."""

    value: Any
    measured: str
    note: str = ""


def _measure_statistical_only(runs: ErrorSourceRuns) -> Measurement:
    small, large = runs.small_sample_size, runs.large_sample_size
    run_small, run_large = runs.statistical[small], runs.statistical[large]
    last = run_small.generations[-1]
    exact_median = float(np.sqrt(gaussian_theory.variance_quantiles([0.5], small, [last],
                                                                    "unbiased")[0, 0]))
    low45, median, high55 = np.quantile(run_small.std[-1], [0.45, 0.5, 0.55])
    large_low, large_high = np.quantile(run_large.std[-1], [0.1, 0.9])
    return Measurement({"small_median": median, "median_inside": low45 <= exact_median <= high55,
                        "large_low": large_low, "large_high": large_high},
                       f"M = {small}: median σ_N = {median:.4f} (exact {exact_median:.4f}) at "
                       f"N = {last:,}; M = {large:,}: 10–90% of σ_N = [{large_low:.4f}, "
                       f"{large_high:.4f}]")


def _measure_approximation_em(runs: ErrorSourceRuns) -> Measurement:
    em = runs.em
    fewest, most = em[min(em)], em[max(em)]
    variance_error = max(float(np.abs(run["variance"] - 1).max()) for run in em.values())
    w2 = fewest["w2_squared"]
    finite = np.flatnonzero(np.isfinite(w2))
    growth = float(w2[finite[-1]] / w2[finite[1]]) if len(finite) > 1 else float("nan")
    return Measurement({"variance_error": variance_error, "fewest_tail": fewest["tail_mass"][-1],
                        "fewest_w2_growth": growth, "most_tail": most["tail_mass"][-1]},
                       f"max |Vₙ − 1| = {variance_error:.1e}; tail mass at N: "
                       + ", ".join(f"{em_label(k)} {run['tail_mass'][-1]:.2%}"
                                   for k, run in em.items())
                       + f"; W2² to D₀ ×{growth:.0f} from n = {finite[1]} to {finite[-1]} "
                       f"({em_label(min(em))})")


def _measure_kde_recursion(runs: ErrorSourceRuns) -> Measurement:
    zs, gaps, n_over_m = [], [], None
    for bandwidth, run in runs.kde.items():
        size, horizon = kde_sample_size(run), run.n_generations
        checks = sorted({g for g in (1, size // 10, size, 3 * size, horizon) if g <= horizon})
        exact = kde_theory_variance(run, bandwidth)
        mean, se = mc_mean_with_se(run["variance"][checks])
        zs.append(float(np.abs((mean - exact[checks]) / se).max()))
        gaps.append(abs(exact[-1] / (size * bandwidth ** 2) - 1))
        n_over_m = horizon / size
    return Measurement({"max_z": max(zs), "max_gap": max(gaps), "n_over_m": n_over_m},
                       f"max |z| = {max(zs):.1f} over {len(runs.kde)} bandwidths; exact E V_N / "
                       f"(M h²) − 1 up to {max(gaps):.1%}")


def _measure_errors_compound(runs: ErrorSourceRuns) -> Measurement:
    floor, bimodal = runs.expressivity_floor, runs.bimodal
    run_small = runs.statistical[runs.small_sample_size]
    start = gaussian_theory.bimodal_start(SEPARATION)
    both = start.w2_squared_to_gaussian(bimodal.mean, bimodal.std)[bimodal.row(1)]
    alone = run_small.w2_squared()[run_small.row(1)]
    excess = both.mean() - max(floor, alone.mean())
    se = math.sqrt(both.var(ddof=1) / both.size + alone.var(ddof=1) / alone.size)
    ratio = both.mean() / (floor + alone.mean())
    return Measurement({"ratio_to_sum": ratio, "z": excess / se},
                       f"generation 1: both {both.mean():.4f}, statistical only "
                       f"{alone.mean():.4f}, expressivity only {floor:.4f}: both / (sum of the "
                       f"parts) = {ratio:.2f}, {excess / se:.1f} SE above the larger part")


def _measure_errors_cancel(runs: ErrorSourceRuns) -> Measurement:
    cancel, bandwidth = runs.cancelling, runs.cancelling_bandwidth
    run_small = runs.statistical[runs.small_sample_size]
    mean, se = mc_mean_with_se(cancel["variance"][-1])
    horizon = cancel.n_generations
    stat_row = run_small.row(horizon) if horizon in run_small.generations else -1
    stat_median = float(np.median(run_small.std[stat_row] ** 2))
    approximation = float(exact_kde_variance(bandwidth, horizon)[-1])
    return Measurement({"z": (mean - 1) / se, "statistical": stat_median,
                        "approximation": approximation},
                       f"N = {horizon:,}: both {mean:.3f} ± {se:.3f} (MC mean ± SE); statistical "
                       f"only: median σ² = {stat_median:.2g}; approximation only: "
                       f"{approximation:.2f}")


def _measure_cancel_is_partial(runs: ErrorSourceRuns) -> Measurement:
    cancel = runs.cancelling
    mean_error, se_error = mc_mean_with_se(cancel["mean"][-1] ** 2)
    exact = kde_theory_mean_error(cancel, runs.cancelling_bandwidth)[-1]
    growth = exact * kde_sample_size(cancel)
    return Measurement({"z": (mean_error - exact) / se_error, "growth": growth},
                       f"MC mean (m_N − μ)² = {mean_error:.3f} ± {se_error:.3f}, exact "
                       f"{exact:.3f} = {growth:.0f} × σ²/M")


MEASUREMENTS = {
    "statistical-only": _measure_statistical_only,
    "approximation-em": _measure_approximation_em,
    "errors-compound": _measure_errors_compound,
    "errors-cancel": _measure_errors_cancel,
    "kde-recursion": _measure_kde_recursion,
    "cancel-is-partial": _measure_cancel_is_partial,
}
"""Claim id -> the function measuring it on the runs (one per declared claim)."""


def evaluate_claims(record, runs: ErrorSourceRuns) -> None:
    """Measure every declared claim on ``runs`` and record its verdict."""
    for claim_id, measure in MEASUREMENTS.items():
        value, measured, note = measure(runs)
        record.evaluate(claim_id, value, measured, note=note)
