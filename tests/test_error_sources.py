"""Tests of collapse.error_sources: exact-distribution families (family), the KDE recursions
(theory), early-stopped population EM, the runs (experiments) and the chapter's claims.
Statistical tests use fixed seeds and a tolerance of 4 standard errors of the Monte-Carlo
estimate (a false alarm has probability < 1e-4 per comparison)."""
import dataclasses
import math

import numpy as np
import pytest

from collapse import error_sources
from collapse.core.policies import policy_from_name
from collapse.error_sources import experiments, family, theory
from collapse.gaussian import theory as gaussian_theory
from collapse.publish import profiles, records


def z_score(values, exact):
    values = np.asarray(values, float)
    return (values.mean() - exact) / (values.std(ddof=1) / math.sqrt(values.size))


# --------------------------------------------------------------------------- exact data
def test_mixture_moments_match_a_large_sample():
    mixture = family.Mixture1D([0.2, 0.8], [-1.0, 2.0], [0.5, 0.25])
    rng = np.random.default_rng(1)
    component = rng.random(400_000) < 0.2
    points = np.where(component, rng.normal(-1, math.sqrt(0.5), component.size),
                      rng.normal(2, 0.5, component.size))
    # SE of a mean: sd/sqrt(n); of a variance: ~ sqrt(Var((x - m)^2) / n)
    assert abs(points.mean() - mixture.mean()) < 4 * points.std() / math.sqrt(points.size)
    se_variance = ((points - points.mean()) ** 2).std() / math.sqrt(points.size)
    assert abs(points.var() - mixture.variance()) < 4 * se_variance


def test_quantile_inverts_cdf_and_merge_keeps_the_distribution():
    mixture = family.Mixture1D([0.3, 0.3, 0.4], [0.0, 0.0, 1.0], [1.0, 1.0, 0.5])
    u = np.array([0.001, 0.1, 0.5, 0.9, 0.999])
    assert np.allclose(mixture.cdf(mixture.quantile(u)), u, atol=1e-6)
    merged = mixture.merged()
    assert merged.n_components == 2
    x = np.linspace(-4, 4, 50)
    assert np.allclose(merged.pdf(x), mixture.pdf(x), atol=1e-14)


def test_pooling_weights_by_mass_and_take_keeps_the_distribution():
    data_type = family.ExactDistributionData()
    a, b = family.gaussian_distribution(0.0, 1.0, mass=300), family.gaussian_distribution(2.0, 1.0, 100)
    pool = data_type.concat([a, b])
    assert pool.mass == 400 and np.allclose(sorted(pool.weights), [0.25, 0.75])
    assert pool.mean() == pytest.approx(0.5)
    taken = data_type.take(pool, 7)
    assert taken.mass == 7 and np.allclose(taken.pdf([0.3]), pool.pdf([0.3]))


def test_bad_inputs_raise_value_errors_naming_the_parameter():
    with pytest.raises(ValueError, match="bandwidth"):
        family.check_bandwidth(0)
    with pytest.raises(ValueError, match="bandwidth"):
        family.ExactKDE(-1.0)
    with pytest.raises(ValueError, match="separation"):
        family.bimodal_distribution(1.5)
    with pytest.raises(ValueError, match="weights"):
        family.Mixture1D([0.5, 0.6], [0, 1], [1, 1])
    with pytest.raises(ValueError, match="n_iter"):
        family.population_em(family.bimodal_distribution(), n_iter=-1)
    with pytest.raises(ValueError, match="policy"):
        theory.exact_kde_variance(0.1, 5, "keep_everything")
    with pytest.raises(ValueError, match="fraction"):
        theory.exact_kde_variance(0.1, 5, "mix_real", 1.5)
    with pytest.raises(ValueError, match="sample_size"):
        theory.kde_expected_variance(1, 0.1, 5)
    with pytest.raises(ValueError, match="accumulate_subsample"):
        theory.exact_kde_variance(0.1, 5, policy_from_name("accumulate_subsample"))
    with pytest.raises(ValueError, match="kde_bandwidths"):
        experiments.cancelling_bandwidth(100, [0.3])
    with pytest.raises(ValueError, match="unknown setting"):
        profiles.settings("error_sources", "smoke", bandwidth=0.1)


def test_run_rejects_settings_without_a_cancelling_bandwidth_before_any_work():
    settings = profiles.settings("error_sources", "smoke", kde_bandwidths=[0.05, 0.2])
    lines = []
    with pytest.raises(ValueError, match="kde_bandwidths"):
        error_sources.run(settings, progress=lines.append)
    assert lines == []


