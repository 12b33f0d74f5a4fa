"""The GMM chapter's computations: closed-form L2², the batched EM against scikit-learn,
k-means initialisation, sampling, tail metrics, the family in the shared loop, bad inputs.

Statistical tests use fixed seeds; their tolerances are a stated number of standard errors
of the estimator (binomial or sample-mean standard errors), so they fail on real errors."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from collapse.core.checkpoints import PickleCheckpointer
from collapse.core.loop import run_generations
from collapse.core import policies
from collapse.core.policies import policy_from_name
from collapse.core.seeds import rng_for
from collapse.gmm import batched_em, claims, experiments, family, metrics, theory
from collapse.gmm.batched_em import Mixture
from collapse.publish import profiles, records


def random_mixture(rng, n_components, n_seeds=1, scale=1.0):
    """Random 2-D mixtures with well-conditioned covariances."""
    weights = rng.dirichlet(np.ones(n_components), size=n_seeds)
    means = np.clip(rng.normal(0, 1.5, size=(n_seeds, n_components, 2)), -5, 5)
    factors = rng.normal(0, 1, size=(n_seeds, n_components, 2, 2)) * scale
    covariances = factors @ np.swapaxes(factors, -1, -2) + 0.2 * np.eye(2)
    return Mixture(weights, means, covariances)


def scipy_density(mixture, points, seed=0):
    return sum(w * stats.multivariate_normal(m, c).pdf(points) for w, m, c in
               zip(mixture.weights[seed], mixture.means[seed], mixture.covariances[seed]))


# --------------------------------------------------------------------------- L2 distance
@pytest.mark.parametrize("kp, kq", [(1, 1), (2, 2), (2, 3), (3, 1)])
def test_l2_squared_matches_numerical_integration_on_a_grid(kp, kq):
    rng = np.random.default_rng(100 + 10 * kp + kq)
    p, q = random_mixture(rng, kp, scale=0.7), random_mixture(rng, kq, scale=0.7)
    # trapezoid rule, spacing 0.04 on [-16, 16]²: for a Gaussian integrand of sd σ its error
    # is ~exp(-2π²σ²/h²) (negligible for σ >= 0.3 here), and with means within ±5 and
    # sd <= 2 the mass outside the box is below 1e-12
    axis = np.linspace(-16, 16, 801)
    xx, yy = np.meshgrid(axis, axis, indexing="ij")
    points = np.stack([xx, yy], -1)
    difference = scipy_density(p, points) - scipy_density(q, points)
    numeric = np.trapezoid(np.trapezoid(difference ** 2, axis, axis=1), axis)
    closed = theory.l2_squared(p, q)[0]
    assert closed == pytest.approx(numeric, rel=1e-8, abs=1e-14)


def test_l2_squared_is_zero_for_equal_mixtures_symmetric_and_broadcasts():
    rng = np.random.default_rng(1)
    p = random_mixture(rng, 2, n_seeds=3)
    q = random_mixture(rng, 2, n_seeds=3)
    np.testing.assert_allclose(theory.l2_squared(p, p), 0, atol=1e-14)
    np.testing.assert_allclose(theory.l2_squared(p, q), theory.l2_squared(q, p), rtol=1e-12)
    one = p.select(slice(0, 1))
    np.testing.assert_allclose(theory.l2_squared(one, q),
                               [theory.l2_squared(one, q.select(slice(i, i + 1)))[0]
                                for i in range(3)], rtol=1e-12)


def test_l2_squared_of_narrow_gaussians_grows_like_one_over_variance():
    # ∫N(0, s²I)² = 1/(4π s²): the collapse makes L2² large, as in the authors' run
    for s in (1.0, 0.1, 0.01):
        narrow = Mixture([[1.0]], [[[0.0, 0.0]]], [[s ** 2 * np.eye(2)]])
        assert theory.gaussian_product_integral(narrow, narrow)[0] == \
            pytest.approx(1 / (4 * np.pi * s ** 2), rel=1e-12)


# --------------------------------------------------------------------------- EM vs sklearn
def _collapsed_data(rng):
    """Data like late generations: two tight clusters with unequal weights."""
    labels = rng.random((3, 1000)) < 0.8
    centres = np.where(labels[..., None], [0.3, -0.1], [-0.2, 0.25])
    return centres + rng.normal(0, 0.02, size=(3, 1000, 2))


@pytest.mark.parametrize("case", ["one_blob", "two_gaussians", "collapsed", "three_components"])
def test_batched_em_matches_sklearn_from_the_same_initialisation(case):
    rng = np.random.default_rng(7)
    n_components = 3 if case == "three_components" else 2
    if case == "collapsed":
        X = _collapsed_data(rng)
    else:
        setup = family.SETUPS["two_gaussians" if case == "two_gaussians" else "one_blob"]
        X = setup.real_data(1000, 3, rng)
    check = experiments.validate_against_sklearn(X, rng, n_components=n_components)
    assert np.all(check["relative_difference"] < 1e-6), check
    # same algorithm, same start: the same iteration at which |Δ lower bound| < tol
    np.testing.assert_array_equal(check["batched_n_iter"], check["sklearn_n_iter"])


def test_batched_em_parameters_match_sklearn():
    rng = np.random.default_rng(3)
    X = family.SETUPS["one_blob"].real_data(500, 2, rng)
    initial = batched_em.mixture_from_labels(X, batched_em.kmeans(X, 2, rng), 2)
    ours = batched_em.fit_em(X, 2, initial=initial).mixture
    for s in range(2):
        with threadpool_limits(1):
            ref = GaussianMixture(2, covariance_type="full", tol=1e-5, max_iter=2000,
                                  init_params="random_from_data",
                                  weights_init=initial.weights[s], means_init=initial.means[s],
                                  precisions_init=np.linalg.inv(initial.covariances[s])).fit(X[s])
        np.testing.assert_allclose(ours.weights[s], ref.weights_, atol=1e-9)
        np.testing.assert_allclose(ours.means[s], ref.means_, atol=1e-9)
        np.testing.assert_allclose(ours.covariances[s], ref.covariances_, atol=1e-9)


def test_initial_mixture_is_sklearns_initialisation_from_the_same_labels():
    rng = np.random.default_rng(4)
    X = family.SETUPS["one_blob"].real_data(400, 2, rng)
    labels = batched_em.kmeans(X, 2, rng)
    ours = batched_em.mixture_from_labels(X, labels, 2)
    for s in range(2):
        resp = np.eye(2)[labels[s]]
        ref = GaussianMixture(2, covariance_type="full", max_iter=1)
        ref._initialize(X[s], resp)
        np.testing.assert_allclose(ours.weights[s], ref.weights_, rtol=1e-12)
        np.testing.assert_allclose(ours.means[s], ref.means_, atol=1e-12)
        np.testing.assert_allclose(ours.covariances[s], ref.covariances_, atol=1e-12)


def test_lloyd_iterations_match_sklearn_kmeans_from_the_same_centres():
    rng = np.random.default_rng(5)
    X = family.SETUPS["one_blob"].real_data(1000, 4, rng)
    centres = X[:, :2].copy()        # two data points as initial centres
    ours = batched_em.kmeans(X, 2, None, initial_centers=centres)
    with threadpool_limits(1):
        for s in range(4):
            ref = KMeans(2, init=centres[s], n_init=1).fit(X[s]).labels_
            np.testing.assert_array_equal(ours[s], ref)


def test_kmeans_plusplus_matches_the_exact_greedy_seeding_distribution():
    # five points; greedy k-means++ with 2 local trials: first centre uniform, two candidates
    # drawn independently with probability ∝ D², keep the one with the lower potential.
    points = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [3.0, 1.0], [-1.0, -1.0]])
    distance = np.square(points[:, None] - points[None]).sum(-1)
    exact = np.zeros((5, 5))
    for first in range(5):
        weights = distance[first] / distance[first].sum()
        for a, b in itertools.product(range(5), repeat=2):
            potentials = [np.minimum(distance[first], distance[c]).sum() for c in (a, b)]
            exact[first, (a, b)[int(np.argmin(potentials))]] += weights[a] * weights[b] / 5
    n = 40000
    centres = batched_em.kmeans_plusplus(np.broadcast_to(points, (n, 5, 2)), 2,
                                         np.random.default_rng(6))
    index = (centres[:, :, None, :] == points).all(-1).argmax(-1)     # (n, 2)
    observed = np.zeros((5, 5))
    np.add.at(observed, (index[:, 0], index[:, 1]), 1)
    observed /= n
    standard_error = np.sqrt(exact * (1 - exact) / n)
    assert np.all(np.abs(observed - exact) <= 5 * standard_error + 1e-12)


# --------------------------------------------------------------------------- sampling, densities
def test_sample_mixture_has_the_mixture_mean_and_covariance():
    rng = np.random.default_rng(8)
    mixture = random_mixture(rng, 3, n_seeds=2)
    n = 200000
    samples = batched_em.sample_mixture(mixture, n, rng)
    for s in range(2):
        w, m, c = mixture.weights[s], mixture.means[s], mixture.covariances[s]
        mean = w @ m
        covariance = (w[:, None, None] * (c + m[:, :, None] * m[:, None, :])).sum(0) \
            - np.outer(mean, mean)
        # 5 standard errors of a sample mean of n draws
        tolerance = 5 * np.sqrt(np.diag(covariance) / n)
        assert np.all(np.abs(samples[s].mean(0) - mean) < tolerance)
        np.testing.assert_allclose(np.cov(samples[s].T), covariance, rtol=0.02, atol=0.02)


def test_log_density_matches_scipy():
    rng = np.random.default_rng(9)
    mixture = random_mixture(rng, 2, n_seeds=2)
    points = rng.normal(0, 2, size=(2, 50, 2))
    ours = batched_em.log_density(points, mixture)
    for s in range(2):
        np.testing.assert_allclose(ours[s], np.log(scipy_density(mixture, points[s], s)),
                                   rtol=1e-10)
    assert batched_em.mean_log_likelihood(points, mixture) == \
        pytest.approx(ours.mean(1), rel=1e-12)


def test_component_spread_is_the_root_mean_variance():
    covariances = np.array([[[[4.0, 1.0], [1.0, 0.0001]], [[0.01, 0], [0, 0.01]]]])
    np.testing.assert_allclose(metrics.component_spread(covariances),
                               [[np.sqrt(4.0001 / 2), 0.1]])
    assert metrics.mean_spread(np.array([[0.25, 0.75]]), covariances)[0] == \
        pytest.approx(0.25 * np.sqrt(4.0001 / 2) + 0.075)


# --------------------------------------------------------------------------- tails
def test_hdr_threshold_of_a_standard_gaussian_holds_its_level():
    rng = np.random.default_rng(10)
    truth = family.SETUPS["one_blob"].true_mixture()
    n = 200000
    for level in (0.95, 0.99):
        log_t = metrics.hdr_log_threshold(truth, level, n, rng)[0]
        radius2 = -2 * (log_t + np.log(2 * np.pi))     # N(0, I): p = e^{-r²/2} / 2π
        exact_mass = 1 - np.exp(-radius2 / 2)
        assert abs(exact_mass - level) < 5 * np.sqrt(level * (1 - level) / n)


def test_tail_masses_of_the_truth_itself_are_the_levels():
    rng = np.random.default_rng(11)
    setup = family.SETUPS["two_gaussians"]
    truth = setup.true_mixture()
    n = 50000
    thresholds = {lv: metrics.hdr_log_threshold(truth, lv, 4 * n, rng)[0] for lv in (0.95, 0.99)}
    masses = metrics.tail_masses(Mixture.stack([truth] * 2), truth, thresholds,
                             batched_em.sample_mixture(truth, n, rng)[0], n, rng)
    for level in (0.95, 0.99):
        # binomial SE of each Monte-Carlo mass, plus the threshold's own estimation error
        tolerance = 6 * np.sqrt(level * (1 - level) / n)
        assert np.all(np.abs(masses["outside"][level] - (1 - level)) < tolerance)
        assert np.all(np.abs(masses["covered"][level] - level) < tolerance)


def test_a_collapsed_mixture_has_no_tails_and_covers_little():
    rng = np.random.default_rng(12)
    truth = family.SETUPS["one_blob"].true_mixture()
    point = Mixture([[1.0]], [[[0.1, 0.0]]], [[0.01 ** 2 * np.eye(2)]])
    thresholds = {0.99: metrics.hdr_log_threshold(truth, 0.99, 100000, rng)[0]}
    masses = metrics.tail_masses(point, truth, thresholds,
                             batched_em.sample_mixture(truth, 20000, rng)[0], 20000, rng)
    assert masses["outside"][0.99][0] == 0.0
    assert masses["covered"][0.99][0] < 0.01


# --------------------------------------------------------------------------- data type
def test_point_pool_appends_in_place_without_changing_earlier_views():
    data_type = family.PointData()
    real = np.zeros((2, 3, 2))
    first = data_type.concat([real, np.ones((2, 3, 2))])
    second = data_type.concat([first, 2 * np.ones((2, 4, 2))])
    third = data_type.concat([second, 3 * np.ones((2, 100, 2))])   # forces a regrow
    assert data_type.size(first) == 6 and data_type.size(second) == 10
    assert data_type.size(third) == 110
    np.testing.assert_array_equal(np.asarray(first)[0, :, 0], [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(np.asarray(third)[1, 6:11, 0], [2, 2, 2, 2, 3])
    branch = data_type.concat([first, 5 * np.ones((2, 1, 2))])     # first is not the newest
    np.testing.assert_array_equal(np.asarray(branch)[0, :, 0], [0, 0, 0, 1, 1, 1, 5])
    np.testing.assert_array_equal(np.asarray(second)[0, 6:, 0], [2, 2, 2, 2])
    assert real.sum() == 0


def test_point_data_take_draws_distinct_points_per_seed():
    data_type = family.PointData()
    pool = np.arange(2 * 5000 * 2, dtype=float).reshape(2, 5000, 2)
    taken = data_type.take(pool, 1000, np.random.default_rng(0))
    assert taken.shape == (2, 1000, 2)
    for s in range(2):
        rows = taken[s, :, 0]
        assert len(np.unique(rows)) == 1000 and np.isin(rows, pool[s, :, 0]).all()


# --------------------------------------------------------------------------- the loop
def _real_rows_in(data, real):
    """How many rows of each seed's training data are rows of that seed's real data."""
    data = np.asarray(data)
    return np.array([np.isin(data[s, :, 0], real[s, :, 0]).sum() for s in range(len(data))])


def test_policies_in_one_batch_follow_their_own_rules():
    rng = np.random.default_rng(13)
    n, per_group = 200, 3
    real = family.SETUPS["one_blob"].real_data(n, 3 * per_group, rng)
    names = ["replace", "mix_real(0.1)", "accumulate_subsample"]
    policy = family.SeedGroups([(per_group, policy_from_name(name)) for name in names])
    counts = {}

    def real_share(model, data, generation):
        counts[generation] = _real_rows_in(data, real)
        return 0.0

    run = run_generations(family.BatchedGMMFamily(), real, policy, 8, rng,
                               {"share": real_share, **metrics.PARAMETER_METRICS})
    assert run.metrics["weights"].shape == (9, 3 * per_group, 2)
    assert list(run.sizes) == [n] * 9
    for generation in range(1, 9):
        share = counts[generation]
        assert np.all(share[:per_group] == 0)                         # replace: none real
        assert np.all(share[per_group:2 * per_group] == round(0.1 * n))  # mix_real: 10%
    # accumulate_subsample: n from a pool of (g+1)·n holding the n real points, so the real
    # count is hypergeometric with mean n/(g+1); 9 seeds × 8 generations pooled, 5 SE
    expected = sum(n / (g + 1) for g in range(1, 9)) * per_group
    variance = sum(n * (1 / (g + 1)) * (g / (g + 1)) * (g * n / ((g + 1) * n - 1))
                   for g in range(1, 9)) * per_group
    observed = sum(counts[g][2 * per_group:].sum() for g in range(1, 9))
    assert abs(observed - expected) < 5 * np.sqrt(variance)


def test_accumulate_trains_on_the_whole_growing_pool():
    rng = np.random.default_rng(14)
    real = family.SETUPS["one_blob"].real_data(100, 2, rng)
    run = run_generations(family.BatchedGMMFamily(), real, policy_from_name("accumulate"),
                               5, rng, dict(metrics.PARAMETER_METRICS))
    assert list(run.sizes) == [100 * (g + 1) for g in range(6)]


def test_run_spec_snapshots_and_histories():
    spec = experiments.RunSpec((("one_blob", "replace"), ("two_gaussians", "replace")), 300,
                               2, 12, snapshot_generations=(0, 5, 12, 50))
    one_blob, two = experiments.run_spec(spec, seed=1, tail_samples=500, tail_evaluations=5)
    assert sorted(one_blob.snapshots) == [0, 5, 12]       # generations past the run dropped
    real = family.SETUPS["one_blob"].real_data(300, 2, rng_for(1, "real", "one_blob", 300))
    np.testing.assert_array_equal(one_blob.snapshots[0], real[0])
    assert one_blob.weights.shape == (13, 2, 2) and two.setup == "two_gaussians"
    assert one_blob.l2_to_generation0()[0] == pytest.approx([0, 0], abs=1e-14)
    assert np.all(one_blob.l2_to_generation0()[1:] > 0)
    assert set(one_blob.tails["outside"]) == {0.95, 0.99}
    assert one_blob.tails["covered"][0.95].shape == (len(one_blob.tail_generations), 2)
    assert two.spread()[0] == pytest.approx(1.0, abs=0.15)   # each blob has sd 1


def test_same_seed_same_numbers():
    spec = experiments.RunSpec((("one_blob", "mix_real(0.1)"),), 200, 2, 5)
    first = experiments.run_spec(spec, seed=3, tail_levels=())[0]
    second = experiments.run_spec(spec, seed=3, tail_levels=())[0]
    np.testing.assert_array_equal(first.covariances, second.covariances)


def test_sklearn_family_runs_through_the_loop_and_is_timed():
    timing = experiments.time_authors_loop(family.SETUPS["one_blob"], 200, 3, 2, seed=0)
    assert timing.authors.weights.shape == (4, 1, 2)
    assert timing.batched.weights.shape == (4, 2, 2)
    assert timing.authors_rate > 0 and timing.batched_rate > 0


def test_chapter_specs_cover_every_policy_and_sample_size():
    settings = profiles.settings("gmm", "book")
    specs = experiments.chapter_specs(settings)
    main = [g for s in specs if s.n_points == settings.n_points and s.n_components == 2
            for g in s.groups]
    assert set(main) >= {("one_blob", "replace"), ("two_gaussians", "replace"),
                         ("one_blob", "accumulate_subsample"), ("one_blob", "mix_real(0.1)"),
                         ("one_blob", "accumulate")}
    assert {s.n_points for s in specs} == {500, 1000, 10000}
    assert all(s.n_seeds >= 8 and s.n_generations == 2050 for s in specs
               if s.n_points == 1000 and ("one_blob", "replace") in s.groups)


# --------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("call, message", [
    (lambda: batched_em.fit_em(np.zeros((2, 10)), 2, np.random.default_rng(0)),
     "X must have shape"),
    (lambda: batched_em.fit_em(np.full((1, 10, 2), np.nan), 2, np.random.default_rng(0)),
     "NaN or infinite"),
    (lambda: batched_em.fit_em(np.zeros((1, 1, 2)), 2, np.random.default_rng(0)),
     "at least max"),
    (lambda: batched_em.fit_em(np.random.default_rng(0).random((1, 10, 2)), 0),
     "n_components must be an integer >= 1"),
    (lambda: batched_em.fit_em(np.random.default_rng(0).random((1, 10, 2)), 2,
                               np.random.default_rng(0), max_iter=0), "max_iter"),
    (lambda: batched_em.fit_em(np.random.default_rng(0).random((1, 10, 2)), 2,
                               np.random.default_rng(0), tol=-1), "tol"),
    (lambda: batched_em.fit_em(np.random.default_rng(0).random((1, 10, 2)), 2),
     "needs rng"),
    (lambda: batched_em.sample_mixture(family.SETUPS["one_blob"].true_mixture(), 0,
                                       np.random.default_rng(0)), "n must be an integer"),
    (lambda: batched_em.kmeans(np.zeros((1, 3, 2)), 5, np.random.default_rng(0)),
     "n_clusters"),
    (lambda: family.SETUPS["one_blob"].real_data(1, 2, np.random.default_rng(0)),
     "n_points must be an integer >= 2"),
    (lambda: family.setup_named("three_blobs"), "unknown setup 'three_blobs'; allowed: one_blob"),
    (lambda: policy_from_name("recycle"), "unknown policy 'recycle'; allowed: replace"),
    (lambda: policy_from_name("mix_real(1.5)"), "fraction must be a number in"),
    (lambda: family.SeedGroups([(2, policy_from_name("accumulate"))]), "cannot share"),
    (lambda: Mixture(np.ones((1, 2)), np.zeros((1, 2, 3)), np.zeros((1, 2, 3, 3))),
     "inconsistent mixture shapes"),
    (lambda: profiles.settings("gmm", "huge"), "unknown profile 'huge'"),
    (lambda: profiles.settings("gmm", "book", n_sedes=3), "unknown setting 'n_sedes'"),
])
def test_bad_inputs_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_a_degenerate_covariance_is_reported():
    flat = Mixture([[1.0]], [[[0.0, 0.0]]], [[[[1.0, 1.0], [1.0, 1.0]]]])
    with pytest.raises(ValueError, match="not positive definite"):
        batched_em.log_density(np.zeros((1, 3, 2)), flat)


def test_single_component_loop_matches_the_exact_wishart_theory():
    # K = 1: EM gives the Gaussian MLE, so log det(Σ_n/Σ_0) is a sum of n i.i.d.
    # log-chi-square terms; compare quantiles of the simulated ratio with the theory at
    # generation 40 (400 seeds; tolerance 5 standard errors of an empirical quantile)
    n_points, n_seeds, n_generations = 100, 400, 40
    spec = experiments.RunSpec((("one_blob", "replace"),), n_points, n_seeds, n_generations,
                               n_components=1)
    history = experiments.run_spec(spec, seed=2, tail_levels=())[0]
    log_ratio = 4 * np.log(theory.geometric_spread_ratio(history.covariances)[n_generations])
    predicted = 4 * np.log(theory.single_gaussian_theory(n_points, [n_generations],
                                                         (0.1, 0.5, 0.9))[:, 0])
    sd = (predicted[2] - predicted[0]) / (2 * stats.norm.ppf(0.9))
    for q, expected in zip((0.1, 0.5, 0.9), predicted):
        standard_error = np.sqrt(q * (1 - q) / n_seeds) / stats.norm.pdf(stats.norm.ppf(q)) * sd
        assert abs(np.quantile(log_ratio, q) - expected) < 5 * standard_error


def test_mean_log_of_block_products_equals_the_mean_log():
    values = 0.5 + 0.5 * np.random.default_rng(15).random((3, 2500))
    np.testing.assert_allclose(batched_em._mean_log_half_to_one(values),
                               np.log(values).mean(-1), rtol=0, atol=1e-13)


def test_log_likelihood_of_far_apart_narrow_components_is_exact():
    # log-density gaps far beyond the ±700 clip of the two-component E-step
    mixture = Mixture([[0.3, 0.7]], [[[-5.0, 0.0], [5.0, 0.0]]],
                      [[0.001 ** 2 * np.eye(2), 0.002 ** 2 * np.eye(2)]])
    points = batched_em.sample_mixture(mixture, 400, np.random.default_rng(16))
    points[0, :5] += 0.004                      # a few points in the far tails
    expected = np.log(scipy_density(mixture, points[0])).mean()
    # the feature (moment) form cancels terms of size (|x - centre| / sd)² ~ 5e7 here, so
    # its rounding error is ~1e-8 absolute; the clip must not add anything beyond that
    assert batched_em.mean_log_likelihood(points, mixture)[0] == pytest.approx(expected,
                                                                               rel=1e-8)


def _tiny_settings(**overrides):
    settings = profiles.settings("gmm", "smoke", n_seeds=2, n_points=200, n_generations=4,
                                 sample_size_runs=[{"n_points": 100, "n_seeds": 2,
                                                    "n_generations": 3}],
                                 tail_samples=300, **overrides)
    settings.update(accumulate_generations=2, tail_evaluations=3, authors_generations=2,
                    timing_seeds=2)
    return settings


def test_the_chapter_pipeline_on_tiny_settings(tmp_path):
    # every run, claim, metric, figure and text of the chapter, end to end, at a tiny scale
    import matplotlib
    matplotlib.use("Agg")
    from collapse.gmm import figures
    settings = _tiny_settings()
    lines = []
    runs = experiments.run(settings, progress=lines.append)
    assert len(lines) == len(experiments.chapter_specs(settings))
    record = records.ChapterRecord("gmm", settings)
    claims.declare_claims(record, settings)
    claims.evaluate_claims(record, runs)
    experiments.record_metrics(record, runs)
    assert all(c.verdict in records.VERDICTS for c in record.claims.values())
    spread = record.metrics["median_spread"]
    assert {"N=200/replace", "N=200/replace/two_gaussians", "N=200/mix_real(0.1)",
            "N=200/accumulate_subsample", "N=200/accumulate", "N=200/replace/K=1",
            "N=100/replace", "N=100/mix_real(0.1)"} <= set(spread)
    assert spread["N=200/replace"]["50"] is None and spread["N=200/replace"]["last"] > 0
    assert record.metrics["validation_max_relative_loglik_difference"] < 1e-6
    assert "| one blob | `replace` | 200 |" in figures.summary_markdown(runs)
    for text in (figures.validation_markdown, figures.setups_markdown,
                 figures.comparison_markdown, figures.tail_sampling_note,
                 figures.tails_markdown, figures.policies_markdown, figures.speed_markdown):
        assert text(runs)
    for draw in (figures.l2_chains_figure, figures.l2_bands_figure,
                 figures.spread_bands_figure, figures.single_gaussian_figure,
                 figures.tails_figure, figures.sample_size_figure, figures.policies_figure):
        matplotlib.pyplot.close(draw(runs))
    for setup in ("one_blob", "two_gaussians"):
        matplotlib.pyplot.close(figures.snapshots_figure(runs, setup))
    assert record.save(tmp_path).is_file()


def test_the_package_implements_the_experiment_protocol():
    import collapse.gmm
    from collapse.core.experiment import check_protocol
    check_protocol(collapse.gmm)


def test_paper_profile_specs_are_the_full_scale_runs():
    specs = experiments.chapter_specs(profiles.settings("gmm", "paper"))
    assert any(s.n_points == 10000 and s.n_generations == 2050 for s in specs)
    assert all(s.n_seeds >= 8 for s in specs)


# --------------------------------------------------------------------------- resume
class _Interrupted(Exception):
    pass


class _InterruptingCheckpointer(PickleCheckpointer):
    """Saves like a PickleCheckpointer, then stops the run after saving ``generation``."""

    def __init__(self, directory, generation):
        super().__init__(directory)
        self.generation = generation

    def save(self, generation, state):
        super().save(generation, state)
        if generation == self.generation:
            raise _Interrupted


class _RecordingCheckpointer(PickleCheckpointer):
    """A PickleCheckpointer that remembers which generations it saved."""

    def __init__(self, directory):
        super().__init__(directory)
        self.saved = []

    def save(self, generation, state):
        super().save(generation, state)
        self.saved.append(generation)


def test_a_resumed_chain_records_the_same_metrics_and_snapshots(tmp_path):
    # issue 11, point 5: the snapshots are a fold, saved in every checkpoint, so a chain
    # interrupted after generation 5 and resumed equals one that ran straight through
    spec = experiments.RunSpec((("one_blob", "replace"), ("one_blob", "mix_real(0.1)")), 120,
                               2, 9, snapshot_generations=(0, 3, 7, 9))
    options = dict(seed=4, tail_samples=200, tail_evaluations=4)
    straight = experiments.run_spec(spec, **options)
    with pytest.raises(_Interrupted):
        experiments.run_spec(spec, checkpointer=_InterruptingCheckpointer(tmp_path, 5),
                             **options)
    checkpointer = _RecordingCheckpointer(tmp_path)
    resumed = experiments.run_spec(spec, checkpointer=checkpointer, **options)
    assert checkpointer.saved == [6, 7, 8, 9]          # it resumed after generation 5
    for first, second in zip(straight, resumed):
        for name in ("weights", "means", "covariances", "n_iter", "sizes"):
            np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
        assert sorted(first.snapshots) == sorted(second.snapshots) == [0, 3, 7, 9]
        for generation in first.snapshots:
            np.testing.assert_array_equal(first.snapshots[generation],
                                          second.snapshots[generation])
        for kind in ("outside", "covered"):
            for level in (0.95, 0.99):
                np.testing.assert_array_equal(first.tails[kind][level],
                                              second.tails[kind][level])
    # the snapshots of generations 0 and 3 came from the checkpoint
    real = family.SETUPS["one_blob"].real_data(120, 2, rng_for(4, "real", "one_blob", 120))
    np.testing.assert_array_equal(resumed[0].snapshots[0], real[0])
    np.testing.assert_array_equal(resumed[1].snapshots[0], real[0])


def test_the_resumed_loop_reports_where_it_resumed(tmp_path):
    real = family.SETUPS["one_blob"].real_data(100, 2, np.random.default_rng(17))
    fold = {"snapshots": metrics.snapshot_fold((0, 2, 4), seeds=[1])}

    def chain(checkpointer):
        return run_generations(family.BatchedGMMFamily(), real, policy_from_name("replace"), 4,
                               np.random.default_rng(18), dict(metrics.PARAMETER_METRICS),
                               checkpointer=checkpointer, folds=fold)

    straight = chain(None)
    with pytest.raises(_Interrupted):
        chain(_InterruptingCheckpointer(tmp_path, 2))
    resumed = chain(PickleCheckpointer(tmp_path))
    assert resumed.resumed_from == 2 and straight.resumed_from is None
    assert sorted(resumed.folds["snapshots"]) == [0, 2, 4]
    for generation, points in straight.folds["snapshots"].items():
        assert points.shape == (1, 100, 2)
        np.testing.assert_array_equal(points, resumed.folds["snapshots"][generation])
    np.testing.assert_array_equal(straight.folds["snapshots"][0][0], real[1])


# --------------------------------------------------------------------------- drift measure
def test_gaussian_w2_matches_the_matrix_square_root_formula():
    from scipy.linalg import sqrtm
    rng = np.random.default_rng(3)
    for _ in range(5):
        a, b = rng.normal(size=(2, 2, 2))
        cov_p, cov_q = a @ a.T + 0.1 * np.eye(2), b @ b.T + 0.2 * np.eye(2)
        mean_p, mean_q = rng.normal(size=(2, 2))
        root = sqrtm(cov_p)
        exact = ((mean_p - mean_q) ** 2).sum() + np.trace(cov_p) + np.trace(cov_q) \
            - 2 * np.trace(sqrtm(root @ cov_q @ root)).real
        assert theory.gaussian_w2_squared(mean_p, cov_p, mean_q, cov_q) == \
            pytest.approx(exact, rel=1e-9)


def test_moment_w2_is_a_lower_bound_that_ignores_peakedness():
    """The moment-matched W2² is below the exact optimal-transport W2² between samples (an
    upward-biased estimate of W2²), zero between different mixtures with equal moments, and
    bounded as the fit shrinks to a point, while ∫(p_0 − p_n)² grows like 1/spread²."""
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist
    rng = np.random.default_rng(4)
    p, q = random_mixture(rng, 2), random_mixture(rng, 2, scale=0.5)
    bound = theory.gaussian_w2_squared(*theory.mixture_moments(p.weights, p.means,
                                                               p.covariances),
                                       *theory.mixture_moments(q.weights, q.means,
                                                               q.covariances))[0]
    x, y = (batched_em.sample_mixture(m, 600, rng)[0] for m in (p, q))
    cost = cdist(x, y, "sqeuclidean")
    rows, columns = linear_sum_assignment(cost)
    assert bound <= cost[rows, columns].mean()
    two = Mixture([[0.5, 0.5]], [[[-1.0, 0.0], [1.0, 0.0]]], [[np.eye(2) * 0.1] * 2])
    one = Mixture([[1.0]], [[[0.0, 0.0]]], [[np.diag([1.1, 0.1])]])
    moments = [theory.mixture_moments(m.weights, m.means, m.covariances) for m in (two, one)]
    assert theory.gaussian_w2_squared(*moments[0], *moments[1])[0] == pytest.approx(0, abs=1e-12)
    assert theory.l2_squared(two, one)[0] > 0.01
    spreads = np.array([1.0, 0.1, 0.01, 0.001])
    history = metrics.MixtureHistory(
        "one_blob", "replace", 100, 1, np.ones((4, 1, 1)), np.zeros((4, 1, 1, 2)),
        (spreads ** 2)[:, None, None, None, None] * np.eye(2), np.ones((4, 1), int),
        np.full(4, 100))
    w2 = history.w2_to_generation0()[:, 0]
    np.testing.assert_allclose(w2, 2 * (1 - spreads) ** 2, rtol=1e-9)   # bounded by tr Σ_0 = 2
    l2, peak = history.l2_to_generation0()[:, 0], history.density_square_integral()[:, 0]
    np.testing.assert_allclose(peak, 1 / (4 * np.pi * spreads ** 2), rtol=1e-9)
    assert l2[-1] / peak[-1] == pytest.approx(1, abs=1e-3)   # L2² is peakedness once collapsed


def test_single_run_interval_holds_a_new_run_at_its_level():
    """95% prediction interval from 8 normal draws: a ninth draw falls inside in 95% of 4,000
    replications (binomial SE 0.35%; tolerance 4 SE)."""
    rng = np.random.default_rng(5)
    draws = rng.normal(size=(4000, 9))
    inside = [low <= row[-1] <= high for row in draws
              for low, high in [metrics.single_run_interval(row[:-1], 0.95)]]
    assert abs(np.mean(inside) - 0.95) <= 4 * np.sqrt(0.95 * 0.05 / 4000)
    assert np.isnan(metrics.single_run_interval([1.0])[0])


# --------------------------------------------------------------------------- claims
class FreshReal(policies.Policy):
    """No recursion: every generation is fitted to N new points of the true distribution."""

    name = "fresh_real"

    def __init__(self, setup):
        super().__init__()
        self.setup = setup

    def next_data(self, family, model, pool, real, previous, generation, rng):
        return self.setup.real_data(real.shape[1], real.shape[0], rng), pool


def _history(setup_name: str, recursive: bool, n_seeds: int, n_generations: int,
             n_points: int = 100, seed: int = 1) -> metrics.MixtureHistory:
    """A small chain of the chapter's loop (with tails) of ``setup_name``: `replace` when
    ``recursive``, else refitted to fresh real data every generation (no collapse)."""
    setup = family.setup_named(setup_name)
    rng = np.random.default_rng(seed)
    policy = policy_from_name("replace") if recursive else FreshReal(setup)
    run = run_generations(family.BatchedGMMFamily(), setup.real_data(n_points, n_seeds, rng),
                          policy, n_generations, rng, dict(metrics.PARAMETER_METRICS))
    history = metrics.MixtureHistory.from_history(run, setup_name, policy.label(), n_points, 2)
    experiments.measure_tails(history, setup, rng, tail_samples=2000, tail_evaluations=12)
    return history


def _declared() -> records.ChapterRecord:
    settings = {"profile": "test", "n_points": 1000, "n_generations": 2050}
    record = records.ChapterRecord("gmm", settings)
    claims.declare_claims(record, settings)
    return record


GMM_PAPER_CLAIMS = {"spread-collapses": claims.spread_summary,
                    "drift-by-50": claims.drift_summary,
                    "l2-final-order": claims.l2_summary,
                    "tails-first": claims.tails_summary,
                    "two-gaussians-collapse": claims.spread_summary}


@pytest.mark.negative_control("gmm", *GMM_PAPER_CLAIMS)
def test_paper_claims_fail_without_recursion_and_hold_with_it():
    """The paper claims' own criteria on small chains (N = 100, so that collapse comes within
    200 generations): refitted to fresh real data every generation (no recursion, so no
    collapse, no drift beyond one refit's noise, no lost tails), each is "not reproduced"; on
    `replace` chains of the same setups, none is."""
    record = _declared()
    for setup, ids in (("one_blob", ["spread-collapses", "drift-by-50", "l2-final-order",
                                     "tails-first"]),
                       ("two_gaussians", ["two-gaussians-collapse"])):
        null, effect = _history(setup, False, 4, 60), _history(setup, True, 6, 200)
        for claim_id in ids:
            claim, measure = record.claims[claim_id], GMM_PAPER_CLAIMS[claim_id]
            assert claim.kind == "paper" and claim.where
            assert claim.verdict_for(measure(null)) == "not reproduced", (setup, claim_id)
            assert claim.verdict_for(measure(effect)) != "not reproduced", (setup, claim_id)


def _synthetic_history(spreads, centres=((0.0, 0.0), (0.0, 0.0)), setup="one_blob",
                       policy="replace", n_points=1000, tails=None, n_seeds=3, seed=0):
    """A two-component run whose components sit at ``centres`` with isotropic spread
    ``spreads[n]`` at generation n (times a small jitter per generation and seed)."""
    rng = np.random.default_rng(seed)
    n = len(spreads)
    spreads = np.asarray(spreads, float)[:, None] * (1 + 1e-3 * rng.standard_normal((n, n_seeds)))
    covariances = spreads[:, :, None, None, None] ** 2 * np.eye(2)
    covariances = np.broadcast_to(covariances, (n, n_seeds, 2, 2, 2)).copy()
    means = np.broadcast_to(np.asarray(centres, float), (n, n_seeds, 2, 2)).copy()
    history = metrics.MixtureHistory(setup, policy, n_points, 2,
                                         np.full((n, n_seeds, 2), 0.5), means, covariances,
                                         np.ones((n, n_seeds), int), np.full(n, n_points))
    generations = experiments.evaluation_generations(n - 1, 12)
    outside, covered = tails if tails is not None else (lambda g: 0.01 + 0 * g,
                                                        lambda g: 0.95 + 0 * g)
    history.tail_generations = generations
    history.tails = {kind: {level: np.repeat(curve(generations)[:, None], n_seeds, 1)
                            for level in (0.95, 0.99)}
                     for kind, curve in (("outside", outside), ("covered", covered))}
    return history


def _synthetic_runs(collapse: bool, policies_help: bool) -> experiments.GMMRuns:
    """Runs shaped like the chapter's: with ``collapse``, `replace` shrinks the spread
    geometrically (faster for smaller N, to 0.01 by generation 2000 at N = 1,000) and the
    tail mass halves long before the bulk coverage; with ``policies_help``, `mix_real(0.1)`
    and `accumulate` keep the generation-0 spread, otherwise they follow `replace`."""
    def shrinking(n_points, n_generations):
        rate = np.log(100) * 1000 / n_points / 2000 if collapse else 0.0
        return np.exp(-rate * np.arange(n_generations + 1))

    tails = (lambda g: 0.01 * np.exp(-g / 20), lambda g: 0.95 * np.exp(-g / 700)) \
        if collapse else None
    histories = {}
    for n_points, n_generations in ((500, 2050), (1000, 2050), (10000, 150)):
        histories[("one_blob", "replace", n_points, 2)] = _synthetic_history(
            shrinking(n_points, n_generations), n_points=n_points, tails=tails)
    histories[("two_gaussians", "replace", 1000, 2)] = _synthetic_history(
        shrinking(1000, 2050), centres=((-4.0, 0.0), (4.0, 0.0)), setup="two_gaussians",
        tails=tails)
    for policy, n_generations in (("mix_real(0.1)", 2050), ("accumulate", 40)):
        spreads = np.ones(n_generations + 1) if policies_help \
            else shrinking(1000, n_generations)
        histories[("one_blob", policy, 1000, 2)] = _synthetic_history(
            spreads, policy=policy, seed=1 if policies_help else 0)
    return experiments.GMMRuns(1000, histories, validation={})


def _verdicts(runs):
    settings = {"profile": "test", "n_points": 1000, "n_generations": 2050}
    record = records.ChapterRecord("gmm", settings)
    claims.declare_claims(record, settings)
    claims.evaluate_claims(record, runs)
    assert all(c.verdict in records.VERDICTS and c.measured for c in record.claims.values())
    return {c.id: c.verdict for c in record.claims.values()}


def test_checks_are_reproduced_on_a_synthetic_run_with_every_effect():
    verdicts = _verdicts(_synthetic_runs(collapse=True, policies_help=True))
    assert {verdicts[check] for check in ("sample-size", "real-data-stops",
                                          "accumulate-bounded")} == {"reproduced"}
    assert verdicts["spread-collapses"] != "not reproduced"
    assert verdicts["tails-first"] == "reproduced"


def test_checks_fail_on_a_synthetic_run_without_collapse():
    verdicts = _verdicts(_synthetic_runs(collapse=False, policies_help=True))
    for claim in ("spread-collapses", "l2-final-order", "tails-first", "two-gaussians-collapse",
                  "sample-size", "drift-by-50"):
        assert verdicts[claim] == "not reproduced", claim


def test_policy_checks_fail_when_the_policies_do_not_help():
    verdicts = _verdicts(_synthetic_runs(collapse=True, policies_help=False))
    assert verdicts["spread-collapses"] != "not reproduced"
    assert verdicts["real-data-stops"] == "not reproduced"
    assert verdicts["accumulate-bounded"] == "not reproduced"


def test_tails_first_needs_the_tail_to_halve_before_the_bulk():
    assert claims.tails_went_first(10, 500) and claims.tails_went_first(10, None)
    assert not claims.tails_went_first(None, 500) and not claims.tails_went_first(500, 10)
    assert not claims.tails_went_first(None, None) and not claims.tails_went_first(7, 7)


def test_every_claim_is_classified():
    record = _declared()
    kinds = {claim.id: claim.kind for claim in record.claims.values()}
    assert {i for i, kind in kinds.items() if kind == "paper"} == set(GMM_PAPER_CLAIMS)
    assert all(claim.where for claim in record.claims.values())
