"""Quantities derived from the Gaussian runs, and the chapter's text built from them.

The derived quantities (where the Monte-Carlo mean stops resolving E[σ²_n], the median σ_n
against its exact value, the tail share at a given σ loss) are shared by the metrics
(:mod:`.experiments`), the claims (:mod:`.claims`) and the chapter's tables; the ``*_markdown``
functions are the chapter's text cells.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
from scipy import stats

from ..core.stats import mc_mean_with_se, median_confidence_interval
from . import theory
from .trajectories import Trajectories

if TYPE_CHECKING:  # for type hints only: experiments imports this module
    from .experiments import GaussianRuns, PolicySpec

__all__ = [
    "mc_breakdown_generation", "breakdown_generations", "median_std_table", "tails_first_share",
    "median_table_markdown", "breakdown_markdown", "starts_markdown", "scale_table",
    "policy_summary_markdown", "sampler_markdown", "claims_list_markdown", "key_headlines",
]


# =============================================================================== quantities
def mc_breakdown_generation(run: Trajectories, n_se: float = 3.0,
                            fraction: float | None = None, for_good: bool = True) -> int | None:
    """Where the MC mean of σ²_n over the seeds stops resolving the exact E[σ²_n]: it falls
    below it by more than ``n_se`` standard errors, or, if ``fraction`` is given, below
    ``fraction``·E[σ²_n] ("far below"). ``for_good``: the first recorded generation from which
    on it stays there (a lucky path can lift the mean back for a while); otherwise the first
    generation where it happens at all. None if it never happens."""
    mean, se = mc_mean_with_se(run.std ** 2)
    expected = theory.expected_variance(run.theory_sizes(), run.estimator)[run.generations]
    if fraction is None:
        resolved = mean + n_se * se >= expected
    else:
        resolved = mean >= fraction * expected
    if not for_good:
        missed = np.nonzero(~resolved)[0]
        return int(run.generations[missed[0]]) if missed.size else None
    if resolved[-1]:
        return None
    last_resolved = np.nonzero(resolved)[0]
    first_missed = last_resolved[-1] + 1 if last_resolved.size else 0
    return int(run.generations[first_missed])


def breakdown_generations(runs: "GaussianRuns") -> dict[int, tuple[int | None, int | None]]:
    """M -> (first generation where the MC mean of σ²_n falls below σ²/2, first from which it
    stays > 3 SE below σ² for good), unbiased, for each chapter M whose run reaches N ≥ 10M."""
    breakdown = {}
    for size in runs.sample_sizes:
        run = runs.sweep["unbiased", size]
        if run.n_generations >= 10 * size:
            breakdown[size] = (mc_breakdown_generation(run, fraction=0.5, for_good=False),
                               mc_breakdown_generation(run, n_se=3, for_good=True))
    return breakdown


def median_std_table(sweep: Mapping[tuple[str, int], Trajectories], generation: int) -> dict:
    """estimator -> M -> {"simulated": median σ̂ over seeds, "theory": exact median,
    "ci_low"/"ci_high": its 99.9% CI} at ``generation`` (runs that reach it)."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for (estimator, size), run in sweep.items():
        if run.n_generations < generation:
            continue
        values = run.std[run.row(generation)]
        low, high = median_confidence_interval(values)
        exact = math.sqrt(theory.variance_quantiles([0.5], size, [generation], estimator)[0, 0])
        table.setdefault(estimator, {})[str(size)] = {
            "simulated": float(np.median(values)), "theory": exact,
            "ci_low": float(low), "ci_high": float(high)}
    return table


def tails_first_share(run: Trajectories, k: float = 3.0, std_level: float = 0.9) -> tuple:
    """At the first recorded generation where the median σ_n ≤ ``std_level``·σ:
    (generation, median σ_n, median share of the original ±kσ tail mass still assigned);
    (None, None, None) if never reached."""
    median_std = np.median(run.std, axis=1)
    reached = np.nonzero(median_std <= std_level)[0]
    if not reached.size:
        return None, None, None
    row = reached[0]
    share = np.median(theory.tail_share(k, run.mean[row], run.std[row]))
    return int(run.generations[row]), float(median_std[row]), float(share)


