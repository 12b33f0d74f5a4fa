"""Exact theory of the error-sources chapter: the KDE recursions and the W2 distances.

* :func:`kde_expected_variance`: a KDE refitted to M samples of itself,
  E V_{n+1} = (1 − 1/M) E V_n + h² (fixed point M h²); :func:`kde_expected_mean_error`;
* :func:`exact_kde_variance`: the infinite-data KDE chain under `replace`, `accumulate` and
  `mix_real` (the approximation error alone, exactly);
* :func:`expressivity_w2_squared`: the exact W2² floor of the expressivity error, 2 − 2κ;
* :func:`w2_squared_1d` and the loop metric :class:`W2SquaredTo`: W2² between 1-D mixtures
  by the quantile coupling (numerical).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..core.checks import check_sample_size
from ..core.policies import Accumulate, MixReal, Policy, Replace, policy_from_name
from ..gaussian import theory as gaussian_theory
from .family import SEPARATION, Mixture1D, check_bandwidth

__all__ = ["kde_expected_variance", "kde_expected_mean_error", "exact_kde_variance",
           "expressivity_w2_squared", "w2_squared_1d", "W2SquaredTo"]


# =============================================================================== KDE recursions
def kde_expected_variance(sample_size: int | None, bandwidth: float, n_generations: int,
                          sigma: float = 1.0) -> np.ndarray:
    """E V_n, n = 0 … N, of a fixed-bandwidth KDE refitted to M samples of itself (`replace`).

    Generation 0 is the KDE of M real points of variance σ²: E V_0 = (1 − 1/M)σ² + h² (the
    centres' variance is the biased sample variance, plus the kernel's h²). A sample of M
    points from a KDE of variance V has E[biased sample variance] = (1 − 1/M)V, so
    E V_{n+1} = (1 − 1/M) E V_n + h², whose solution is
    E V_n = M h² + (E V_0 − M h²)(1 − 1/M)^n → M h². ``sample_size=None``: infinite data,
    V_n = σ² + (n + 1) h² exactly."""
    h2 = check_bandwidth(bandwidth) ** 2
    n = np.arange(n_generations + 1, dtype=float)
    if sample_size is None:
        return sigma ** 2 + (n + 1) * h2
    size = float(check_sample_size(sample_size, "sample_size"))
    start = (1 - 1 / size) * sigma ** 2 + h2
    return size * h2 + (start - size * h2) * (1 - 1 / size) ** n


def kde_expected_mean_error(sample_size: int, bandwidth: float, n_generations: int,
                            sigma: float = 1.0) -> np.ndarray:
    """E(m_n − μ)² of the KDE chain's mean: σ²/M + Σ_{i<n} E V_i / M (the mean of M draws
    from a KDE of variance V moves by a martingale step of variance V/M)."""
    size = check_sample_size(sample_size, "sample_size")
    variance = kde_expected_variance(size, bandwidth, n_generations, sigma)
    return sigma ** 2 / size + np.concatenate([[0.0], np.cumsum(variance[:-1]) / size])


def exact_kde_variance(bandwidth: float, n_generations: int, policy: str | Policy = "replace",
                       fraction: float | None = None, sigma: float = 1.0) -> np.ndarray:
    """Variance V_n of the infinite-data KDE chain (every component has the same mean) under
    a data ``policy`` (a :class:`~collapse.core.policies.Policy` or a name accepted by
    :func:`~collapse.core.policies.policy_from_name`, e.g. ``"mix_real(0.1)"`` or
    ``"mix_real"`` with ``fraction``), exactly; the data of generation n have variance P_n,
    V_n = P_n + h²:

    * replace: P_n = V_{n−1}, so V_n = σ² + (n + 1) h² (linear growth);
    * accumulate: P_n = (σ² + Σ_{i<n} V_i)/(n + 1) (equal masses), so
      V_n = V_{n−1} + h²/(n + 1): V_n = σ² + h² H_{n+1} (harmonic number, ~ h² ln n);
    * mix_real(f): P_n = fσ² + (1 − f)V_{n−1}, so V_n → σ² + h²/f (bounded)."""
    h2 = check_bandwidth(bandwidth) ** 2
    if not isinstance(policy, Policy):
        policy = policy_from_name(policy, fraction=fraction)
    n = np.arange(n_generations + 1, dtype=float)
    if isinstance(policy, Replace) or (isinstance(policy, MixReal) and policy.fraction == 0):
        return sigma ** 2 + (n + 1) * h2
    if isinstance(policy, Accumulate):
        return sigma ** 2 + h2 * np.cumsum(1.0 / (n + 1))
    if isinstance(policy, MixReal):
        f = policy.fraction
        return sigma ** 2 + h2 / f + (h2 - h2 / f) * (1 - f) ** n
    raise ValueError(f"no exact KDE recursion for policy {policy.label()!r}; allowed: "
                     "replace, accumulate, mix_real")


# =============================================================================== W2 distances
def expressivity_w2_squared(separation: float = SEPARATION) -> float:
    """W2² between the bimodal D_0 and its maximum-likelihood Gaussian N(0, 1):
    2 − 2κ, κ = E[Φ^{-1}(U) F^{-1}(U)] (by quadrature, :mod:`collapse.gaussian.theory`)."""
    start = gaussian_theory.bimodal_start(separation)
    return float(start.w2_squared_to_gaussian(0.0, 1.0))


def w2_squared_1d(p: Mixture1D, q: Mixture1D, n_quantiles: int = 4000) -> float:
    """W2²(p, q) = ∫_0^1 (F_p^{-1}(u) − F_q^{-1}(u))² du (midpoint rule in u; numerical)."""
    return W2SquaredTo(q, n_quantiles)(p)


class W2SquaredTo:
    """A loop metric: W2² of each generation's :class:`Mixture1D` to a fixed ``reference``
    (numerical, :func:`w2_squared_1d`), computed only at ``generations`` (NaN elsewhere; all
    generations when None). The reference's quantiles are computed once (a constant, not
    state carried across generations)."""

    def __init__(self, reference: Mixture1D, n_quantiles: int = 4000,
                 generations: Sequence[int] | None = None):
        self.u = (np.arange(n_quantiles) + 0.5) / n_quantiles
        self.reference_quantiles = reference.quantile(self.u)
        self.generations = None if generations is None else set(int(g) for g in generations)

    def __call__(self, model: Mixture1D, data=None, generation: int | None = None) -> float:
        if self.generations is not None and generation not in self.generations:
            return float("nan")
        return float(np.mean((model.quantile(self.u, 8001) - self.reference_quantiles) ** 2))
