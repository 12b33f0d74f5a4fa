"""Tests of the d-dimensional Gaussian chapter: its theory (collapse.gaussian_nd.theory) against
the 1-D chapter's exact results and against simulation, its two samplers
(collapse.gaussian_nd.family), and its claims on small runs (negative controls).

Statistical tests use fixed seeds and a tolerance of Z = 4 standard errors of the Monte-Carlo
estimator (s/√S for means); KS tests at level 1e-3.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

from collapse.core.loop import run_generations
from collapse.core.policies import Accumulate, AccumulateSubsample, Replace
from collapse.gaussian import theory as theory_1d
from collapse.gaussian_nd import theory
from collapse.gaussian_nd.family import (METRICS, ExactGaussian, NaiveGaussian, PointData,
                                         Points, ScatterStats, SufficientStatistics,
                                         bartlett_factor, true_data)

Z = 4.0


def within(values, exact, z=Z) -> bool:
    values = np.asarray(values, float)
    return abs(values.mean() - exact) <= z * values.std(ddof=1) / math.sqrt(values.size)


def history(family, policy, dim, size, seeds, generations, seed):
    rng = np.random.default_rng(seed)
    return run_generations(family, true_data(family, seeds, size, dim, rng), policy,
                           generations, rng, METRICS)


# ============================================================================ the samplers
@pytest.mark.parametrize("dim, dof", [(3, 7), (4, 2)])
def test_bartlett_factor_gives_the_wishart_moments(dim, dof):
    """E W = k I, Var W_ii = 2k, Var W_ij = k (i ≠ j), rank min(d, k), for W = B Bᵀ."""
    factor = bartlett_factor(np.random.default_rng(0), 100_000, dim, dof)
    assert factor.shape == (100_000, dim, min(dim, dof))
    wishart = factor @ np.swapaxes(factor, 1, 2)
    assert within(wishart[:, 0, 0], dof) and within(wishart[:, -1, -1], dof)
    assert within(wishart[:, 0, -1], 0.0)
    assert wishart[:, -1, -1].var() == pytest.approx(2 * dof, rel=0.05)
    assert wishart[:, 0, 1].var() == pytest.approx(dof, rel=0.05)
    assert np.linalg.matrix_rank(wishart[0]) == min(dim, dof)


@pytest.mark.parametrize("policy, dim, size", [
    (lambda m: Replace(m), 3, 10), (lambda m: Accumulate(m), 3, 10),
    (lambda m: Replace(m), 5, 4), (lambda m: Accumulate(m), 5, 4)],
    ids=["replace", "accumulate", "replace-singular", "accumulate-singular"])
def test_exact_and_naive_samplers_agree(policy, dim, size):
    """Two-sample KS tests (3,000 seeds each, level 1e-3) of ‖μ̂‖², tr Σ̂ and log det Σ̂ after
    4 generations: the Wishart sampler and its exact pooling have the law of drawing points."""
    final = {family.sampler: history(family, policy(size), dim, size, 3000, 4, seed)
             for family, seed in ((ExactGaussian("unbiased"), 1), (NaiveGaussian("unbiased"), 2))}
    for name in ("mean_error", "trace", "log_det"):
        exact, naive = final["exact"][name][-1], final["naive"][name][-1]
        if name == "log_det" and size <= dim:
            assert np.all(np.isneginf(exact)) and np.all(np.isneginf(naive))
            continue
        assert stats.ks_2samp(exact, naive).pvalue > 1e-3, name


def test_the_sampler_test_has_power():
    """The same KS test tells the unbiased covariance from the ML one at d = 3, M = 10."""
    unbiased = history(ExactGaussian("unbiased"), Replace(10), 3, 10, 3000, 4, 1)["log_det"]
    ml = history(NaiveGaussian("ml"), Replace(10), 3, 10, 3000, 4, 2)["log_det"]
    assert stats.ks_2samp(unbiased[-1], ml[-1]).pvalue < 1e-6


def test_log_det_of_the_triangular_product_is_the_log_det():
    family = ExactGaussian("ml")
    rng = np.random.default_rng(3)
    model = family.fit(true_data(family, 50, 12, 4, rng))
    for _ in range(5):
        model = family.fit(family.generate(model, 12, rng))
    np.testing.assert_allclose(model.log_det, np.linalg.slogdet(model.covariance)[1],
                               rtol=1e-9)
    np.testing.assert_allclose(np.sort(model.eigenvalues(), axis=1)[:, ::-1],
                               np.linalg.eigvalsh(model.covariance)[:, ::-1], rtol=1e-8)


def test_sufficient_statistics_pool_exactly():
    rng = np.random.default_rng(4)
    parts = [rng.standard_normal((3, count, 4)) for count in (5, 7, 9)]
    pooled = SufficientStatistics().concat([ScatterStats.from_points(p) for p in parts])
    direct = ScatterStats.from_points(np.concatenate(parts, axis=1))
    assert pooled.count == direct.count == 21 and pooled.rank == 4
    np.testing.assert_allclose(pooled.mean, direct.mean, rtol=1e-12)
    np.testing.assert_allclose(pooled.scatter, direct.scatter, rtol=1e-10)


def test_singular_fits_stay_in_the_hull_and_report_minus_infinity():
    """M ≤ d: the fit has rank M − 1, log det = −∞; pooled fits keep the real data's hull."""
    family = ExactGaussian("ml")
    rng = np.random.default_rng(5)
    real = true_data(family, 20, 4, 6, rng)
    model = family.fit(real)
    assert model.rank == 3 and np.all(np.isneginf(model.log_det))
    pool = family.data_type.concat([real, family.generate(model, 4, rng)])
    pooled = family.fit(pool)
    assert pooled.rank == 3
    np.testing.assert_allclose(pooled.covariance, pool.scatter / 8, atol=1e-12)


