"""Tests of collapse.error_sources: exact-distribution families, the KDE recursions, early-stopped
population EM and the chapter's claims machinery. Statistical tests use fixed seeds and a
tolerance of 4 standard errors of the Monte-Carlo estimate (a false alarm has probability
< 1e-4 per comparison)."""
import math

import numpy as np
import pytest

from collapse import error_sources as es
from collapse import gaussian_theory, profiles, results


def z_score(values, exact):
    values = np.asarray(values, float)
    return (values.mean() - exact) / (values.std(ddof=1) / math.sqrt(values.size))


# --------------------------------------------------------------------------- exact data
def test_mixture_moments_match_a_large_sample():
    mixture = es.Mixture1D([0.2, 0.8], [-1.0, 2.0], [0.5, 0.25])
    rng = np.random.default_rng(1)
    component = rng.random(400_000) < 0.2
    points = np.where(component, rng.normal(-1, math.sqrt(0.5), component.size),
                      rng.normal(2, 0.5, component.size))
    # SE of a mean: sd/sqrt(n); of a variance: ~ sqrt(Var((x - m)^2) / n)
    assert abs(points.mean() - mixture.mean()) < 4 * points.std() / math.sqrt(points.size)
    se_variance = ((points - points.mean()) ** 2).std() / math.sqrt(points.size)
    assert abs(points.var() - mixture.variance()) < 4 * se_variance


def test_quantile_inverts_cdf_and_merge_keeps_the_distribution():
    mixture = es.Mixture1D([0.3, 0.3, 0.4], [0.0, 0.0, 1.0], [1.0, 1.0, 0.5])
    u = np.array([0.001, 0.1, 0.5, 0.9, 0.999])
    assert np.allclose(mixture.cdf(mixture.quantile(u)), u, atol=1e-6)
    merged = mixture.merged()
    assert merged.n_components == 2
    x = np.linspace(-4, 4, 50)
    assert np.allclose(merged.pdf(x), mixture.pdf(x), atol=1e-14)


def test_pooling_weights_by_mass_and_take_keeps_the_distribution():
    data_type = es.ExactDistributionData()
    a, b = es.gaussian_distribution(0.0, 1.0, mass=300), es.gaussian_distribution(2.0, 1.0, 100)
    pool = data_type.concat([a, b])
    assert pool.mass == 400 and np.allclose(sorted(pool.weights), [0.25, 0.75])
    assert pool.mean() == pytest.approx(0.5)
    taken = data_type.take(pool, 7)
    assert taken.mass == 7 and np.allclose(taken.pdf([0.3]), pool.pdf([0.3]))


def test_bad_inputs_raise_value_errors_naming_the_parameter():
    with pytest.raises(ValueError, match="bandwidth"):
        es.check_bandwidth(0)
    with pytest.raises(ValueError, match="bandwidth"):
        es.ExactKDE(-1.0)
    with pytest.raises(ValueError, match="separation"):
        es.bimodal_distribution(1.5)
    with pytest.raises(ValueError, match="weights"):
        es.Mixture1D([0.5, 0.6], [0, 1], [1, 1])
    with pytest.raises(ValueError, match="n_iter"):
        es.population_em(es.bimodal_distribution(), n_iter=-1)
    with pytest.raises(ValueError, match="policy"):
        es.exact_kde_variance(0.1, 5, "keep_everything")
    with pytest.raises(ValueError, match="fraction"):
        es.exact_kde_variance(0.1, 5, "mix_real", 1.5)
    with pytest.raises(ValueError, match="sample_size"):
        es.kde_expected_variance(1, 0.1, 5)
    with pytest.raises(ValueError, match="kde_bandwidths"):
        es.cancelling_run({0.3: es.KDERun(100, 0.3, np.ones((2, 2)), np.zeros((2, 2)), 0.0)})
    with pytest.raises(ValueError, match="unknown setting"):
        profiles.settings("error_sources", "smoke", bandwidth=0.1)


# --------------------------------------------------------------------------- expressivity
def test_expressivity_error_is_made_once_and_equals_two_minus_two_kappa():
    runs = es.expressivity_only(6, policies=[("replace", None), ("accumulate", None),
                                             ("mix_real", 0.3)])
    floor = es.expressivity_w2_squared()
    kappa = gaussian_theory.bimodal_start(es.SEPARATION).quantile_correlation
    assert floor == pytest.approx(2 - 2 * kappa, abs=1e-12)
    for run in runs.values():
        assert np.allclose(run["w2_squared"], floor, atol=1e-12)
        assert np.allclose(run["variance"], 1.0, atol=1e-12)
    # an independent computation of the same W2² from quantile functions
    numeric = es.w2_squared_1d(es.gaussian_distribution(), es.bimodal_distribution(),
                               n_quantiles=20000)
    assert numeric == pytest.approx(floor, rel=2e-3)


# --------------------------------------------------------------------------- approximation
def test_exact_kde_through_the_loop_matches_every_policy_recursion():
    h, n = 0.3, 12
    runs = es.exact_kde_runs(h, n, [("replace", None), ("accumulate", None),
                                    ("mix_real", 0.25)])
    assert np.allclose(runs["replace"]["variance"], 1 + (np.arange(n + 1) + 1) * h ** 2)
    assert np.allclose(runs["accumulate"]["variance"],
                       es.exact_kde_variance(h, n, "accumulate"), atol=1e-12)
    assert np.allclose(runs["mix_real(0.25)"]["variance"],
                       es.exact_kde_variance(h, n, "mix_real", 0.25), atol=1e-12)
    # mix_real's limit σ² + h²/f and accumulate's harmonic growth
    assert es.exact_kde_variance(h, 400, "mix_real", 0.25)[-1] == pytest.approx(
        1 + h ** 2 / 0.25)
    assert es.exact_kde_variance(h, 3, "accumulate")[-1] == pytest.approx(
        1 + h ** 2 * (1 + 1 / 2 + 1 / 3 + 1 / 4))


