"""Closed forms of the GMM chapter: the squared L2 distance between Gaussian mixtures (the
authors' metric, from Gaussian product integrals) and the exact theory of the one-component
loop (a 2-D Gaussian MLE refitted to N of its own samples)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..core.checks import check_sample_size
from .batched_em import Mixture

__all__ = ["gaussian_product_integral", "l2_squared", "mixture_moments",
           "gaussian_w2_squared", "geometric_spread_ratio", "single_gaussian_theory"]


def gaussian_product_integral(p: Mixture, q: Mixture) -> np.ndarray:
    """∫ p(x) q(x) dx per seed (S,) = Σ_ij w_i v_j N(μ_i; ν_j, Σ_i + Γ_j). A one-seed
    mixture broadcasts against many seeds."""
    diff = p.means[:, :, None, :] - q.means[:, None, :, :]                 # (S, Kp, Kq, 2)
    cov = p.covariances[:, :, None] + q.covariances[:, None, :]            # (S, Kp, Kq, 2, 2)
    a, b, c = cov[..., 0, 0], cov[..., 0, 1], cov[..., 1, 1]
    det = a * c - b * b
    quad = (c * diff[..., 0] ** 2 - 2 * b * diff[..., 0] * diff[..., 1]
            + a * diff[..., 1] ** 2) / det
    density = np.exp(-0.5 * quad) / (2 * np.pi * np.sqrt(det))
    return (p.weights[:, :, None] * q.weights[:, None, :] * density).sum((1, 2))


def l2_squared(p: Mixture, q: Mixture) -> np.ndarray:
    """Squared L2 distance ∫ (p − q)² per seed (S,), in closed form (the authors' metric)."""
    return (gaussian_product_integral(p, p) - 2 * gaussian_product_integral(p, q)
            + gaussian_product_integral(q, q))


def mixture_moments(weights: np.ndarray, means: np.ndarray, covariances: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Overall mean (..., 2) and covariance (..., 2, 2) of mixtures with weights (..., K),
    means (..., K, 2) and covariances (..., K, 2, 2) (any leading axes)."""
    weights, means = np.asarray(weights, float), np.asarray(means, float)
    mean = np.einsum("...k,...kd->...d", weights, means)
    second = np.einsum("...k,...kde->...de", weights,
                       np.asarray(covariances, float) + means[..., :, None] * means[..., None, :])
    return mean, second - mean[..., :, None] * mean[..., None, :]


def gaussian_w2_squared(mean_p: np.ndarray, cov_p: np.ndarray, mean_q: np.ndarray,
                        cov_q: np.ndarray) -> np.ndarray:
    """W2² between 2-D Gaussians N(m_p, C_p) and N(m_q, C_q) (arrays broadcast over leading
    axes): |m_p − m_q|² + tr C_p + tr C_q − 2 tr (C_p^½ C_q C_p^½)^½, where for 2 × 2 matrices
    (tr M^½)² = tr M + 2 √det M, with tr M = tr(C_p C_q) and det M = det C_p det C_q.

    Applied to the overall means and covariances of two mixtures (:func:`mixture_moments`) it
    is Gelbrich's lower bound on their W2² (equality when both are Gaussian): a distance that
    sees where the mass moved and how it spread or shrank, and stays below tr C_p + |m_p −
    m_q|² + tr C_q however peaked q becomes (unlike ∫(p − q)², which grows like 1/tr C_q)."""
    mean_p, mean_q = np.asarray(mean_p, float), np.asarray(mean_q, float)
    cov_p, cov_q = np.asarray(cov_p, float), np.asarray(cov_q, float)
    cross = np.einsum("...ij,...ji->...", cov_p, cov_q) \
        + 2 * np.sqrt(np.clip(np.linalg.det(cov_p) * np.linalg.det(cov_q), 0, None))
    bures = (np.trace(cov_p, axis1=-2, axis2=-1) + np.trace(cov_q, axis1=-2, axis2=-1)
             - 2 * np.sqrt(np.clip(cross, 0, None)))
    return np.clip(((mean_p - mean_q) ** 2).sum(-1) + bures, 0, None)


def geometric_spread_ratio(covariances: np.ndarray) -> np.ndarray:
    """(det Σ_n / det Σ_0)^{1/4} per generation and seed (G+1, S) of a one-component run,
    from its covariances (G+1, S, 1, 2, 2): the quantity :func:`single_gaussian_theory`
    predicts."""
    covariances = np.asarray(covariances)
    if covariances.ndim != 5 or covariances.shape[2] != 1:
        raise ValueError("geometric_spread_ratio needs the covariances of a one-component "
                         f"(K = 1) run, shape (G+1, S, 1, 2, 2); got {covariances.shape}")
    log_det = np.linalg.slogdet(covariances[:, :, 0])[1]                   # (G+1, S)
    return np.exp((log_det - log_det[0]) / 4)


def single_gaussian_theory(n_points: int, generations: np.ndarray,
                           quantiles: Sequence[float] = (0.1, 0.5, 0.9)) -> np.ndarray:
    """Exact theory for the K = 1 loop (2-D Gaussian MLE refitted to N of its own samples).

    Σ_{n+1} = Σ_n^{1/2} (W/N) Σ_n^{1/2} with W ~ Wishart(N−1, I₂), so log det(Σ_n/Σ_0) is a
    sum of n i.i.d. terms log χ²_{N−1} + log χ²_{N−2} − 2 log N (Bartlett), with mean
    ψ((N−1)/2) + ψ((N−2)/2) + 2 log 2 − 2 log N and variance ψ′((N−1)/2) + ψ′((N−2)/2).
    Returns the ``quantiles`` of (det Σ_n/det Σ_0)^{1/4} (normal approximation of the sum,
    accurate here: each term is itself nearly normal for N ≥ 100): (len(quantiles), G)."""
    from scipy import special, stats
    n_points = check_sample_size(n_points, "n_points", minimum=3)
    a, b = (n_points - 1) / 2, (n_points - 2) / 2
    mean = special.digamma(a) + special.digamma(b) + 2 * np.log(2) - 2 * np.log(n_points)
    variance = special.polygamma(1, a) + special.polygamma(1, b)
    generations = np.asarray(generations, dtype=float)
    z = stats.norm.ppf(np.asarray(quantiles))[:, None]
    return np.exp((generations * mean + z * np.sqrt(generations * variance)) / 4)