def test_point_pools_grow_in_place_and_subsample_uniformly():
    data = PointData()
    rng = np.random.default_rng(6)
    pool = Points(np.arange(6.0).reshape(1, 6, 1), 1)
    for step in range(3):
        new = np.array([100.0, 101.0]).reshape(1, 2, 1) + 2 * step
        pool = data.concat([pool, Points(new, 1)])
    assert data.size(pool) == 12 and pool.values[0, -1, 0] == 105.0
    assert pool.values[0, :6, 0].tolist() == list(range(6))
    counts = np.zeros(12)
    for _ in range(3000):
        taken = data.take(pool, 4, rng)
        assert len(set(taken.values[0, :, 0].tolist())) == 4
        counts[np.searchsorted(np.sort(pool.values[0, :, 0]), taken.values[0, :, 0])] += 1
    assert stats.chisquare(counts).pvalue > 1e-3


def test_bad_inputs_give_clear_errors():
    with pytest.raises(ValueError, match="estimator must be one of"):
        ExactGaussian("biased")
    with pytest.raises(ValueError, match="cannot draw individual points"):
        SufficientStatistics().take(None, 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="ExactGaussian fits ScatterStats"):
        ExactGaussian().fit(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="det Σ_n = 0 when M <= d"):
        theory.lyapunov_exponents(10, 10, "ml")


# ============================================================================ theory
@pytest.mark.parametrize("estimator, estimator_1d", [("unbiased", "unbiased"), ("ml", "biased")])
def test_d1_is_the_1d_chapter(estimator, estimator_1d):
    """In one dimension every formula is the 1-D chapter's (its exact CF inversion included)."""
    sizes = np.full(30, 12.0)
    np.testing.assert_allclose(
        theory.log_det_quantiles([0.1, 0.5, 0.9], 1, 12, [0, 5, 29], estimator),
        np.log(theory_1d.variance_quantiles([0.1, 0.5, 0.9], 12, [0, 5, 29], estimator_1d)),
        atol=1e-8)
    np.testing.assert_allclose(theory.expected_trace(1, sizes, estimator),
                               theory_1d.expected_variance(sizes, estimator_1d), rtol=1e-12)
    np.testing.assert_allclose(theory.expected_mean_error(1, sizes, estimator),
                               theory_1d.expected_mean_error(sizes, estimator_1d), rtol=1e-12)
    lower, _ = theory.w2_bounds(1, sizes, estimator)
    np.testing.assert_allclose(lower, theory_1d.expected_w2_squared(sizes, estimator_1d),
                               rtol=1e-9)
    mean_error, variance = theory.pool_expectations(1, 12, 29, estimator, subsample=False)
    np.testing.assert_allclose(variance, theory_1d.accumulate_expected_variance(
        12, 29, estimator_1d), rtol=1e-12)
    np.testing.assert_allclose(mean_error, theory_1d.accumulate_expected_mean_error(
        12, 29, estimator_1d), rtol=1e-12)