# --------------------------------------------------------------------------- expressivity
def test_expressivity_error_is_made_once_and_equals_two_minus_two_kappa():
    """The paper's statement that without the other errors the expressivity error "can only
    occur at the first generation" is an identity of the exact run: a test, not a claim row."""
    runs = experiments.expressivity_only(
        6, policies=["replace", "accumulate", policy_from_name("mix_real", fraction=0.3)],
        keep=(0, 6))
    assert list(runs) == ["replace", "accumulate", "mix_real(0.3)"]
    floor = theory.expressivity_w2_squared()
    kappa = gaussian_theory.bimodal_start(family.SEPARATION).quantile_correlation
    assert floor == pytest.approx(2 - 2 * kappa, abs=1e-12)
    for run in runs.values():
        assert np.allclose(run["w2_squared"], floor, atol=1e-12)
        assert np.allclose(run["variance"], 1.0, atol=1e-12)
        # the kept models (a fold of the loop): N(0, 1) at the first and the last generation
        assert sorted(run.folds["models"]) == [0, 6]
        assert run.folds["models"][6].variance() == pytest.approx(1.0, abs=1e-12)
    # an independent computation of the same W2² from quantile functions
    numeric = theory.w2_squared_1d(family.gaussian_distribution(),
                                   family.bimodal_distribution(), n_quantiles=20000)
    assert numeric == pytest.approx(floor, rel=2e-3)


# --------------------------------------------------------------------------- approximation
def test_exact_kde_through_the_loop_matches_every_policy_recursion():
    h, n = 0.3, 12
    runs = experiments.exact_kde_runs(h, n, ["replace", "accumulate", "mix_real(0.25)"])
    # identities that can only fail through a bug (so tests, not claim rows): replace adds h²
    # per generation, accumulate and mix_real follow their exact recursions
    assert np.allclose(runs["replace"]["variance"], 1 + (np.arange(n + 1) + 1) * h ** 2,
                       atol=1e-12)
    assert np.allclose(runs["accumulate"]["variance"],
                       theory.exact_kde_variance(h, n, "accumulate"), atol=1e-12)
    assert np.allclose(runs["mix_real(0.25)"]["variance"],
                       theory.exact_kde_variance(h, n, "mix_real", 0.25), atol=1e-12)
    assert np.array_equal(theory.exact_kde_variance(h, n, "mix_real(0.25)"),
                          theory.exact_kde_variance(h, n, policy_from_name("mix_real(0.25)")))
    # mix_real's limit σ² + h²/f and accumulate's harmonic growth
    assert theory.exact_kde_variance(h, 400, "mix_real", 0.25)[-1] == pytest.approx(
        1 + h ** 2 / 0.25)
    assert theory.exact_kde_variance(h, 3, "accumulate")[-1] == pytest.approx(
        1 + h ** 2 * (1 + 1 / 2 + 1 / 3 + 1 / 4))


def test_any_em_step_conserves_mean_and_variance_and_converged_em_is_a_fixed_point():
    truth = family.bimodal_distribution(0.8)
    for n_iter in (0, 1, 3):
        fit = family.population_em(truth, n_iter=n_iter)
        assert fit.mean() == pytest.approx(0.0, abs=1e-10)
        assert fit.variance() == pytest.approx(1.0, abs=1e-10)
    converged = family.population_em(truth, n_iter=2000)
    assert np.allclose(np.sort(converged.means), [-0.8, 0.8], atol=1e-6)
    assert np.allclose(converged.variances, 1 - 0.8 ** 2, atol=1e-6)
    # stopped early, the hard split makes the components too narrow
    assert np.all(np.sqrt(family.population_em(truth, n_iter=0).variances)
                  < math.sqrt(1 - 0.8 ** 2))


