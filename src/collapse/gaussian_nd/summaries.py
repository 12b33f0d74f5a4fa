"""The d-dimensional Gaussian chapter's text cells, built from the runs (numbers are computed
here, never typed into the chapter)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..core.stats import median_confidence_interval
from . import theory
from .experiments import GRID_POLICIES

if TYPE_CHECKING:  # for type hints only
    from .experiments import NDRuns

__all__ = ["log_det_table_markdown", "rates_markdown", "sampler_markdown", "grid_cost_markdown",
           "key_headlines"]

_SHORT_NAMES = {"unbiased": "unbiased", "ml": "maximum likelihood"}


def _tex(number: int) -> str:
    """An integer with thousands separators for TeX maths (1{,}000)."""
    return f"{number:,}".replace(",", "{,}")


def key_headlines(runs: "NDRuns") -> dict[str, str]:
    """The "Key results" box's numbers, as shown: at the theorem runs' last generation N, the
    median log det Σ_N / d against its exact median, and the MC mean W2² against the exact
    bracket of E[W2²] (unbiased: growing; ML: below 2dσ²), per estimator."""
    from ..core.stats import mc_mean_with_se
    run = next(iter(runs.theorem.values()))
    where = (f"$n = {_tex(run.n_generations)}$, $d = {run.dim}$, $M = {_tex(run.sample_size)}$, "
             f"{run.n_seeds:,} seeds")
    log_det, w2 = [], []
    for estimator, r in runs.theorem.items():
        exact = theory.log_det_quantiles([0.5], r.dim, r.sample_size, [r.n_generations],
                                         estimator)[0, 0] / r.dim
        log_det.append(f"{np.median(r.log_det[-1]) / r.dim:.3g} ({_SHORT_NAMES[estimator]}; "
                       f"exact {exact:.3g})")
        lower, upper = theory.w2_bounds(r.dim, r.sizes(), estimator)
        mean, se = mc_mean_with_se(r.w2[-1])
        w2.append(f"{mean:.3g} ± {se:.2g} ({_SHORT_NAMES[estimator]}; exact bracket "
                  f"[{lower[-1]:.3g}, {upper[-1]:.3g}])")
    return {f"Median $\\log\\det\\Sigma_n / d$ at {where}": ", ".join(log_det),
            f"$W_2^2$ to the truth, MC mean ± SE ($2d\\sigma^2 = {2 * run.dim}$)": "; ".join(w2)}


def log_det_table_markdown(runs: "NDRuns") -> str:
    """Median log det Σ_n / d at n = M, 3M, 10M of the theorem runs: simulated (99.9% CI)
    against the exact median."""
    rows = ["| estimator | n | simulated median log det Σₙ / d | 99.9% CI | exact median |",
            "|---|---|---|---|---|"]
    for estimator, run in runs.theorem.items():
        for multiple in (1, 3, 10):
            generation = multiple * run.sample_size
            if generation > run.n_generations:
                continue
            values = run.log_det[generation] / run.dim
            low, high = median_confidence_interval(values)
            exact = theory.log_det_quantiles([0.5], run.dim, run.sample_size, [generation],
                                             estimator)[0, 0] / run.dim
            rows.append(f"| {estimator} | {generation:,} ({multiple}M) | "
                        f"{np.median(values):.4g} | [{low:.4g}, {high:.4g}] | {exact:.4g} |")
    return "\n".join(rows)


def rates_markdown(runs: "NDRuns") -> str:
    """The exact per-dimension collapse rates of log det at the theorem's (d, M), against the
    1-D rate at the same M, and the exponents of the extreme eigenvalues."""
    dim, size = runs.dim, runs.sample_size
    parts = []
    for estimator in theory.ESTIMATORS:
        rates = theory.lyapunov_exponents(dim, size, estimator)
        one_d = theory.lyapunov_exponents(1, size, estimator)[0]
        parts.append(f"{estimator}: log det Σₙ / d falls by {-rates.mean():.4f} per generation "
                     f"({-rates.mean() * size:.2f}/M; in one dimension {-one_d * size:.2f}/M), "
                     f"the largest eigenvalue by {-rates[0] * size:.2f}/M and the smallest by "
                     f"{-rates[-1] * size:.2f}/M")
    return f"At d = {dim}, M = {size}: " + "; ".join(parts) + "."


def sampler_markdown(runs: "NDRuns") -> str:
    """The sampler comparison's wall times, speed ratio and chain-generations per second."""
    samplers = runs.samplers
    exact, naive = samplers.exact, samplers.naive
    return (f"d = {exact.dim}, M = {exact.sample_size:,}, {exact.n_seeds} seeds × "
            f"{exact.n_generations} generations of `replace` through the loop (fastest of "
            f"repeated runs): exact sampler {exact.seconds * 1000:.1f} ms "
            f"({samplers.chain_generations_per_second('exact'):,.0f} chain-generations per "
            f"second), naive sampler {naive.seconds * 1000:.0f} ms "
            f"({samplers.chain_generations_per_second('naive'):,.0f} per second): the exact "
            f"sampler is **{samplers.speed_ratio:.0f}× faster** in this run. Its cost per "
            f"generation is O(d³) whatever M is; the naive one's is O(M d²).")


def grid_cost_markdown(runs: "NDRuns") -> str:
    """Wall and CPU seconds of the parallel jobs: theorem runs and grid cells per policy."""
    parts = []
    for policy in GRID_POLICIES:
        cells = runs.grid_runs(policy)
        heaviest = max(cells, key=lambda run: run.cpu_seconds)
        parts.append(f"`{policy}` ({cells[0].sampler} sampler) "
                     f"{sum(run.cpu_seconds for run in cells):.0f} s, most in d = "
                     f"{heaviest.dim}, M = {heaviest.sample_size} "
                     f"({heaviest.cpu_seconds:.0f} s)")
    theorem = sum(run.cpu_seconds for run in runs.theorem.values())
    return (f"CPU time of the jobs ({runs.n_jobs} in parallel, one thread each): theorem runs "
            f"{theorem:.0f} s; grid, {len(runs.grid)} cells: " + "; ".join(parts) + ".")
