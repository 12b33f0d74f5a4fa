"""The curation chapter: the curated data policy of the shared loop (selectors), the chapter's
family and exact theory, and every claim's criterion on a run without the effect.

The chapter's rows are all *checks* (statements of Feng et al., Ferbach et al. and Gillman
et al., or derived here), so the registry's ``negative_control`` mark (for paper claims) does
not apply; each claim still has a ``test_negative_control_*`` below that applies the declared
criterion (``record.claims[id].verdict_for``) to a measurement of a small run without the
claimed effect and expects "not reproduced" (and, where cheap, "reproduced" with the effect).
Fixed seeds; tolerances from theory.
"""
from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from scipy import special, stats

from collapse.core.family import ArrayData
from collapse.core.loop import run_generations
from collapse.core.policies import (Accumulate, BestOfK, Corrected, Curated, KeepIf, MixReal,
                                    Replace)
from collapse.curation import claims, experiments, theory
from collapse.curation.curators import (BandReward, LinearVerifier, MixtureCorrection,
                                        ProjectionCorrection)
from collapse.curation.family import (LabelledPoints, NoisyGaussianClassifier, Ring,
                                      labelled_real_data, truth_mean)
from collapse.gaussian.family import NaiveGaussian, GaussianFit
from collapse.publish import profiles, records