def test_population_em_equals_sample_em_on_a_large_sample():
    """The same algorithm (median split, M-step, 2 EM steps) on 2·10⁶ points: parameters agree
    within a few standard errors (~1e-3 for this sample size)."""
    truth = family.bimodal_distribution(0.6)
    rng = np.random.default_rng(7)
    n = 2_000_000
    x = np.where(rng.random(n) < 0.5, -0.6, 0.6) + math.sqrt(1 - 0.36) * rng.standard_normal(n)
    resp = np.stack([x < np.median(x), x >= np.median(x)]).astype(float)
    for step in range(3):
        weights = resp.mean(1)
        means = (resp @ x) / resp.sum(1)
        variances = np.array([(r * (x - m) ** 2).sum() / r.sum() for r, m in zip(resp, means)])
        if step == 2:
            break
        log_joint = (np.log(weights / np.sqrt(2 * np.pi * variances))[:, None]
                     - 0.5 * (x - means[:, None]) ** 2 / variances[:, None])
        resp = np.exp(log_joint - log_joint.max(0))
        resp /= resp.sum(0)
    fit = family.population_em(truth, n_iter=2)
    order = np.argsort(fit.means)
    assert np.allclose(fit.means[order], np.sort(means), atol=5e-3)
    assert np.allclose(fit.variances[order], variances[np.argsort(means)], atol=5e-3)


def test_early_stopped_em_chain_loses_tails_but_not_variance():
    runs = experiments.em_runs([0, 5], 30, distance_generations=[0, 30])
    few, many = runs[0], runs[5]
    assert np.abs(few["variance"] - 1).max() < 1e-8
    assert few["tail_mass"][-1] < few["tail_mass"][0] < 0.01
    assert abs(many["tail_mass"][-1] / 0.01 - 1) < 0.05
    assert few["w2_squared"][30] > few["w2_squared"][0]
    assert np.isnan(few["w2_squared"][10])


# --------------------------------------------------------------------------- KDE with M samples
def test_sample_kde_generates_its_own_distribution():
    rng = np.random.default_rng(3)
    kde = family.SampleKDE(0.5)
    model = kde.fit(rng.standard_normal((4, 50)))
    draws = kde.generate(model, 200_000, rng)
    for seed in range(4):
        sample = draws[seed]
        se_mean = sample.std() / math.sqrt(sample.size)
        assert abs(sample.mean() - model.mean[seed]) < 4 * se_mean
        se_var = ((sample - sample.mean()) ** 2).std() / math.sqrt(sample.size)
        assert abs(sample.var() - model.variance[seed]) < 4 * se_var


@pytest.mark.slow
def test_kde_variance_and_mean_error_recursions_hold_in_simulation():
    size, h, n = 20, 0.35, 40
    runs = experiments.sample_kde_runs(size, [h], 20000, n, seed=11)
    run = runs[h]
    exact_variance = experiments.kde_theory_variance(run, h)
    exact_error = experiments.kde_theory_mean_error(run, h)
    for generation in (0, 1, 5, 20, 40):
        assert abs(z_score(run["variance"][generation], exact_variance[generation])) < 4
        assert abs(z_score(run["mean"][generation] ** 2, exact_error[generation])) < 4
    # the fixed point and the infinite-data limit
    assert theory.kde_expected_variance(size, h, 5000)[-1] == pytest.approx(size * h ** 2)
    assert np.allclose(theory.kde_expected_variance(None, h, 4), 1 + h ** 2 * np.arange(1, 6))


def test_kde_cancellation_keeps_the_expected_variance_at_sigma_squared():
    size = 50
    assert np.allclose(theory.kde_expected_variance(size, 1 / math.sqrt(size), 300), 1.0)
    assert np.allclose(theory.kde_expected_mean_error(size, 1 / math.sqrt(size), 10),
                       (np.arange(11) + 1) / size)


# --------------------------------------------------------------------------- claims
PAPER_CLAIMS = ("statistical-only", "approximation-em", "errors-compound", "errors-cancel")
CHECKS = ("kde-recursion", "cancel-is-partial")


@pytest.fixture(scope="module")
def small_run():
    """The whole chapter on the smoke profile with shorter exact and KDE chains (~0.5 s)."""
    settings = profiles.settings("error_sources", "smoke", kde_generations=300,
                                 em_generations=30, exact_kde_generations=100,
                                 expressivity_generations=5)
    lines = []
    runs = error_sources.run(settings, progress=lines.append)
    assert len(lines) == len(runs.timings) == 5
    return settings, runs


def _verdicts(settings, runs) -> dict[str, str]:
    record = records.ChapterRecord("error_sources", settings)
    error_sources.declare_claims(record, settings)
    error_sources.evaluate_claims(record, runs)
    assert all(claim.measured for claim in record.claims.values())
    return {claim.id: claim.verdict for claim in record.claims.values()}


def _with_metric(history, name: str, values):
    return dataclasses.replace(history, metrics={**history.metrics, name: np.asarray(values)})


