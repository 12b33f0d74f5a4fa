"""What curates: the verifiers, the reward and the corrections the chapter hands to the shared
loop's family-independent selectors (:class:`collapse.core.policies.KeepIf`, ``BestOfK``,
``Corrected``). Each is a small picklable class; all work on a batch of seeds at once.

* verification (:class:`~collapse.curation.family.LabelledPoints` data): :class:`LinearVerifier`
  (keeps a point when sign(v·x) agrees with its label; v at angle θ to the truth),
  :class:`IndependentVerifier` (keeps correct labels with probability ψ and wrong ones with
  probability φ, whatever x is: the setting of Feng et al.'s phase-transition theorem),
  :class:`KeepAll`;
* best-of-K: :class:`BandReward`, r(x) = −(x₁ − a)² / (2ℓ²), maximal on the line x₁ = a;
* self-correction (1-D Gaussian points, (S, M)): :class:`ProjectionCorrection` (each point
  moved a fraction γ/(1+γ) of the way to its optimal-transport partner among fresh samples of
  the truth: the corrector of Gillman et al.'s released Gaussian example) and
  :class:`MixtureCorrection` (each point replaced by a truth sample with probability γ/(1+γ):
  the idealised correction π_γ = (p + γ p*)/(1 + γ) of their theory).
"""
from __future__ import annotations

import math

import numpy as np

from ..core.checks import check_fraction
from .family import LabelledPoints

__all__ = ["verifier_direction", "LinearVerifier", "IndependentVerifier", "KeepAll",
           "BandReward", "correction_fraction", "ProjectionCorrection", "MixtureCorrection"]


# =============================================================================== verifiers
def verifier_direction(dims: int, angle_degrees: float) -> np.ndarray:
    """v = cos θ e₁ + sin θ e₂ (d,): a unit vector at angle θ to the truth μ ∝ e₁."""
    theta = math.radians(float(angle_degrees))
    direction = np.zeros(int(dims))
    direction[0], direction[1] = math.cos(theta), math.sin(theta)
    return direction


class LinearVerifier:
    """Keeps (x, label) when label · (v·x) > 0: a linear classifier at ``angle`` degrees to the
    truth agrees with the generator. Its own accuracy on the truth is Φ(‖μ‖ cos θ)."""

    def __init__(self, dims: int, angle: float):
        self.angle = float(angle)
        self.direction = verifier_direction(dims, angle)

    def __call__(self, data: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        return LabelledPoints.labels(data) * (LabelledPoints.features(data) @ self.direction) > 0


class IndependentVerifier:
    """Keeps a correctly labelled point with probability ``keep_correct`` (ψ) and a wrongly
    labelled one with probability ``keep_wrong`` (φ), independently of x."""

    def __init__(self, keep_correct: float, keep_wrong: float):
        self.keep_correct = check_fraction(keep_correct, "keep_correct")
        self.keep_wrong = check_fraction(keep_wrong, "keep_wrong")

    def __call__(self, data: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        correct = LabelledPoints.labels(data) == LabelledPoints.classes(data)
        return rng.random(correct.shape) < np.where(correct, self.keep_correct, self.keep_wrong)


class KeepAll:
    """Keeps everything (curation switched off: the same data as `replace`)."""

    def __call__(self, data: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        return np.ones(np.shape(data)[:-1], dtype=bool)


# =============================================================================== reward
class BandReward:
    """r(x) = −(x₁ − a)² / (2ℓ²) for 2-D points (..., 2): maximal (0) on the line x₁ = a."""

    def __init__(self, level: float, width: float):
        if not width > 0:
            raise ValueError(f"width must be a number > 0, got {width!r}")
        self.level, self.width = float(level), float(width)

    def __call__(self, points: np.ndarray) -> np.ndarray:
        return -(np.asarray(points)[..., 0] - self.level) ** 2 / (2 * self.width ** 2)


# =============================================================================== corrections
def correction_fraction(gamma: float) -> float:
    """t = γ / (1 + γ): how far a correction of strength γ moves toward the truth."""
    if not (gamma >= 0 and math.isfinite(gamma)):
        raise ValueError(f"correction strength gamma must be a finite number >= 0, got {gamma!r}")
    return gamma / (1 + gamma)


class ProjectionCorrection:
    """Every point x moved to (1 − t) x + t y, where y is its partner under the optimal
    (monotone) coupling with M fresh samples of the truth N(μ, σ²): both sorted, paired by
    rank. Points (S, M) -> (S, M) (returned in sorted order)."""

    def __init__(self, gamma: float, mu: float = 0.0, sigma: float = 1.0):
        self.gamma, self.mu, self.sigma = float(gamma), float(mu), float(sigma)
        self.fraction = correction_fraction(gamma)

    def __call__(self, points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        points = np.sort(np.asarray(points, float), axis=-1)
        truth = np.sort(self.mu + self.sigma * rng.standard_normal(points.shape), axis=-1)
        return (1 - self.fraction) * points + self.fraction * truth


class MixtureCorrection:
    """Every point replaced by a fresh sample of the truth N(μ, σ²) with probability t: the
    corrected points are distributed as (p + γ p*) / (1 + γ)."""

    def __init__(self, gamma: float, mu: float = 0.0, sigma: float = 1.0):
        self.gamma, self.mu, self.sigma = float(gamma), float(mu), float(sigma)
        self.fraction = correction_fraction(gamma)

    def __call__(self, points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        points = np.asarray(points, float)
        replaced = rng.random(points.shape) < self.fraction
        return np.where(replaced, self.mu + self.sigma * rng.standard_normal(points.shape),
                        points)
