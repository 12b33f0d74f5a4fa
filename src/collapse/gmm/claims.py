"""The GMM chapter's claims: each criterion, fixed before the run (:func:`declare_claims`), the
measurement it is applied to (one ``*_summary`` function per quantity, reading only recorded
histories, so that the tests can apply the same criteria to runs without the effect), and its
evaluation on the runs (:func:`evaluate_claims`). Every criterion of the chapter is here.

The authors stored one unseeded run. Their numbers are compared with this run's seeds through
intervals: a 95% seed-bootstrap interval of the median (is the effect there, and how strong
is the typical run?) and a 95% prediction interval for a *single* run, on a log scale (could
the authors' one run be a draw from ours?). A single run fixes an order of magnitude, not a
point.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..core.stats import bootstrap_interval
from .experiments import PAPER_FINAL_L2, PAPER_SPREAD_END, PAPER_SPREAD_START, GMMRuns
from .metrics import MixtureHistory, at_generation, single_run_interval

__all__ = ["KEY_GENERATION", "DRIFT_GENERATION", "LEVEL", "declare_claims", "evaluate_claims",
           "criteria_markdown", "tails_went_first", "spread_summary", "l2_summary",
           "drift_summary", "tails_summary", "spread_collapsed", "spread_collapsed_as_authors"]

KEY_GENERATION = 2000     # the authors' last snapshot (their spread 0.01)
DRIFT_GENERATION = 50     # "even at generation 50 the perception ... completely changes"
LEVEL = 0.95              # every interval of the chapter's claims
AUTHORS_RATIO = PAPER_SPREAD_END / PAPER_SPREAD_START
REVISED = "2026-12-02 (issue 12, a window on the authors' single unseeded run replaced by " \
          "intervals from the seeds)"


def tails_went_first(tail: int | None, bulk: int | None) -> bool:
    """Whether the tail mass halved (at generation ``tail``) before the bulk coverage did
    (``bulk``); None: it did not halve within the run."""
    return tail is not None and (bulk is None or tail < bulk)


def _median_at(values: np.ndarray, generation: int) -> float:
    return float(np.median(at_generation(values, generation)))


def _interval(values: np.ndarray) -> tuple[float, float]:
    """95% seed-bootstrap interval of the median of per-seed ``values`` (S,)."""
    return bootstrap_interval(values, np.median, level=LEVEL)


def _single_run(values: np.ndarray) -> tuple[float, float]:
    """95% prediction interval of one run's positive value, from the seeds (log scale)."""
    low, high = single_run_interval(np.log(values), LEVEL)
    return float(np.exp(low)), float(np.exp(high))


# --------------------------------------------------------------------------- measurements
def spread_summary(history: MixtureHistory, generation: int = KEY_GENERATION) -> dict:
    """The spread at ``generation`` (the last one for shorter runs) over its generation-0
    value, per seed: median, its interval, the single-run interval, and whether the authors'
    ratio 0.01/0.90 lies in it."""
    spread = history.spread()
    ratio = at_generation(spread, generation) / spread[0]
    single = _single_run(ratio)
    return {"generation": min(generation, history.n_generations), "n_seeds": history.n_seeds,
            "start": float(np.median(spread[0])), "end": _median_at(spread, generation),
            "median": float(np.median(ratio)), "interval": _interval(ratio),
            "single_run": single, "authors_inside": single[0] <= AUTHORS_RATIO <= single[1]}


def spread_collapsed(value: Mapping) -> bool:
    """The whole interval of the median spread ratio lies at or below one half."""
    return value["interval"][1] <= 0.5


def spread_collapsed_as_authors(value: Mapping) -> bool:
    """Collapsed, and the authors' single run is a plausible draw from this run's seeds."""
    return spread_collapsed(value) and bool(value["authors_inside"])


def l2_summary(history: MixtureHistory) -> dict:
    """∫(p_0 − p_n)² at generation 1 and at the last generation per seed: median intervals, the
    single-run interval at the end, and the share of it that is ∫p_n² alone (peakedness)."""
    l2 = history.l2_to_generation0()
    last, first = l2[-1], l2[min(1, history.n_generations)]
    single = _single_run(last)
    return {"generation": history.n_generations, "n_seeds": history.n_seeds,
            "median": float(np.median(last)), "interval": _interval(last),
            "first_interval": _interval(first), "single_run": single,
            "authors_inside": single[0] <= PAPER_FINAL_L2 <= single[1],
            "peak_share": float(np.median(history.density_square_integral()[-1] / last))}