# =============================================================================== chapter text
def claims_list_markdown(record) -> str:
    """The declared claims of ``record`` as a Markdown list (:meth:`ChapterRecord.claims_markdown
    <collapse.publish.records.ChapterRecord.claims_markdown>`: claim, paper claim or check,
    criterion)."""
    return record.claims_markdown()


def key_headlines(runs: "GaussianRuns", generation: int = 1000) -> dict[str, str]:
    """The chapter's headline numbers for the "Key results" box, as shown: the median σ_n at
    ``generation`` for the smallest M (both estimators, with the exact median), and the exact
    E[W2²] at the last generation for that M (unbiased: growing; ``np.std``: below 2σ²)."""
    size = min(runs.sample_sizes)
    table = median_std_table(runs.sweep, generation)
    median = {name: table[name][str(size)] for name in theory.ESTIMATORS
              if str(size) in table.get(name, {})}
    last = runs.sweep["unbiased", size].n_generations
    w2 = {name: theory.expected_w2_squared(runs.sweep[name, size].theory_sizes(), name)[-1]
          for name in theory.ESTIMATORS}
    shown = {}
    if median:
        shown[f"Median fitted $\\sigma_n$ at $n = {_tex(generation)}$, $M = {_tex(size)}$ "
              f"({runs.n_seeds:,} seeds)"] = ", ".join(
            f"{_number(entry['simulated'])} ({_ESTIMATOR_NAMES[name]}; exact "
            f"{_number(entry['theory'])})"
            for name, entry in median.items())
    shown[f"Exact $\\mathbb E[W_2^2]$ at $n = {_tex(last)}$, $M = {_tex(size)}$"] = (
        f"{w2['unbiased']:.3g} with the unbiased estimator (still growing), "
        f"{w2['biased']:.2f} with `np.std` (never above $2\\sigma^2$)")
    return shown


def _number(value: float) -> str:
    """``value`` to 3 significant digits, powers of ten as maths (3.64e-05 -> 3.64 × 10⁻⁵)."""
    shown = f"{value:.3g}"
    if "e" not in shown:
        return shown
    mantissa, exponent = shown.split("e")
    return f"${mantissa} \\times 10^{{{int(exponent)}}}$"


def _tex(number: int) -> str:
    """An integer with thousands separators for TeX maths (1{,}000)."""
    return f"{number:,}".replace(",", "{,}")


_ESTIMATOR_NAMES = {"unbiased": "unbiased", "biased": "`np.std`"}


def median_table_markdown(runs: "GaussianRuns", generation: int = 1000) -> str:
    """A Markdown table of the median σ̂ at ``generation`` per estimator and M: simulated,
    its 99.9% distribution-free CI, and the exact theory median."""
    subscript = str(generation).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))
    rows = [f"| estimator | M | simulated median σ̂{subscript} | 99.9% CI | exact theory |",
            "|---|---|---|---|---|"]
    for estimator, by_size in median_std_table(runs.sweep, generation).items():
        for size, entry in sorted(by_size.items(), key=lambda item: int(item[0])):
            rows.append(f"| {estimator} | {int(size):,} | {entry['simulated']:.4g} | "
                        f"[{entry['ci_low']:.4g}, {entry['ci_high']:.4g}] | "
                        f"{entry['theory']:.4g} |")
    return "\n".join(rows)


def _describe_generation(generation: int | None, size: int) -> str:
    return "never" if generation is None else f"n = {generation:,} ({generation / size:.1f} M)"


