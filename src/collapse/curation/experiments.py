"""Everything the curation chapter simulates, from its profile settings, every chain through the
shared loop (:func:`collapse.core.loop.run_generations`) with curation as a data policy
(:class:`collapse.core.policies.Curated`):

* verification (:func:`verification_runs`): the noisy generative classifier of
  :mod:`.family` under `replace`, and curated by a linear verifier at several angles or by a
  verifier whose mistakes do not depend on x; one round over a grid of angles
  (:func:`verification_sweep`);
* best-of-K (:func:`best_of_k_runs`): a ring of Gaussians refitted by the Gaussian-mixture
  family of :mod:`collapse.gmm` (its batched EM), curated one-of-K under a reward, with a
  fraction λ of real data; all (K, λ) side by side in one batch (:class:`collapse.gmm.family.
  SeedGroups`), and the exact population recursion on a grid (:func:`best_of_k_theory`);
* self-correction (:func:`correction_runs`): the 1-D Gaussian of :mod:`collapse.gaussian`,
  started off the truth, its samples corrected toward the truth with strength γ.

:func:`run` runs them all (:class:`CurationRuns`); :func:`record_metrics` writes the headline
numbers.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

import numpy as np
from scipy import special

from ..core.experiment import Progress, Timings
from ..core.loop import History, KeepAt, run_generations
from ..core.policies import BestOfK, Corrected, Curated, KeepIf, MixReal, Policy, Replace
from ..core.seeds import rng_for
from ..gaussian.family import PARAMETER_METRICS as GAUSSIAN_METRICS
from ..gaussian.family import NaiveGaussian
from ..gmm import batched_em
from ..gmm.family import BatchedGMMFamily, GMMFit, SeedGroups
from . import theory
from .curators import (BandReward, IndependentVerifier, KeepAll, LinearVerifier,
                       MixtureCorrection, ProjectionCorrection)
from .family import NoisyGaussianClassifier, Ring, labelled_real_data, truth_mean

__all__ = ["VerificationRuns", "verifier_policy", "verification_chain", "verification_runs",
           "verification_sweep",
           "BestOfKRuns", "best_of_k_runs", "best_of_k_theory", "RingMeasures",
           "CorrectionRuns", "correction_runs", "CurationRuns", "run", "record_metrics"]

CORRECTORS = {"projection": ProjectionCorrection, "mixture": MixtureCorrection}


# =============================================================================== verification
def verifier_policy(kind: str, angle: float | None, dims: int, mean_norm: float,
                    sample_size: int) -> Policy:
    """The data policy of one verification chain: ``kind`` "unfiltered" (`replace`), "linear"
    (a linear verifier at ``angle`` degrees), "independent" (the linear verifier's keep rates
    on the truth, ψ = Φ(‖μ‖ cos θ) and φ = 1 − ψ, applied independently of x) or "keep_all"."""
    if kind == "unfiltered":
        return Replace(sample_size)
    if kind == "linear":
        selector = KeepIf(LinearVerifier(dims, angle), f"a linear verifier at {angle:g}°")
    elif kind == "independent":
        keep = float(special.ndtr(mean_norm * math.cos(math.radians(angle))))
        selector = KeepIf(IndependentVerifier(keep, 1 - keep),
                          f"an x-blind verifier (ψ = {keep:.3f}, φ = {1 - keep:.3f})")
    elif kind == "keep_all":
        selector = KeepIf(KeepAll(), "everything")
    else:
        raise ValueError(f"verifier kind must be one of unfiltered, linear, independent, "
                         f"keep_all; got {kind!r}")
    return Curated(selector, Replace(sample_size))


@dataclasses.dataclass
class VerificationRuns:
    """``loops``: label -> accuracy on the truth of generations 0 … N, (N + 1, S), for the
    chains of ``loop_specs`` [(label, kind, angle)]; ``sweep``: kind -> accuracy after one
    round, (len(sweep_angles), S'), and ``generator``: generation 0's accuracy there (S',)."""

    truth: np.ndarray
    label_noise: float
    sample_size: int
    loop_specs: list[tuple[str, str, float | None]]
    loops: dict[str, np.ndarray]
    sweep_angles: np.ndarray
    sweep: dict[str, np.ndarray]
    generator: np.ndarray

    @property
    def mean_norm(self) -> float:
        return float(np.linalg.norm(self.truth))

    @property
    def optimal(self) -> float:
        """The Bayes accuracy Φ(‖μ‖)."""
        return float(special.ndtr(self.mean_norm))


def _accuracy_metric(truth: np.ndarray):
    def accuracy(model, data, generation):
        return theory.accuracy(model.mean, truth)
    return accuracy


def verification_chain(settings: Mapping[str, Any], policy: Policy, n_seeds: int,
                       n_generations: int, sample_size: int, *labels) -> np.ndarray:
    """Accuracy on the truth, (N + 1, S), of ``n_seeds`` chains of the noisy generative
    classifier under ``policy``, from ``sample_size`` real points (the same real data for
    every run of that size); ``labels`` name the chain's random stream."""
    truth = truth_mean(settings["dims"], settings["mean_norm"])
    real = labelled_real_data(truth, n_seeds, sample_size,
                              rng_for(settings["seed"], "verification", "real", sample_size))
    history = run_generations(NoisyGaussianClassifier(settings["label_noise"]), real, policy,
                              n_generations, rng_for(settings["seed"], "verification", *labels),
                              {"accuracy": _accuracy_metric(truth)})
    return history["accuracy"]


def verification_runs(settings: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The verification loops of ``settings["verification_loops"]``: label -> (N + 1, S)."""
    loops = {}
    for kind, angle in settings["verification_loops"]:
        policy = verifier_policy(kind, angle, settings["dims"], settings["mean_norm"],
                                 settings["sample_size"])
        loops[_loop_label(kind, angle)] = verification_chain(
            settings, policy, settings["n_seeds"], settings["n_generations"],
            settings["sample_size"], "loop", kind, angle)
    return loops


def _loop_label(kind: str, angle: float | None) -> str:
    if kind == "unfiltered":
        return "unfiltered (replace)"
    if kind == "keep_all":
        return "keep everything"
    return f"{'linear' if kind == 'linear' else 'x-blind'} verifier, θ = {angle:g}°"


def verification_sweep(settings: Mapping[str, Any], kinds: Sequence[str] = ("linear",
                                                                            "independent")
                       ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One round of selection (generation 1) at every angle of ``settings["sweep_angles"]``,
    for each verifier kind: kind -> (n_angles, S'), and generation 0's accuracy (S')."""
    size, seeds = settings["sweep_sample_size"], settings["sweep_seeds"]
    sweep, generator = {}, None
    for kind in kinds:
        rows = []
        for angle in settings["sweep_angles"]:
            policy = verifier_policy(kind, angle, settings["dims"], settings["mean_norm"], size)
            accuracy = verification_chain(settings, policy, seeds, 1, size, "sweep", kind, angle)
            rows.append(accuracy[1])
            generator = accuracy[0]
        sweep[kind] = np.stack(rows)
    return sweep, generator


# =============================================================================== best-of-K
@dataclasses.dataclass(frozen=True)
class RingMeasures:
    """What the chapter measures of a 2-D distribution on the ring: the expected reward, the
    mass within ``band`` of the reward's maximisers (|x₁ − a| < band) and the mass in each
    ring mode's cell (nearest centre), computed on a grid."""

    ring: Ring
    reward: BandReward
    band: float
    grid: theory.Grid

    def on_grid(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """The measures of distributions given as grid weights (..., G) summing to 1."""
        points = self.grid.points
        near = np.abs(points[:, 0] - self.reward.level) < self.band
        modes = self.ring.nearest_mode(points)
        return {"expected_reward": weights @ self.reward(points),
                "mass_near_maximisers": weights @ near,
                "mode_masses": np.stack([weights @ (modes == k)
                                         for k in range(self.ring.n_modes)], axis=-1)}

    def of_mixtures(self, model: GMMFit) -> dict[str, np.ndarray]:
        """The measures of fitted mixtures, one per seed: expected reward and band mass in
        closed form (x₁ is a mixture of 1-D normals), mode masses on the grid."""
        mixture = model.mixture
        first, variance = mixture.means[..., 0], mixture.covariances[..., 0, 0]
        level, width = self.reward.level, self.reward.width
        reward = -(mixture.weights * ((first - level) ** 2 + variance)).sum(-1) / (2 * width ** 2)
        sd = np.sqrt(variance)
        band = (mixture.weights * (special.ndtr((level + self.band - first) / sd)
                                   - special.ndtr((level - self.band - first) / sd))).sum(-1)
        points = np.broadcast_to(self.grid.points, (mixture.n_seeds,) + self.grid.points.shape)
        weights = np.exp(batched_em.log_density(points, mixture)) * self.grid.area
        modes = self.on_grid(weights / weights.sum(-1, keepdims=True))["mode_masses"]
        return {"expected_reward": reward, "mass_near_maximisers": band, "mode_masses": modes}


@dataclasses.dataclass
class BestOfKRuns:
    """``histories``: (K, λ) -> measure name -> (N + 1, S) ((N + 1, S, modes) for the mode
    masses); ``theory``: (K, λ) -> measure name -> (N + 1,) from the exact recursion;
    ``tilt``: the K → ∞ measures at every generation; ``snapshots``: (K, λ) -> generation ->
    the first seed's training points; ``measures``: what is measured."""

    configurations: list[tuple[int, float]]
    histories: dict[tuple[int, float], dict[str, np.ndarray]]
    theory: dict[tuple[int, float], dict[str, np.ndarray]]
    tilt: dict[str, np.ndarray]
    snapshots: dict[tuple[int, float], dict[int, np.ndarray]]
    measures: RingMeasures
    n_generations: int


def _measures(settings: Mapping[str, Any], grid_size: int) -> RingMeasures:
    ring = Ring(settings["ring_modes"], settings["ring_radius"], settings["ring_sd"])
    reward = BandReward(settings["reward_level"], settings["reward_width"])
    return RingMeasures(ring, reward, settings["maximiser_band"],
                        theory.Grid(settings["grid_limit"], grid_size))


def _best_of_k_policy(k: int, real_fraction: float, reward: BandReward, size: int) -> Policy:
    base = MixReal(real_fraction, size) if real_fraction > 0 else Replace(size)
    return Curated(BestOfK(reward, k, description="r(x) = −(x₁ − a)²/2ℓ²"), base)


def best_of_k_runs(settings: Mapping[str, Any]) -> BestOfKRuns:
    """Every (K, λ) of the settings, ``ring_seeds`` chains each, in one batch."""
    measures = _measures(settings, settings["simulation_grid"])
    configurations = [(int(k), float(fraction)) for fraction in settings["real_fractions"]
                      for k in settings["choices"]]
    seeds, size = settings["ring_seeds"], settings["ring_sample_size"]
    policy = SeedGroups([(seeds, _best_of_k_policy(k, fraction, measures.reward, size))
                         for k, fraction in configurations])
    real = measures.ring.sample(seeds * len(configurations), size,
                                rng_for(settings["seed"], "best_of_k", "real"))
    family = BatchedGMMFamily(settings["ring_modes"], tol=settings["em_tol"],
                              max_iter=settings["em_max_iter"])
    def measured(model, data, generation):   # one (S, 2 + modes) array per generation
        values = measures.of_mixtures(model)
        return np.concatenate([values["expected_reward"][:, None],
                               values["mass_near_maximisers"][:, None],
                               values["mode_masses"]], axis=1)

    def first_seeds(model, data):
        return np.asarray(data)[[index * seeds for index in range(len(configurations))]].copy()

    history = run_generations(family, real, policy, settings["ring_generations"],
                              rng_for(settings["seed"], "best_of_k", "loop"),
                              {"measures": measured},
                              folds={"snapshots": KeepAt(settings["snapshot_generations"],
                                                         first_seeds)})
    histories, snapshots = {}, {}
    for index, configuration in enumerate(configurations):
        part = slice(index * seeds, (index + 1) * seeds)
        values = history["measures"][:, part]
        histories[configuration] = {"expected_reward": values[..., 0],
                                    "mass_near_maximisers": values[..., 1],
                                    "mode_masses": values[..., 2:]}
        snapshots[configuration] = {generation: points[index] for generation, points
                                    in history.folds["snapshots"].items()}
    theory_paths, tilt = best_of_k_theory(settings, configurations)
    return BestOfKRuns(configurations, histories, theory_paths, tilt, snapshots, measures,
                       settings["ring_generations"])


def best_of_k_theory(settings: Mapping[str, Any], configurations: Sequence[tuple[int, float]]
                     ) -> tuple[dict, dict[str, np.ndarray]]:
    """The exact population recursion's measures for every (K, λ), and the K → ∞ tilt's."""
    measures = _measures(settings, settings["theory_grid"])
    points = measures.grid.points
    initial = measures.ring.density(points)
    rewards = measures.reward(points)
    n_generations = settings["ring_generations"]
    paths = {configuration: measures.on_grid(theory.curated_recursion(
        initial, rewards, configuration[0], configuration[1], n_generations))
        for configuration in configurations}
    tilt = measures.on_grid(theory.exponential_tilt(initial, rewards,
                                                    np.arange(n_generations + 1)))
    return paths, tilt


# =============================================================================== correction
@dataclasses.dataclass
class CorrectionRuns:
    """(corrector, γ) -> History with the fitted ``mean`` and ``std``, (N + 1, S), of the
    Gaussian started at N(δ, 1) (``offset`` δ) and corrected toward N(0, 1)."""

    offset: float
    sample_size: int
    gammas: list[float]
    histories: dict[tuple[str, float], History]


def correction_runs(settings: Mapping[str, Any]) -> CorrectionRuns:
    """Every corrector of ``settings["correctors"]`` at every strength γ."""
    size, offset, seeds = (settings["correction_sample_size"], settings["correction_offset"],
                           settings["correction_seeds"])
    real = offset + rng_for(settings["seed"], "correction", "real").standard_normal(
        (seeds, size))
    histories = {}
    for name in settings["correctors"]:
        for gamma in settings["gammas"]:
            corrector = CORRECTORS[name](gamma)
            policy = Curated(Corrected(corrector, f"{name}, γ = {gamma:g}"), Replace(size))
            histories[name, float(gamma)] = run_generations(
                NaiveGaussian("unbiased"), real, policy, settings["correction_generations"],
                rng_for(settings["seed"], "correction", name, gamma), dict(GAUSSIAN_METRICS))
    return CorrectionRuns(offset, size, [float(g) for g in settings["gammas"]], histories)


# =============================================================================== the chapter
@dataclasses.dataclass
class CurationRuns:
    """Everything the chapter simulates (:func:`run`)."""

    verification: VerificationRuns
    best_of_k: BestOfKRuns
    correction: CorrectionRuns
    timings: Timings


def run(settings: Mapping[str, Any], progress: Progress | None = None) -> CurationRuns:
    """Every experiment of the chapter under ``settings`` (its profile settings)."""
    timings = Timings()

    def report(section: str, text: str) -> None:
        if progress:
            progress(f"{section:<13s} {text} in {timings[section]:.1f} s")

    with timings("verification"):
        loops = verification_runs(settings)
        sweep, generator = verification_sweep(settings)
    report("verification", f"{len(loops)} loops × {settings['n_seeds']} seeds × "
                           f"{settings['n_generations']} generations; one round at "
                           f"{len(settings['sweep_angles'])} angles × {settings['sweep_seeds']} "
                           "seeds")
    verification = VerificationRuns(
        truth_mean(settings["dims"], settings["mean_norm"]), settings["label_noise"],
        settings["sample_size"],
        [(_loop_label(kind, angle), kind, angle) for kind, angle
         in settings["verification_loops"]], loops,
        np.asarray(settings["sweep_angles"], float), sweep, generator)
    with timings("best-of-K"):
        best_of_k = best_of_k_runs(settings)
    report("best-of-K", f"{len(best_of_k.configurations)} (K, λ) × {settings['ring_seeds']} "
                        f"seeds × {settings['ring_generations']} generations")
    with timings("correction"):
        correction = correction_runs(settings)
    report("correction", f"{len(correction.histories)} (corrector, γ) × "
                         f"{settings['correction_seeds']} seeds × "
                         f"{settings['correction_generations']} generations")
    return CurationRuns(verification, best_of_k, correction, timings)


def record_metrics(record, runs: CurationRuns) -> None:
    """The chapter's headline numbers for ``_build/results/curation.json``."""
    verification = runs.verification
    record.metric("verification_median_accuracy_last",
                  {label: float(np.median(values[-1])) for label, values
                   in verification.loops.items()})
    record.metric("verification_optimal_accuracy", verification.optimal)
    record.metric("proxy_transition_angle", theory.proxy_transition_angle(
        verification.mean_norm, verification.label_noise))
    record.metric("linear_transition_angle", theory.linear_transition_angle(
        verification.mean_norm, verification.label_noise))
    best = runs.best_of_k
    record.metric("best_of_k_last", {
        f"K={k}, λ={fraction:g}": {
            "expected_reward": float(np.mean(values["expected_reward"][-1])),
            "mass_near_maximisers": float(np.median(values["mass_near_maximisers"][-1])),
            "modes_retained": float(np.median((values["mode_masses"][-1] > 0.01).sum(-1)))}
        for (k, fraction), values in best.histories.items()})
    correction = runs.correction
    record.metric("correction_median_w2_last", {
        f"{name}, γ={gamma:g}": float(np.median(np.hypot(history["mean"][-1],
                                                          history["std"][-1] - 1)))
        for (name, gamma), history in correction.histories.items()})
    record.metric("timings_seconds", dict(runs.timings))
