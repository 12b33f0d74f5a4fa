"""Exact theory of the curation chapter (population limits: infinitely many samples per
generation), derived here for the three settings.

**Verification.** For the generative classifier with class mean m (data z = y·x ~ N(m, I)),
a generator that flips labels with probability p, and a verifier that keeps correct labels
with probability ψ and wrong ones with probability φ, the kept data have the share of correct
labels p* = (1 − p)ψ / ((1 − p)ψ + pφ), and the refitted class mean is

* independent verifier (ψ, φ fixed): m' = (2p* − 1) m;
* linear verifier v (unit), a = v·m, ψ = Φ(a), φ = Φ(−a):
  m' = [((1 − p)Φ(a) − pΦ(−a)) m + φ_N(a) v] / ((1 − p)Φ(a) + pΦ(−a)) = (2p* − 1) m + φ_N(a) v / P.

So the model's own signal passes with weight 2p* − 1 — the sign flips where p* = 1/2,
(1 − p)ψ = pφ, Feng et al.'s breakdown point — and a linear verifier adds its own direction.
The accuracy of class mean m on the truth (class means ±μ) is Φ(μ·m / ‖m‖).

**Best-of-K.** Draw K points from p, keep point i with probability e^{r_i}/Σ_j e^{r_j}. The
kept point has density p(x) H(x) with H(x) = E[K u(x) / (u(x) + Σ_{j<K} U_j)], u = e^r,
U_j = e^{r(X_j)}, X_j ~ p; using 1/c = ∫₀^∞ e^{−sc} ds,
H(x) = K u(x) ∫₀^∞ e^{−s u(x)} L(s)^{K−1} ds, L(s) = E_p[e^{−sU}] (computed on a grid, by
quadrature in log s). With a real fraction λ: p_{t+1} = λ p₀ + (1 − λ) p_t H_t. As K → ∞,
H → u / E_p[u], so with λ = 0, p_t ∝ p₀ e^{t r} (Ferbach et al.).

**Self-correction.** A correction of strength γ moves the sample a fraction t = γ/(1 + γ)
toward the truth; for both correctors E[m_{n+1} − μ] = (1 − t) E[m_n − μ], so an offset decays
as (1 + γ)^{−n}. For the mixture corrector the first two moments are exact: with e_n =
E(m_n − μ)², v_n = E s_n² (unbiased variance), mixture variance w = (1 − t)s² + tσ² +
t(1 − t)(m − μ)²: e_{n+1} = (1 − t)² e_n + E w / M, v_{n+1} = E w.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np
from scipy import integrate, optimize, special, stats

from ..core.checks import check_fraction, check_sample_size

__all__ = [
    "accuracy", "proxy", "linear_keep_rates", "independent_step", "linear_step",
    "population_accuracy", "one_round_accuracy", "proxy_transition_angle",
    "linear_transition_angle", "Grid", "bradley_terry_tilt", "curated_recursion",
    "exponential_tilt", "offset_decay", "mixture_correction_moments",
]


# =============================================================================== verification
def accuracy(mean: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Accuracy on the truth of the classifier sign(m·x): Φ(μ·m / ‖m‖); m (..., d) -> (...)."""
    mean = np.asarray(mean, float)
    return special.ndtr(mean @ truth / np.linalg.norm(mean, axis=-1))


def proxy(label_noise: float, keep_correct, keep_wrong):
    """p* = (1 − p)ψ / ((1 − p)ψ + pφ): the share of correct labels among the kept points."""
    kept_correct = (1 - label_noise) * np.asarray(keep_correct, float)
    return kept_correct / (kept_correct + label_noise * np.asarray(keep_wrong, float))


def linear_keep_rates(alignment) -> tuple[np.ndarray, np.ndarray]:
    """(ψ, φ) = (Φ(a), Φ(−a)) of a linear verifier v on data of class mean m, a = v·m."""
    alignment = np.asarray(alignment, float)
    return special.ndtr(alignment), special.ndtr(-alignment)


def independent_step(mean: np.ndarray, label_noise: float, keep_correct: float,
                     keep_wrong: float) -> np.ndarray:
    """m' = (2p* − 1) m."""
    return (2 * proxy(label_noise, keep_correct, keep_wrong) - 1) * np.asarray(mean, float)