def breakdown_markdown(runs: "GaussianRuns") -> str:
    """Where the Monte-Carlo mean of σ²_n stops resolving σ², against the lognormal heuristic
    (:func:`collapse.gaussian.theory.mc_resolution_limit`)."""
    seeds = runs.n_seeds
    where = "; ".join(
        f"{_describe_generation(half, size)} for M = {size:,} (and stays more than 3 standard "
        f"errors below σ² from {_describe_generation(for_good, size)} on)"
        for size, (half, for_good) in breakdown_generations(runs).items())
    return (f"With {seeds:,} seeds, the Monte-Carlo mean of σ²ₙ (unbiased) first falls below "
            f"σ²/2 at {where}. A lognormal heuristic — the mean of σ²ₙ is carried by paths √v "
            f"standard deviations above the median, v = Var log σ²ₙ ≈ 2n/M, and {seeds:,} seeds "
            f"reach about z = {stats.norm.isf(1 / seeds):.1f} — puts the limit at n ≈ "
            f"{theory.mc_resolution_limit(seeds, 100) / 100:.1f} M.")


def starts_markdown(runs: "GaussianRuns") -> str:
    """κ and the best-Gaussian floor of W2² of every starting distribution D_0."""
    return "; ".join(f"{name}: κ = {start.quantile_correlation:.4f}, best-Gaussian floor "
                     f"W2² = {start.w2_squared_floor:.4f}" for name, start in runs.starts.items())


def scale_table(specs: Sequence["PolicySpec"], sample_size: int) -> str:
    """A Markdown table of the scale each policy runs at."""
    lines = ["| policy | sampler | M (base) | seeds | generations |", "|---|---|---|---|---|"]
    for spec in specs:
        lines.append(f"| `{spec.label}` | {spec.sampler} | {sample_size} | {spec.n_seeds} | "
                     f"{spec.n_generations} |")
    return "\n".join(lines)


def policy_summary_markdown(runs: Mapping[str, Trajectories], specs: Sequence["PolicySpec"]) \
        -> str:
    """A Markdown table of every policy's last generation: median σ_N (10–90%), MC mean W2²
    ± SE, and the exact E[W2²] where the schedule has one."""
    lines = ["| policy | last generation N | median σ_N (10–90%) | E[W2²] at N: MC mean ± SE "
             "| exact E[W2²] |", "|---|---|---|---|---|"]
    for spec in specs:
        run = runs[spec.label]
        low, middle, high = np.quantile(run.std[-1], [0.1, 0.5, 0.9])
        mean, se = mc_mean_with_se(run.w2_squared()[-1])
        exact = "—"
        if spec.theory_schedule is not None:
            value = theory.expected_w2_squared(spec.theory_schedule(run.n_generations),
                                               run.estimator)[-1]
            exact = f"{value:.4g}"
        lines.append(f"| `{spec.label}` | {run.n_generations:,} | {middle:.3g} ({low:.3g}–"
                     f"{high:.3g}) | {mean:.4g} ± {se:.2g} | {exact} |")
    return "\n".join(lines)


def sampler_markdown(runs: "GaussianRuns") -> str:
    """The sampler comparison's timings, and the naive sampler's cost scaled up to the
    `book` sweep (M = 10⁵, 10⁴ generations, 1,000 seeds)."""
    samplers = runs.samplers
    size, seeds = int(samplers.exact.sizes[0]), samplers.exact.n_seeds
    generations = samplers.exact.n_generations
    naive_hours = (samplers.naive.seconds / 3600 * (1e5 / size) * (1e4 / generations)
                   * (1000 / seeds))
    return (f"M = {size:,}, {seeds} seeds × {generations} generations through the loop "
            f"(fastest of repeated runs): exact sampler {samplers.exact.seconds * 1000:.1f} ms, "
            f"naive sampler {samplers.naive.seconds:.2f} s — the exact sampler is "
            f"**{samplers.speed_ratio:.0f}× faster** in this run. Its cost per generation does "
            f"not depend on M, the naive one's grows linearly with M: scaled up linearly, the "
            f"naive sampler would need about {naive_hours:.0f} hours for one M = 10⁵ run of "
            f"10⁴ generations × 1,000 seeds.")