def _l2_grew(value: Mapping) -> bool:
    """The interval at the end lies above 100× the interval at generation 1."""
    return value["interval"][0] >= 100 * value["first_interval"][1]


def drift_summary(history: MixtureHistory, generation: int = DRIFT_GENERATION) -> dict:
    """W2(p_0, p_n) (Gelbrich bound, :meth:`MixtureHistory.w2_to_generation0`) at generation
    ``generation`` and at generation 1 (one refit's sampling noise) per seed: medians with
    intervals, and the median at ``generation`` in units of the generation-0 scale √tr C_0."""
    w2 = np.sqrt(history.w2_to_generation0())
    at, first = at_generation(w2, generation), w2[min(1, history.n_generations)]
    scale = np.sqrt(np.trace(history.moments()[1][0], axis1=-2, axis2=-1))
    return {"generation": min(generation, history.n_generations), "n_seeds": history.n_seeds,
            "median": float(np.median(at)), "interval": _interval(at),
            "first_median": float(np.median(first)), "first_interval": _interval(first),
            "relative": float(np.median(at / scale))}


def _drifted(value: Mapping) -> bool:
    """The interval at the drift generation lies wholly above the interval at generation 1."""
    return value["interval"][0] > value["first_interval"][1]


def tails_summary(history: MixtureHistory) -> dict:
    """First evaluated generation at which the median mass outside the true 99% HDR halves
    (``tail``) and at which the median true mass inside the fit's own 95% HDR halves
    (``bulk``); None: not within the run."""
    return {"tail": history.tail_halving_generation("outside", 0.99),
            "bulk": history.tail_halving_generation("covered", 0.95)}


def _interval_text(interval) -> str:
    return f"[{interval[0]:.3g}, {interval[1]:.3g}]"


def _spread_text(value: Mapping) -> str:
    return (f"median spread {value['start']:.2f} → {value['end']:.2g} at generation "
            f"{value['generation']} ({value['n_seeds']} seeds): ratio {value['median']:.2g}, "
            f"{LEVEL:.0%} interval {_interval_text(value['interval'])}; one run: "
            f"{_interval_text(value['single_run'])} (authors' {AUTHORS_RATIO:.4f} "
            + ("inside)" if value["authors_inside"] else "outside)"))