def test_claims_are_classified_and_identities_are_not_rows():
    record = records.ChapterRecord("error_sources", {})
    error_sources.declare_claims(record, profiles.settings("error_sources", "smoke"))
    kinds = {claim.id: claim.kind for claim in record.claims.values()}
    assert {i for i, kind in kinds.items() if kind == "paper"} == set(PAPER_CLAIMS)
    assert {i for i, kind in kinds.items() if kind == "check"} == set(CHECKS)
    assert all(claim.where for claim in record.claims.values())
    # identities of exact runs are asserted by the tests above, not counted as claims
    assert not {"expressivity-first-generation", "approximation-kde",
                "policies-bound-approximation"} & set(kinds)


def test_every_claim_is_reproduced_on_a_small_run(small_run, tmp_path):
    settings, runs = small_run
    verdicts = _verdicts(settings, runs)
    assert set(verdicts) == set(PAPER_CLAIMS) | set(CHECKS)
    assert all(verdict == "reproduced" for verdict in verdicts.values()), verdicts
    record = records.ChapterRecord("error_sources", settings)
    error_sources.declare_claims(record, settings)
    error_sources.evaluate_claims(record, runs)
    error_sources.record_metrics(record, runs)
    assert record.metrics["expressivity_w2_squared"] == pytest.approx(
        theory.expressivity_w2_squared())
    assert record.save(tmp_path).name == "error_sources.json"


def _verdict_without(settings, runs, claim_id: str, **replaced) -> str:
    return _verdicts(settings, dataclasses.replace(runs, **replaced))[claim_id]


@pytest.mark.negative_control("error_sources", "statistical-only")
def test_statistical_only_fails_without_the_statistical_error(small_run):
    """The M = 10⁶ chains (the statistical error all but switched off) in place of the M = 100
    ones: nothing collapses, "not reproduced"."""
    settings, runs = small_run
    large = runs.statistical[runs.large_sample_size]
    assert _verdict_without(settings, runs, "statistical-only", statistical={
        runs.small_sample_size: large, runs.large_sample_size: large}) == "not reproduced"


@pytest.mark.negative_control("error_sources", "approximation-em")
def test_approximation_em_fails_when_em_converges(small_run):
    """EM run to convergence (30 iterations) for every k: no approximation error, the tails stay
    at D₀'s 1%, "not reproduced"."""
    settings, runs = small_run
    converged = experiments.em_runs([30], 30)[30]
    assert _verdict_without(settings, runs, "approximation-em",
                            em={k: converged for k in runs.em}) == "not reproduced"


@pytest.mark.negative_control("error_sources", "errors-compound")
def test_errors_compound_fails_without_the_statistical_error(small_run):
    """The bimodal-D₀ chains fitted to M = 10⁵ points instead of M = 100 (only the expressivity
    error left): the combined error is the floor, not the sum, "not reproduced"."""
    settings, runs = small_run
    nearly_infinite = experiments.bimodal_statistical_run(100_000, 40, 3, settings["seed"])
    assert _verdict_without(settings, runs, "errors-compound",
                            bimodal=nearly_infinite) == "not reproduced"


@pytest.mark.negative_control("error_sources", "errors-cancel")
def test_errors_cancel_fails_without_the_kernel(small_run):
    """The cancelling KDE chain replaced by one with h² = σ²/(100 M) (the approximation error
    all but off): the finite-sample shrinkage wins, "not reproduced"."""
    settings, runs = small_run
    size, bandwidth = runs.kde_sample_size, runs.cancelling_bandwidth
    narrow = experiments.sample_kde_runs(size, [bandwidth / 10], 200, 300, settings["seed"])
    assert _verdict_without(settings, runs, "errors-cancel", kde={
        **runs.kde, bandwidth: narrow[bandwidth / 10]}) == "not reproduced"


def test_checks_fail_on_runs_without_the_effect(small_run):
    """The checks can fail: KDE variances 50% above the recursion, a location drift 100×
    smaller than the exact one."""
    settings, runs = small_run
    kde = {h: _with_metric(run, "variance", 1.5 * run["variance"]) for h, run in runs.kde.items()}
    kde[runs.cancelling_bandwidth] = _with_metric(
        runs.cancelling, "mean", 0.1 * runs.cancelling["mean"])
    verdicts = _verdicts(settings, dataclasses.replace(runs, kde=kde))
    assert verdicts["kde-recursion"] == verdicts["cancel-is-partial"] == "not reproduced"