def test_rates_and_their_large_m_forms():
    rates = theory.lyapunov_exponents(5, 10 ** 5, "unbiased") * 10 ** 5
    np.testing.assert_allclose(rates, -np.arange(1, 6), rtol=1e-3)
    assert theory.log_det_step_mean(5, 10 ** 5, "ml") * 10 ** 5 == pytest.approx(
        -5 * 8 / 2, rel=1e-3)


@pytest.fixture(scope="module")
def replace_runs():
    """Exact `replace`, d = 3, M = 8, 20,000 seeds, 12 generations, both estimators."""
    return {estimator: history(ExactGaussian(estimator), Replace(8), 3, 8, 20_000, 12, 7)
            for estimator in theory.ESTIMATORS}


@pytest.mark.parametrize("estimator", theory.ESTIMATORS)
def test_log_det_law_matches_simulation(replace_runs, estimator):
    """The exact CDF of log det Σ_n (its quantiles at 19 levels) against 20,000 seeds: KS."""
    levels = np.linspace(0.05, 0.95, 19)
    for generation in (0, 4, 12):
        exact = theory.log_det_quantiles(levels, 3, 8, [generation], estimator)[:, 0]
        simulated = replace_runs[estimator]["log_det"][generation]
        fractions = (simulated[:, None] <= exact[None, :]).mean(axis=0)
        se = np.sqrt(levels * (1 - levels) / simulated.size)
        assert np.all(np.abs(fractions - levels) <= Z * se), generation


@pytest.mark.parametrize("estimator", theory.ESTIMATORS)
def test_expectations_match_simulation(replace_runs, estimator):
    sizes = np.full(13, 8.0)
    trace = theory.expected_trace(3, sizes, estimator)
    mean_error = theory.expected_mean_error(3, sizes, estimator)
    for generation in (0, 3, 8):
        assert within(replace_runs[estimator]["trace"][generation], trace[generation])
        assert within(replace_runs[estimator]["mean_error"][generation], mean_error[generation])


@pytest.mark.parametrize("subsample", [False, True], ids=["accumulate", "accumulate_subsample"])
def test_pool_expectations_match_simulation(subsample):
    """The exact recursions for `accumulate` and `accumulate_subsample` (ML, d = 2, M = 6)."""
    family, policy = ((NaiveGaussian("ml"), AccumulateSubsample(6)) if subsample
                      else (ExactGaussian("ml"), Accumulate(6)))
    run = history(family, policy, 2, 6, 20_000, 10, 8)
    mean_error, trace = theory.pool_expectations(2, 6, 10, "ml", subsample)
    for generation in (1, 4, 10):
        assert within(run["mean_error"][generation], mean_error[generation])
        assert within(run["trace"][generation], trace[generation])


def test_w2_bounds_bracket_the_exact_value():
    """Lower ≤ E[W2²] ≤ upper, by Monte Carlo (d = 3, M = 8, unbiased, 20,000 seeds)."""
    from collapse.gaussian_nd.experiments import simulate
    run = simulate(3, 8, "replace", "unbiased", 20_000, 8, np.random.default_rng(9), w2=True)
    lower, upper = theory.w2_bounds(3, run.sizes(), "unbiased")
    mean = run.w2.mean(axis=1)
    se = run.w2.std(axis=1, ddof=1) / math.sqrt(run.n_seeds)
    assert np.all(mean >= lower - Z * se) and np.all(mean <= upper + Z * se)
    assert np.all(upper - lower <= 2 * 3 + 1e-12)
    tighter = theory.w2_upper_amgm(3, run.sizes(), "unbiased")
    assert np.all(tighter <= upper) and np.all(mean <= tighter + Z * se)


# ============================================================================ claims
from collapse import gaussian_nd  # noqa: E402
from collapse.gaussian_nd.claims import MEASUREMENTS  # noqa: E402
from collapse.gaussian_nd.experiments import (SamplerComparison, simulate,  # noqa: E402
                                              theorem_generations)
from collapse.publish import profiles, records  # noqa: E402

PAPER_CLAIMS = ("covariance-collapses", "w2-diverges")


@pytest.fixture(scope="module")
def smoke():
    """The chapter's experiments under the smoke profile (seconds): (settings, runs)."""
    settings = profiles.settings("gaussian_nd", "smoke")
    return settings, gaussian_nd.run(settings)


def verdicts(settings, runs) -> dict[str, str]:
    record = records.ChapterRecord("gaussian_nd", settings)
    gaussian_nd.declare_claims(record, settings)
    gaussian_nd.evaluate_claims(record, runs)
    return {claim.id: claim.verdict for claim in record.claims.values()}