def linear_step(mean: np.ndarray, direction: np.ndarray, label_noise: float) -> np.ndarray:
    """m' = (2p* − 1) m + φ_N(a) v / P for a linear verifier of unit ``direction`` v;
    ``mean`` (..., d)."""
    mean = np.asarray(mean, float)
    alignment = mean @ direction
    keep_correct, keep_wrong = linear_keep_rates(alignment)
    kept = (1 - label_noise) * keep_correct + label_noise * keep_wrong
    signal = 2 * proxy(label_noise, keep_correct, keep_wrong) - 1
    pull = stats.norm.pdf(alignment) / kept
    return signal[..., None] * mean + pull[..., None] * direction


def population_accuracy(truth: np.ndarray, label_noise: float, n_generations: int,
                        verifier: tuple | None = None) -> np.ndarray:
    """Accuracy of generations 0 … N in the population limit, from m₀ = μ: shape (N + 1,).

    ``verifier``: None (no curation, m' = (1 − 2p) m), ("linear", angle_degrees) or
    ("independent", ψ, φ)."""
    label_noise = check_fraction(label_noise, "label_noise")
    mean, accuracies = np.array(truth, float), []
    for _ in range(n_generations + 1):
        accuracies.append(float(accuracy(mean, truth)))
        if verifier is None:
            mean = (1 - 2 * label_noise) * mean
        elif verifier[0] == "linear":
            mean = linear_step(mean, _direction(len(truth), verifier[1]), label_noise)
        elif verifier[0] == "independent":
            mean = independent_step(mean, label_noise, verifier[1], verifier[2])
        else:
            raise ValueError(f"verifier must be None, ('linear', angle) or ('independent', "
                             f"psi, phi); got {verifier!r}")
        if not np.any(mean):
            return np.array(accuracies + [0.5] * (n_generations + 1 - len(accuracies)))
    return np.array(accuracies)


def _direction(dims: int, angle_degrees: float) -> np.ndarray:
    theta = math.radians(angle_degrees)
    direction = np.zeros(dims)
    direction[0], direction[1] = math.cos(theta), math.sin(theta)
    return direction


def one_round_accuracy(mean_norm: float, label_noise: float, angles: Sequence[float],
                       kind: str) -> np.ndarray:
    """Accuracy after one round of selection from m₀ = μ, for verifiers at ``angles``
    (degrees): ``kind`` "linear", or "independent" with the linear verifier's keep rates
    ψ = Φ(‖μ‖ cos θ), φ = 1 − ψ (a step: Φ(±‖μ‖) as p* ≷ 1/2)."""
    truth = np.array([float(mean_norm), 0.0])
    result = []
    for angle in angles:
        if kind == "linear":
            verifier = ("linear", angle)
        elif kind == "independent":
            keep_correct = float(special.ndtr(mean_norm * math.cos(math.radians(angle))))
            verifier = ("independent", keep_correct, 1 - keep_correct)
        else:
            raise ValueError(f"kind must be 'linear' or 'independent', got {kind!r}")
        result.append(population_accuracy(truth, label_noise, 1, verifier)[1])
    return np.array(result)


def proxy_transition_angle(mean_norm: float, label_noise: float) -> float | None:
    """The verifier angle (degrees) at which p* = 1/2 on the generator m₀ = μ: Φ(‖μ‖cos θ) = p;
    None when no angle in [0°, 180°] reaches it."""
    cosine = special.ndtri(label_noise) / mean_norm if 0 < label_noise < 1 else math.inf
    return math.degrees(math.acos(cosine)) if abs(cosine) <= 1 else None


def linear_transition_angle(mean_norm: float, label_noise: float) -> float | None:
    """The angle (degrees) at which one round with a linear verifier turns the class mean
    perpendicular to the truth (its accuracy crosses 1/2); None when it never does."""
    def along_truth(angle):
        return linear_step(np.array([mean_norm, 0.0]), _direction(2, angle), label_noise)[0]
    grid = np.linspace(0, 180, 721)
    values = np.array([along_truth(angle) for angle in grid])
    change = np.flatnonzero(np.sign(values[:-1]) != np.sign(values[1:]))
    if not len(change):
        return None
    return float(optimize.brentq(along_truth, grid[change[0]], grid[change[0] + 1]))