# --------------------------------------------------------------------------- criteria
def declare_claims(record, settings: Mapping[str, Any]) -> None:
    """The chapter's claims and their criteria, fixed before the experiment runs."""
    key = min(KEY_GENERATION, settings["n_generations"])
    def spread_criterion(setup: str) -> str:
        return (f"{setup}, replace: spread at generation {key} / generation 0, per seed: the "
                f"{LEVEL:.0%} bootstrap interval of the median ≤ 0.5 and the authors' "
                f"{AUTHORS_RATIO:.3f} inside the {LEVEL:.0%} prediction interval of a single "
                "run (log scale): reproduced; the interval ≤ 0.5 only (collapse at another pace "
                "than the authors' one run): partially")

    record.declare_claim(
        "spread-collapses",
        "Refitting a two-component GMM to its own samples shrinks the components towards a "
        "point (late collapse); one blob, N = 1,000, replace",
        f"per-component spread √(tr Σ/2) {PAPER_SPREAD_START:.2f} → {PAPER_SPREAD_END:.2f} over "
        "2,000 generations (the authors' one stored run, unseeded); \"at generation 2000 it "
        "converges to a state with very little variance\"",
        spread_criterion("one blob"),
        reproduced_if=spread_collapsed_as_authors, partially_if=spread_collapsed,
        kind="paper", where="authors' code, GMM notebook (stored output); the paper's GMM "
                            "figure and its caption",
        revised=f"{REVISED}; was: median spread at generation 2000 ≤ 0.05 (5× the authors' "
                "0.01), partially ≤ half its generation-0 value")
    record.declare_claim(
        "drift-by-50",
        "The fit moves away from the generation-0 fit within 50 generations, by more than one "
        "refit's sampling noise",
        "\"even at generation 50 the perception of the underlying distribution completely "
        "changes\" (shown in the figure only)",
        f"one blob, replace: W2(p_0, p_n) between the Gaussians with the mixtures' overall mean "
        f"and covariance (a lower bound on W2; not dominated by how peaked p_n is): the "
        f"{LEVEL:.0%} bootstrap interval of the median at generation "
        f"{min(DRIFT_GENERATION, settings['n_generations'])} lies wholly above the interval "
        "at generation 1 (one refit from p_0)",
        reproduced_if=_drifted, kind="paper",
        where="the paper's GMM figure caption (generations 0–2000)")
    record.declare_claim(
        "l2-final-order",
        "The authors' distance ∫(p_0 − p_n)² grows by orders of magnitude and ends near 536 "
        "(one blob, replace)",
        f"∫(p_0 − p_n)² ≈ {PAPER_FINAL_L2:g} at the end of the authors' run (2,050 "
        "generations, one unseeded run, log axis)",
        f"at the last generation: the {LEVEL:.0%} bootstrap interval of the median ≥ 100× the "
        f"interval at generation 1, and {PAPER_FINAL_L2:g} inside the {LEVEL:.0%} prediction "
        "interval of a single run (log scale): reproduced; the growth only: partially. "
        "Once the fit has collapsed this distance is ∫p_n², i.e. 1/spread²: it restates "
        "spread-collapses in the authors' metric (the share is shown)",
        reproduced_if=lambda v: _l2_grew(v) and bool(v["authors_inside"]),
        partially_if=_l2_grew, kind="paper",
        where="authors' code, GMM notebook (stored output)",
        revised=f"{REVISED}; was l2-grows: median at the last generation within a factor 10 of "
                "536, partially ≥ 100× its generation-50 median")
    record.declare_claim(
        "tails-first",
        "Early collapse: the tails go first — the mass the fit puts beyond the original 99% "
        "highest-density region falls before the bulk is lost",
        "\"the model begins losing information about the tails of the distribution\" (early "
        "model collapse), then converges to a point",
        "the median mass outside the true 99% HDR halves at an earlier generation than the "
        "median true mass inside the fit's own 95% HDR: reproduced; same generation: "
        "partially",
        reproduced_if=lambda v: tails_went_first(v["tail"], v["bulk"]),
        partially_if=lambda v: v["tail"] is not None and v["tail"] == v["bulk"],
        kind="paper", where="Nature, the definition of early model collapse; the paper's GMM "
                            "figure")
    record.declare_claim(
        "two-gaussians-collapse",
        "The setup the paper's text describes (two well-separated Gaussians) collapses too",
        "\"the task is to separate two artificially generated Gaussians\" (text); the code "
        "used one blob, and the authors' stored run (0.90 → 0.01) is of the code's setup",
        spread_criterion("two Gaussians"),
        reproduced_if=spread_collapsed_as_authors, partially_if=spread_collapsed,
        kind="paper", where="the paper's text on the GMM experiment",
        revised=f"{REVISED}; was: median spread at generation 2000 ≤ 0.05, partially ≤ half "
                "its generation-0 value")
    record.declare_claim(
        "sample-size",
        "Larger samples per generation collapse more slowly",
        "extension: the paper names finite sampling the primary cause of collapse; it runs one "
        "N only",
        "median spread at generation 200 (or the shortest run's last) increases strictly "
        "with N: reproduced; largest N above smallest N: partially",
        reproduced_if=lambda v: all(a < b for a, b in zip(v["spreads"], v["spreads"][1:])),
        partially_if=lambda v: v["spreads"][-1] > v["spreads"][0],
        kind="check", where="extension of Nature, 'Statistical approximation error'")
    record.declare_claim(
        "real-data-stops",
        "Keeping a fraction of fresh real data in every generation stops the collapse",
        "fresh real data prevents collapse (Bertrand et al. 2024; Alemohammad et al. 2024); "
        "the paper's LM keeps 10% of the original data",
        f"mix_real(0.1): median spread at generation {key} ≥ 0.8 × generation 0: "
        "reproduced; ≥ 0.5×: partially",
        reproduced_if=lambda v: v["end"] >= 0.8 * v["start"],
        partially_if=lambda v: v["end"] >= 0.5 * v["start"],
        kind="check", where="other papers (Bertrand et al. 2024; Alemohammad et al. 2024)")
    record.declare_claim(
        "accumulate-bounded",
        "Accumulating all data (real included) keeps the fit near the original",
        "accumulate keeps the error bounded (Gerstgrasser et al. 2024; Kazdan et al. 2024)",
        "median W2(p_0, p_n) (the drift measure of drift-by-50) under accumulate at its last "
        "generation ≤ 0.5 × the replace median at the same generation: reproduced; below it: "
        "partially",
        reproduced_if=lambda v: v["accumulate"] <= 0.5 * v["replace"],
        partially_if=lambda v: v["accumulate"] < v["replace"],
        kind="check", where="other papers (Gerstgrasser et al. 2024; Kazdan et al. 2024)",
        revised="2026-12-02 (issue 12: ∫(p_0 − p_n)² measures how peaked p_n is); was: "
                "median ∫(p_0 − p_n)² under accumulate ≤ 0.5 × replace's")