def fresh_fits(run, rng: np.random.Generator):
    """A run without collapse: every generation fitted to fresh N(0, I) data (exact refits),
    on ``run``'s dimension, M, estimator, seeds, generations and kept spectra."""
    family = ExactGaussian(run.estimator)
    seeds, generations = run.n_seeds, run.n_generations + 1
    model = family.fit(true_data(family, seeds * generations, run.sample_size, run.dim, rng))
    shape = (generations, seeds)
    eigenvalues = model.eigenvalues().reshape(generations, seeds, run.dim)
    roots = np.sqrt(eigenvalues).sum(axis=2)
    mean_error = (model.mean ** 2).sum(axis=1).reshape(shape)
    trace = eigenvalues.sum(axis=2)
    return dataclasses.replace(
        run, mean_error=mean_error, log_det=model.log_det.reshape(shape), trace=trace,
        w2=mean_error + trace + run.dim - 2 * roots,
        spectrum={g: eigenvalues[g] for g in run.spectrum})


def test_every_claim_gets_a_verdict_and_the_smoke_run_shows_the_effects(smoke):
    settings, runs = smoke
    record = records.ChapterRecord("gaussian_nd", settings)
    gaussian_nd.declare_claims(record, settings)
    gaussian_nd.evaluate_claims(record, runs)
    found = {claim.id: claim.verdict for claim in record.claims.values()}
    assert set(found) == set(MEASUREMENTS)
    assert {claim.id for claim in record.claims.values() if claim.kind == "paper"} \
        == set(PAPER_CLAIMS)
    assert all(claim.where for claim in record.claims.values() if claim.kind == "paper")
    assert all(verdict in records.VERDICTS for verdict in found.values())
    for claim in PAPER_CLAIMS:
        assert found[claim] == "reproduced", claim


@pytest.mark.negative_control("gaussian_nd", "covariance-collapses", "w2-diverges")
def test_theorem_claims_fail_without_collapse(smoke):
    """Negative controls: chains refitted to fresh real data every generation, and chains
    under `accumulate`, neither collapse nor drift; the same criteria say "not reproduced"."""
    settings, runs = smoke
    rng = np.random.default_rng(0)
    fresh = {name: fresh_fits(run, rng) for name, run in runs.theorem.items()}
    accumulate = {name: simulate(run.dim, run.sample_size, "accumulate", name, run.n_seeds,
                                 run.n_generations, np.random.default_rng(1), w2=True,
                                 spectrum_at=theorem_generations(run.sample_size,
                                                                 run.n_generations))
                  for name, run in runs.theorem.items()}
    for control in (fresh, accumulate):
        found = verdicts(settings, dataclasses.replace(runs, theorem=control))
        for claim in PAPER_CLAIMS:
            assert found[claim] == "not reproduced", claim


def test_checks_can_fail(smoke):
    """Swapped runs make the checks fail: `replace` as `accumulate` and as
    `accumulate_subsample`, `accumulate` as `replace`; the unbiased chain against the ML
    sampler (KS rejects); the unbiased chain as the ML one (E[W2²] leaves the ML bracket);
    fresh refits as the theorem runs (no spectrum spreading)."""
    settings, runs = smoke
    swapped = {}
    for (dim, size, policy), run in runs.grid.items():
        source = "accumulate" if policy == "replace" else "replace"
        swapped[dim, size, policy] = dataclasses.replace(
            runs.grid[dim, size, source], policy=policy, sampler=run.sampler)
    unbiased, ml = runs.theorem["unbiased"], runs.theorem["ml"]
    mismatched = SamplerComparison(unbiased, ml, {
        name: stats.ks_2samp(getattr(unbiased, name)[-1], getattr(ml, name)[-1])
        for name in ("log_det", "trace", "mean_error")})
    rng = np.random.default_rng(2)
    found = verdicts(settings, dataclasses.replace(
        runs, grid=swapped, samplers=mismatched,
        theorem={"unbiased": fresh_fits(unbiased, rng),
                 "ml": dataclasses.replace(unbiased, estimator="ml")}))
    for claim in ("kazdan-replace-collapses", "kazdan-accumulate-bounded",
                  "kazdan-subsample-between", "exact-sampler-nd", "w2-bounded-ml",
                  "spectrum-spreads", "log-det-law"):
        assert found[claim] == "not reproduced", claim