# =============================================================================== best-of-K
@dataclasses.dataclass(frozen=True)
class Grid:
    """The centres of ``size`` × ``size`` equal square cells tiling [−limit, limit]²:
    ``points`` (G, 2) and the cell ``area`` (sums over cells are midpoint-rule integrals)."""

    limit: float
    size: int

    @property
    def axis(self) -> np.ndarray:
        step = 2 * self.limit / self.size
        return -self.limit + step * (np.arange(self.size) + 0.5)

    @property
    def points(self) -> np.ndarray:
        first, second = np.meshgrid(self.axis, self.axis, indexing="ij")
        return np.stack([first.ravel(), second.ravel()], axis=1)

    @property
    def area(self) -> float:
        return float((2 * self.limit / self.size) ** 2)


def bradley_terry_tilt(weights: np.ndarray, rewards: np.ndarray, k: int,
                       log_s: tuple[float, float, int] = (-15.0, 120.0, 6000)) -> np.ndarray:
    """H(x) of one round of best-of-K Bradley–Terry curation, at every grid point.

    ``weights`` (G,): p on the grid (summing to 1); ``rewards`` (G,): r. Exact up to the
    quadrature (Σ p H = 1 to ~1e-9 on this chapter's grids): the reward takes few distinct
    values (it depends on x₁ only), so L(s) and the integral are computed once per value."""
    k = check_sample_size(k, "k", minimum=1)
    values, inverse = np.unique(np.asarray(rewards, float), return_inverse=True)
    mass = np.bincount(inverse, weights=np.asarray(weights, float), minlength=len(values))
    if k == 1:
        return np.ones(len(weights))
    scale = values.max()                 # H is unchanged by a common shift of the rewards
    utility = np.exp(values - scale)
    log_grid = np.linspace(*log_s)
    s = np.exp(log_grid)
    decay = np.exp(-s[:, None] * utility[None, :])                    # (n_s, values)
    laplace = decay @ mass                                            # L(s)
    integral = integrate.trapezoid(decay * (laplace ** (k - 1) * s)[:, None], log_grid,
                                   axis=0) + s[0]
    return (k * utility * integral)[inverse]


def curated_recursion(initial: np.ndarray, rewards: np.ndarray, k: int, real_fraction: float,
                      n_generations: int) -> np.ndarray:
    """p_t on the grid, t = 0 … N, under best-of-K Bradley–Terry curation with a fraction λ
    of fresh real data: p_{t+1} = λ p₀ + (1 − λ) p_t H_t. ``initial`` (G,) sums to 1.
    Returns (N + 1, G)."""
    real_fraction = check_fraction(real_fraction, "real_fraction")
    initial = np.asarray(initial, float) / np.sum(initial)
    path = [initial]
    for _ in range(n_generations):
        curated = path[-1] * bradley_terry_tilt(path[-1], rewards, k)
        path.append(real_fraction * initial + (1 - real_fraction) * curated / curated.sum())
    return np.stack(path)


def exponential_tilt(initial: np.ndarray, rewards: np.ndarray,
                     generations: Sequence[float]) -> np.ndarray:
    """p₀ e^{t r} / Z on the grid for each t in ``generations`` (the K → ∞ limit, λ = 0):
    (len(generations), G)."""
    initial = np.asarray(initial, float)
    rewards = np.asarray(rewards, float)
    logs = np.log(np.maximum(initial, 1e-300))[None] \
        + np.asarray(generations, float)[:, None] * (rewards - rewards.max())[None]
    tilted = np.exp(logs - logs.max(axis=1, keepdims=True))
    return tilted / tilted.sum(axis=1, keepdims=True)


# =============================================================================== correction
def offset_decay(offset: float, gamma: float, n_generations: int) -> np.ndarray:
    """E[m_n − μ] = δ (1 + γ)^{−n}, n = 0 … N."""
    return offset * (1 + gamma) ** -np.arange(n_generations + 1, dtype=float)


def mixture_correction_moments(offset: float, gamma: float, sample_size: int,
                               n_generations: int, sigma: float = 1.0
                               ) -> tuple[np.ndarray, np.ndarray]:
    """(E(m_n − μ)², E s_n²), n = 0 … N, of the Gaussian refitted (unbiased variance) to M
    mixture-corrected samples of itself, generation 0 fitted to M points of N(μ + δ, σ²)."""
    size = check_sample_size(sample_size, "sample_size")
    t = gamma / (1 + gamma)
    error, variance = [offset ** 2 + sigma ** 2 / size], [sigma ** 2]
    for _ in range(n_generations):
        mixture = (1 - t) * variance[-1] + t * sigma ** 2 + t * (1 - t) * error[-1]
        error.append((1 - t) ** 2 * error[-1] + mixture / size)
        variance.append(mixture)
    return np.array(error), np.array(variance)