def test_any_em_step_conserves_mean_and_variance_and_converged_em_is_a_fixed_point():
    truth = es.bimodal_distribution(0.8)
    for n_iter in (0, 1, 3):
        fit = es.population_em(truth, n_iter=n_iter)
        assert fit.mean() == pytest.approx(0.0, abs=1e-10)
        assert fit.variance() == pytest.approx(1.0, abs=1e-10)
    converged = es.population_em(truth, n_iter=2000)
    assert np.allclose(np.sort(converged.means), [-0.8, 0.8], atol=1e-6)
    assert np.allclose(converged.variances, 1 - 0.8 ** 2, atol=1e-6)
    # stopped early, the hard split makes the components too narrow
    assert np.all(np.sqrt(es.population_em(truth, n_iter=0).variances)
                  < math.sqrt(1 - 0.8 ** 2))


def test_population_em_equals_sample_em_on_a_large_sample():
    """The same algorithm (median split, M-step, 2 EM steps) on 2·10⁶ points: parameters agree
    within a few standard errors (~1e-3 for this sample size)."""
    truth = es.bimodal_distribution(0.6)
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
    fit = es.population_em(truth, n_iter=2)
    order = np.argsort(fit.means)
    assert np.allclose(fit.means[order], np.sort(means), atol=5e-3)
    assert np.allclose(fit.variances[order], variances[np.argsort(means)], atol=5e-3)


def test_early_stopped_em_chain_loses_tails_but_not_variance():
    runs = es.em_runs([0, 5], 30, distance_generations=[0, 30])
    few, many = runs[0], runs[5]
    assert np.abs(few["variance"] - 1).max() < 1e-8
    assert few["tail_mass"][-1] < few["tail_mass"][0] < 0.01
    assert abs(many["tail_mass"][-1] / 0.01 - 1) < 0.05
    assert few["w2_squared"][30] > few["w2_squared"][0]
    assert np.isnan(few["w2_squared"][10])


# --------------------------------------------------------------------------- KDE with M samples
def test_sample_kde_generates_its_own_distribution():
    rng = np.random.default_rng(3)
    family = es.SampleKDE(0.5)
    model = family.fit(rng.standard_normal((4, 50)))
    draws = family.generate(model, 200_000, rng)
    for seed in range(4):
        sample = draws[seed]
        se_mean = sample.std() / math.sqrt(sample.size)
        assert abs(sample.mean() - model.mean[seed]) < 4 * se_mean
        se_var = ((sample - sample.mean()) ** 2).std() / math.sqrt(sample.size)
        assert abs(sample.var() - model.variance[seed]) < 4 * se_var


@pytest.mark.slow
def test_kde_variance_and_mean_error_recursions_hold_in_simulation():
    size, h, n = 20, 0.35, 40
    runs = es.sample_kde_runs(size, [h], 20000, n, seed=11)
    run = runs[h]
    exact_variance, exact_error = run.theory_variance(), run.theory_mean_error()
    for generation in (0, 1, 5, 20, 40):
        assert abs(z_score(run.variance[generation], exact_variance[generation])) < 4
        assert abs(z_score(run.mean[generation] ** 2, exact_error[generation])) < 4
    # the fixed point and the infinite-data limit
    assert es.kde_expected_variance(size, h, 5000)[-1] == pytest.approx(size * h ** 2)
    assert np.allclose(es.kde_expected_variance(None, h, 4), 1 + h ** 2 * np.arange(1, 6))


def test_kde_cancellation_keeps_the_expected_variance_at_sigma_squared():
    size = 50
    assert np.allclose(es.kde_expected_variance(size, 1 / math.sqrt(size), 300), 1.0)
    assert np.allclose(es.kde_expected_mean_error(size, 1 / math.sqrt(size), 10),
                       (np.arange(11) + 1) / size)


# --------------------------------------------------------------------------- chapter
def test_smoke_chapter_claims_are_declared_evaluated_and_saved(tmp_path):
    settings = profiles.settings("error_sources", "smoke", n_seeds=50, n_generations=300,
                                 kde_seeds=50, kde_generations=60, em_generations=20,
                                 expressivity_generations=5)
    record = results.ChapterRecord("error_sources", settings)
    es.declare_claims(record, settings)
    statistical = es.statistical_only([settings.small_sample_size, settings.large_sample_size],
                                      settings.n_seeds, settings.n_generations, settings.seed)
    expressivity = es.expressivity_only(5, policies=[("replace", None), ("accumulate", None)])
    exact = es.exact_kde_runs(settings.exact_kde_bandwidth, 20,
                              [("replace", None), ("mix_real", 0.5)])
    em = es.em_runs(settings.em_iterations, settings.em_generations, keep=(20,))
    kde = es.sample_kde_runs(settings.kde_sample_size, settings.kde_bandwidths,
                             settings.kde_seeds, settings.kde_generations, settings.seed)
    bimodal = es.bimodal_statistical_runs(settings.small_sample_size, settings.n_seeds,
                                          settings.n_generations, settings.seed)
    es.evaluate_claims(record, settings, statistical, expressivity, es.expressivity_w2_squared(),
                       exact, em, kde, bimodal)
    verdicts = {claim.id: claim.verdict for claim in record.claims.values()}
    assert set(verdicts.values()) <= set(results.VERDICTS)
    for exact_claim in ("expressivity-first-generation", "approximation-kde",
                        "policies-bound-approximation"):
        assert verdicts[exact_claim] == "reproduced"
    path = record.save(tmp_path)
    assert path.name == "error_sources.json"