# ============================================================================ the selectors
class Tagged:
    """1-D data without a seed axis; generation g's model generates 1000(g + 1) + i, i
    counting on from call to call (so successive draws are distinct and ordered)."""

    data_type = ArrayData(axis=0)

    def __init__(self):
        self.drawn = 0

    def fit(self, data, rng):
        self.drawn = 0
        return int(np.max(data) // 1000)

    def generate(self, model, n, rng, context=None):
        values = 1000.0 * (model + 1) + self.drawn + np.arange(n, dtype=float)
        self.drawn += n
        return values


def even(data, rng=None):
    return np.asarray(data) % 2 == 0


def positive(data, rng=None):
    return np.asarray(data) > 0


def identity(data):
    return np.asarray(data, float)


def test_keep_if_keeps_n_accepted_points_in_the_order_drawn():
    family, real = Tagged(), np.arange(6, dtype=float)
    history = run_generations(family, real, Curated(KeepIf(even), Replace(6)), 2,
                              np.random.default_rng(0),
                              {"data": lambda model, data, generation: np.array(data)})
    np.testing.assert_array_equal(history["data"][1], 1000 + np.array([0, 2, 4, 6, 8, 10]))
    np.testing.assert_array_equal(history["data"][2], 2000 + np.array([0, 2, 4, 6, 8, 10]))


def test_kept_points_follow_the_model_conditioned_on_acceptance():
    """Gaussian points kept when positive: the half-normal mean √(2/π) σ, to 5 SE."""
    rng = np.random.default_rng(1)
    family = NaiveGaussian("biased")
    model = GaussianFit(np.zeros(40), np.ones(40))
    policy = Curated(KeepIf(positive), Replace(500))
    data, _ = policy.next_data(family, model, None, np.zeros((40, 500)), None, 1, rng)
    assert data.shape == (40, 500) and np.all(data > 0)
    se = math.sqrt(1 - 2 / math.pi) / math.sqrt(data.size)
    assert abs(data.mean() - math.sqrt(2 / math.pi)) < 5 * se


def test_keep_if_that_accepts_nothing_stops_with_a_clear_error():
    family = NaiveGaussian("biased")
    model = GaussianFit(np.zeros(2), np.ones(2))
    policy = Curated(KeepIf(lambda data, rng: np.zeros(np.shape(data), bool), "nothing",
                            max_draws=5), Replace(10))
    with pytest.raises(ValueError, match="kept 0 of .* acceptance rate"):
        policy.next_data(family, model, None, np.zeros((2, 10)), None, 1,
                         np.random.default_rng(0))


def test_best_of_k_max_keeps_the_best_of_each_group():
    draws = []

    def draw(k):
        draws.append(k)
        return np.random.default_rng(2).permutation(np.arange(k, dtype=float))

    chosen = BestOfK(identity, 4, "max").curate(draw, 5, ArrayData(axis=0),
                                                np.random.default_rng(0))
    candidates = draw(20)
    assert draws[0] == 20
    np.testing.assert_array_equal(chosen, candidates.reshape(5, 4).max(axis=1))


def test_best_of_k_bradley_terry_picks_with_probability_e_r_over_sum():
    """Two candidates with rewards 0 and log 3: the second is kept with probability ¾."""
    n = 20000

    def draw(k):
        return np.tile([0.0, math.log(3)], k // 2)

    chosen = BestOfK(identity, 2).curate(draw, n, ArrayData(axis=0), np.random.default_rng(3))
    assert stats.binomtest(int((chosen > 0).sum()), n, 0.75).pvalue > 1e-3


def test_corrected_and_curated_mix_real_keeps_the_real_fraction():
    family, real = Tagged(), np.arange(100, dtype=float)
    policy = Curated(Corrected(lambda data, rng: -data, "negate"), MixReal(0.3, 10))
    data, _ = policy.next_data(family, 0, real, real, real, 1, np.random.default_rng(4))
    assert (data >= 0).sum() == 3 and np.all(data[data < 0] <= -1000)
    pooled, pool = Curated(KeepIf(even), Accumulate(4)).next_data(
        family, 0, real, real, real, 1, np.random.default_rng(0))
    assert len(pooled) == 104 and np.all(pooled[100:] % 2 == 0)


def test_curated_labels_and_pickles_and_checks_its_arguments():
    policy = Curated(BestOfK(BandReward(4.0, 1.0), 5), MixReal(0.2, 100))
    assert policy.label().startswith("curated(best of 5") and policy.needs_points
    assert pickle.loads(pickle.dumps(policy)).selector.k == 5
    with pytest.raises(ValueError, match="selector must be"):
        Curated("best of 5")
    with pytest.raises(ValueError, match="base must be"):
        Curated(KeepIf(even), "replace")
    with pytest.raises(ValueError, match="choice must be one of bradley_terry, max"):
        BestOfK(identity, 2, "soft")
    with pytest.raises(ValueError, match="k .* must be an integer >= 1"):
        BestOfK(identity, 0)
    with pytest.raises(ValueError, match="correct must be a callable"):
        Corrected(None)


# ============================================================================ family, theory
def test_noisy_generator_flips_labels_with_probability_p_and_fit_recovers_the_mean():
    rng = np.random.default_rng(5)
    truth = truth_mean(4, 1.5)
    family = NoisyGaussianClassifier(0.2)
    model = family.fit(labelled_real_data(truth, 3, 20000, rng))
    assert np.abs(model.mean - truth).max() < 5 / math.sqrt(20000)
    data = family.generate(model, 20000, rng)
    flipped = (LabelledPoints.labels(data) != LabelledPoints.classes(data)).mean()
    assert abs(flipped - 0.2) < 5 * math.sqrt(0.16 / 60000)


@pytest.mark.parametrize("kind, angle", [("linear", 40.0), ("linear", 115.0),
                                         ("independent", 115.0)])
def test_population_map_matches_a_large_sample(kind, angle):
    """One round with M = 200,000 kept points: the refitted mean within 5/√M of theory."""
    truth, size = truth_mean(3, 1.5), 200_000
    policy = experiments.verifier_policy(kind, angle, 3, 1.5, size)
    rng = np.random.default_rng(6)
    family = NoisyGaussianClassifier(0.2)
    model = family.fit(labelled_real_data(truth, 1, 10, rng))
    model = type(model)(truth[None].copy())
    data, _ = policy.next_data(family, model, None, None, None, 1, rng)
    if kind == "linear":
        direction = LinearVerifier(3, angle).direction
        exact = theory.linear_step(truth, direction, 0.2)
    else:
        keep = special.ndtr(1.5 * math.cos(math.radians(angle)))
        exact = theory.independent_step(truth, 0.2, keep, 1 - keep)
    assert np.abs(family.fit(data).mean[0] - exact).max() < 5 * math.sqrt(3.3 / size)


def test_transition_angles():
    assert theory.proxy_transition_angle(1.5, 0.2) == pytest.approx(
        math.degrees(math.acos(special.ndtri(0.2) / 1.5)))
    assert theory.proxy_transition_angle(1.5, 0.0) is None
    linear = theory.linear_transition_angle(1.5, 0.2)
    step = theory.linear_step(np.array([1.5, 0.0]), LinearVerifier(2, linear).direction, 0.2)
    assert abs(step[0]) < 1e-9


def test_bradley_terry_tilt_is_exact_for_k2_and_tends_to_the_exponential_tilt():
    rng = np.random.default_rng(7)
    weights = rng.random(40)
    weights /= weights.sum()
    rewards = -np.repeat(rng.random(20) * 30, 2)          # ties, and e^{-30}-small values
    utility = np.exp(rewards)
    pairwise = (weights * 2 * utility[:, None] / (utility[:, None] + utility)).sum(axis=1)
    tilt = theory.bradley_terry_tilt(weights, rewards, 2)
    np.testing.assert_allclose(tilt, pairwise, rtol=1e-6)
    assert (weights * theory.bradley_terry_tilt(weights, rewards, 7)).sum() == \
        pytest.approx(1, abs=1e-8)
    limit = utility / (weights @ utility)
    np.testing.assert_allclose(theory.bradley_terry_tilt(weights, rewards, 100_000), limit,
                               rtol=2e-3)


def test_ring_density_integrates_to_one_and_samples_every_mode_equally():
    ring, grid = Ring(), theory.Grid(6.5, 260)
    assert ring.density(grid.points).sum() * grid.area == pytest.approx(1, abs=1e-4)
    modes = ring.nearest_mode(ring.sample(1, 80_000, np.random.default_rng(8))[0])
    assert stats.chisquare(np.bincount(modes, minlength=8)).pvalue > 1e-3


def test_corrections_move_points_the_right_fraction_toward_the_truth():
    rng = np.random.default_rng(9)
    points = 3 + rng.standard_normal((2, 1000))
    np.testing.assert_allclose(ProjectionCorrection(0.0)(points, rng), np.sort(points, -1))
    moved = ProjectionCorrection(1.0)(points, rng)                 # t = ½
    assert abs(moved.mean() - 1.5) < 0.1
    assert MixtureCorrection(0.0)(points, rng) is not None
    replaced = MixtureCorrection(3.0)(points, rng)                  # t = ¾
    assert abs((np.abs(replaced - 3) > 6).mean()) < 0.01 and abs(replaced.mean() - 0.75) < 0.1
    with pytest.raises(ValueError, match="gamma must be a finite number >= 0"):
        ProjectionCorrection(-1.0)


# ============================================================================ negative controls
@pytest.fixture(scope="module")
def declared():
    settings = profiles.settings("curation", "smoke")
    record = records.ChapterRecord("curation", settings)
    claims.declare_claims(record, settings)
    return settings, record.claims


def verdict(declared, claim_id, measurement):
    return declared[1][claim_id].verdict_for(measurement.value)


def small_loop(settings, kind, angle, n_generations=12, size=200):
    policy = experiments.verifier_policy(kind, angle, settings["dims"], settings["mean_norm"],
                                         size)
    return experiments.verification_chain(settings, policy, 30, n_generations, size, "test",
                                          kind, angle)


def test_every_claim_is_a_sourced_check(declared):
    assert len(declared[1]) == 12
    assert all(claim.kind == "check" and claim.where for claim in declared[1].values())


def test_negative_control_verification_prevents_collapse(declared):
    settings = declared[0]
    unfiltered = small_loop(settings, "unfiltered", None)
    keep_all = small_loop(settings, "keep_all", None)
    verified = small_loop(settings, "linear", 0.0)
    assert verdict(declared, "verification-prevents-collapse", claims.measure_prevents_collapse(
        [keep_all], unfiltered)) == "not reproduced"
    assert verdict(declared, "verification-prevents-collapse", claims.measure_prevents_collapse(
        [verified], unfiltered)) == "reproduced"


@pytest.fixture(scope="module")
def sweeps(declared):
    settings = {**declared[0], "sweep_angles": [float(a) for a in range(0, 181, 15)],
                "sweep_sample_size": 1500, "sweep_seeds": 8}
    sweep, _ = experiments.verification_sweep(settings, ("linear", "independent", "keep_all"))
    return np.asarray(settings["sweep_angles"]), sweep


def test_negative_control_sharp_transition(declared, sweeps):
    angles, sweep = sweeps
    args = (theory.proxy_transition_angle(1.5, 0.2), float(special.ndtr(1.5)))
    assert verdict(declared, "sharp-transition", claims.measure_sharp_transition(
        angles, sweep["linear"], *args)) == "not reproduced"
    assert verdict(declared, "sharp-transition", claims.measure_sharp_transition(
        angles, sweep["independent"], *args)) == "reproduced"


def test_negative_control_proxy_tracks_accuracy(declared, sweeps):
    angles, sweep = sweeps
    assert verdict(declared, "proxy-tracks-accuracy", claims.measure_proxy(
        angles, sweep["keep_all"], 1.5, 0.2)) == "not reproduced"
    assert verdict(declared, "proxy-tracks-accuracy", claims.measure_proxy(
        angles, sweep["linear"], 1.5, 0.2)) == "reproduced"


def test_negative_control_linear_transition(declared, sweeps):
    angles, sweep = sweeps
    exact = theory.linear_transition_angle(1.5, 0.2)
    assert verdict(declared, "linear-transition", claims.measure_linear_transition(
        angles, sweep["independent"], exact)) == "not reproduced"
    assert verdict(declared, "linear-transition", claims.measure_linear_transition(
        angles, sweep["linear"], exact)) == "reproduced"


def test_negative_control_loop_follows_theory(declared):
    settings = declared[0]
    truth = truth_mean(settings["dims"], settings["mean_norm"])
    blind = small_loop(settings, "independent", 90.0, size=1000)
    linear = small_loop(settings, "linear", 90.0, size=1000)
    exact = theory.population_accuracy(truth, 0.2, 12, ("linear", 90.0))
    assert verdict(declared, "loop-follows-theory", claims.measure_follows_theory(
        [(blind, exact)], blind)) == "not reproduced"
    assert verdict(declared, "loop-follows-theory", claims.measure_follows_theory(
        [(linear, exact)], linear)) == "reproduced"


@pytest.fixture(scope="module")
def rings(declared):
    settings = {**declared[0], "choices": [1, 10], "real_fractions": [0.0, 0.2],
                "ring_seeds": 6, "ring_generations": 12, "ring_sample_size": 400,
                "theory_grid": 130}
    return experiments.best_of_k_runs(settings)


def test_negative_control_reward_increases(declared, rings):
    none, five = rings.histories[1, 0.0], rings.histories[10, 0.0]
    assert verdict(declared, "reward-increases", claims.measure_reward_increases(
        [none["expected_reward"]])) == "not reproduced"
    assert verdict(declared, "reward-increases", claims.measure_reward_increases(
        [five["expected_reward"]])) == "reproduced"


def test_negative_control_mass_on_maximisers(declared, rings):
    none, five = rings.histories[1, 0.0], rings.histories[10, 0.0]
    assert verdict(declared, "mass-on-maximisers", claims.measure_maximisers(
        none["mass_near_maximisers"], none["mode_masses"])) == "not reproduced"
    assert verdict(declared, "mass-on-maximisers", claims.measure_maximisers(
        five["mass_near_maximisers"], five["mode_masses"])) == "reproduced"


def test_negative_control_real_data_stabilises(declared, rings):
    alone, mixed = rings.histories[10, 0.0], rings.histories[10, 0.2]
    assert verdict(declared, "real-data-stabilises", claims.measure_stabilises(
        [(alone["mass_near_maximisers"], alone["mode_masses"])])) == "not reproduced"
    assert verdict(declared, "real-data-stabilises", claims.measure_stabilises(
        [(mixed["mass_near_maximisers"], mixed["mode_masses"])])) == "reproduced"


def test_negative_control_recursion_predicts_loop(declared, rings):
    wrong = [(rings.histories[1, 0.0], rings.theory[10, 0.0])]
    right = [(rings.histories[key], rings.theory[key]) for key in rings.configurations]
    assert verdict(declared, "recursion-predicts-loop",
                   claims.measure_recursion(wrong)) == "not reproduced"
    # a small run: the 6-seed Monte-Carlo mean of E[r] (|E₀[r]| ≈ 12) is too noisy for the
    # 5% tolerance of the book's 20 seeds; it must still not fail outright
    assert verdict(declared, "recursion-predicts-loop",
                   claims.measure_recursion(right)) != "not reproduced"


@pytest.fixture(scope="module")
def corrections(declared):
    settings = {**declared[0], "correction_seeds": 400, "correction_generations": 30}
    return experiments.correction_runs(settings)


def test_negative_control_exponential_stability(declared, corrections):
    runs, offset = corrections.histories, corrections.offset
    uncorrected = runs["projection", 0.0]["mean"]
    mislabelled = [(uncorrected, 0.3)]           # no correction, held to the γ = 0.3 law
    assert verdict(declared, "exponential-stability", claims.measure_exponential(
        mislabelled, offset, uncorrected)) == "not reproduced"
    corrected = [(history["mean"], gamma) for (_, gamma), history in runs.items() if gamma > 0]
    assert verdict(declared, "exponential-stability", claims.measure_exponential(
        corrected, offset, uncorrected)) == "reproduced"


def test_negative_control_correction_bounds_drift(declared, corrections):
    runs = corrections.histories
    uncorrected = runs["projection", 0.0]
    flat = [(gamma, uncorrected["mean"], uncorrected["std"]) for gamma in corrections.gammas]
    assert verdict(declared, "correction-bounds-drift",
                   claims.measure_drift(flat)) == "not reproduced"


def test_negative_control_mixture_moments(declared, corrections):
    runs = corrections.histories
    projection = [(gamma, runs["projection", gamma]["mean"], runs["projection", gamma]["std"])
                  for gamma in corrections.gammas if gamma > 0]
    mixture = [(gamma, runs["mixture", gamma]["mean"], runs["mixture", gamma]["std"])
               for gamma in corrections.gammas if gamma > 0]
    assert verdict(declared, "mixture-moments", claims.measure_mixture_moments(
        projection, corrections.offset, corrections.sample_size)) == "not reproduced"
    assert verdict(declared, "mixture-moments", claims.measure_mixture_moments(
        mixture, corrections.offset, corrections.sample_size)) == "reproduced"


@pytest.mark.slow
def test_the_smoke_profile_runs_and_every_claim_gets_a_verdict(declared):
    settings = declared[0]
    record = records.ChapterRecord("curation", settings)
    claims.declare_claims(record, settings)
    runs = experiments.run(settings)
    claims.evaluate_claims(record, runs)
    assert all(claim.verdict in records.VERDICTS for claim in record.claims.values())