def criteria_markdown(record) -> str:
    """The declared claims as a Markdown list: ``* **id** (kind): criterion``."""
    return "\n".join(f"* **{c.id}** ({c.kind}): {c.criterion}" for c in record.claims.values())


# --------------------------------------------------------------------------- verdicts
def evaluate_claims(record, runs: GMMRuns) -> None:
    """Measure and evaluate every claim of :func:`declare_claims` on ``runs``."""
    main = runs.main
    value = spread_summary(main)
    record.evaluate("spread-collapses", value, _spread_text(value),
                    note="the authors stored one unseeded run: compared as an order of "
                         "magnitude (a single-run interval), not a point")

    value = drift_summary(main)
    record.evaluate("drift-by-50", value,
                    f"median W2(p_0, p_n) {value['first_median']:.3f} at generation 1, "
                    f"{value['median']:.3f} at generation {value['generation']} "
                    f"({value['relative']:.0%} of the generation-0 scale √tr C₀); {LEVEL:.0%} "
                    f"intervals {_interval_text(value['first_interval'])} and "
                    f"{_interval_text(value['interval'])}")

    value = l2_summary(main)
    record.evaluate("l2-final-order", value,
                    f"median {value['median']:.3g} at generation {value['generation']}, "
                    f"{LEVEL:.0%} interval {_interval_text(value['interval'])} (generation 1: "
                    f"{_interval_text(value['first_interval'])}); one run: "
                    f"{_interval_text(value['single_run'])}; ∫p_n² / ∫(p_0 − p_n)² = "
                    f"{value['peak_share']:.2f}",
                    note="one unseeded run of the authors: an order of magnitude, not a point")

    two = runs.two_gaussians
    value, other = tails_summary(main), tails_summary(two)
    record.evaluate("tails-first", value,
                    f"one_blob: 99%-HDR tail mass halved by generation {value['tail']}, 95%-HDR "
                    f"coverage halved by generation {value['bulk']} (None: not within "
                    f"{main.n_generations})",
                    note=f"two_gaussians, not part of the criterion: tail halved by "
                         f"{other['tail']}, coverage by {other['bulk']}")

    value = spread_summary(two)
    record.evaluate("two-gaussians-collapse", value, _spread_text(value))

    by_size = list(runs.sample_sizes().values())
    at = min(200, min(h.n_generations for h in by_size))
    spreads = [_median_at(h.spread(), at) for h in by_size]
    record.evaluate("sample-size", {"spreads": spreads},
                    "median spread at generation " + str(at) + ": " + ", ".join(
                        f"N={h.n_points}: {s:.3f}" for h, s in zip(by_size, spreads)))

    mixed = runs.history("one_blob", "mix_real(0.1)")
    key = min(KEY_GENERATION, mixed.n_generations)
    spread_mixed = mixed.spread()
    value = {"start": _median_at(spread_mixed, 0), "end": _median_at(spread_mixed, key)}
    record.evaluate("real-data-stops", value,
                    f"median spread {value['start']:.2f} → {value['end']:.2f} at generation "
                    f"{key}")

    accumulated = runs.history("one_blob", "accumulate")
    last = accumulated.n_generations
    value = {"accumulate": _median_at(np.sqrt(accumulated.w2_to_generation0()), last),
             "replace": _median_at(np.sqrt(main.w2_to_generation0()), last)}
    record.evaluate("accumulate-bounded", value,
                    f"median W2(p_0, p_n) at generation {last}: accumulate "
                    f"{value['accumulate']:.3g} vs replace {value['replace']:.3g}")
