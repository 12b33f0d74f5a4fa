"""Exact (and, where marked, asymptotic) theory of the d-dimensional Gaussian recursion.

Conventions as in the 1-D chapter and :func:`collapse.core.loop.run_generations`: generation 0
is fitted to the M_0 real points from N(μ, σ²I); generation n is the result of n + 1 fits
(i = 0 … n). c = M − 1 (unbiased) or M (maximum likelihood, ``"ml"``).

The Wishart facts everything rests on (Cochran, Bartlett): with M points from N(m, Σ),
x̄ ~ N(m, Σ/M) independent of the scatter matrix, and the scatter is Σ^{1/2} W Σ^{1/2},
W ~ Wishart_d(I, M − 1) = B Bᵀ, B lower triangular with independent B_ii² ~ χ²_{M−i}
(i = 1 … d) and N(0, 1) below the diagonal. So under `replace` a factor of Σ_n is
σ c^{−(n+1)/2} B_0 B_1 ⋯ B_n, a product of independent Bartlett factors, and

* log det Σ_n = d log σ² + Σ_{fits} Σ_{i=1}^{d} log(χ²_{M−i}/c): a sum of independent log χ²
  terms, whose exact distribution is inverted here from its characteristic function (as the
  1-D chapter does for d = 1); it needs M > d (otherwise det Σ_n = 0);
* every 1-D projection uᵀΣ_n u (|u| = 1) is exactly the 1-D chain σ² ∏ χ²_{M−1}/c, so
  E tr Σ_n, E‖μ_n − μ‖² and every diagonal entry are d copies of the 1-D results (this also
  holds under `accumulate` and `accumulate_subsample`, which act on points linearly);
* the eigenvalues of Σ_n are the squared singular values of a product of i.i.d. triangular
  matrices: log λ_i(Σ_n)/(n + 1) → r_i = ψ((M − i)/2) + ln 2 − ln c (its Lyapunov exponents,
  asymptotically Gaussian with variance ψ′((M − i)/2)/(n + 1)), so direction i dies at rate
  ≈ i/M (unbiased) or (i + 1)/M (ML) per generation: the smallest directions first.
"""
from __future__ import annotations

import numpy as np
from scipy import special, stats

from .family import ESTIMATORS, check_estimator

__all__ = [
    "ESTIMATORS", "variance_divisor", "lyapunov_exponents", "log_det_step_mean",
    "log_det_step_variance", "log_det_quantiles", "eigenvalue_quantiles", "expected_trace",
    "expected_mean_error", "alpha", "w2_bounds", "w2_upper_amgm", "pool_expectations",
]


def _sizes(sizes) -> np.ndarray:
    array = np.atleast_1d(np.asarray(sizes, dtype=float))
    if np.any(array < 2) or not np.all(np.isfinite(array)):
        raise ValueError(f"sample sizes M_i must be >= 2, got minimum {array.min()!r}")
    return array


def variance_divisor(sizes, estimator: str) -> np.ndarray:
    """c(M): M − 1 (unbiased) or M (maximum likelihood)."""
    sizes = _sizes(sizes)
    return sizes - 1.0 if check_estimator(estimator) == "unbiased" else sizes


def _check_full_rank(dim: int, size: int) -> None:
    if size <= dim:
        raise ValueError(f"det Σ_n = 0 when M <= d (M = {size}, d = {dim}): the fit to M "
                         "points spans at most M − 1 dimensions")


# ----------------------------------------------------------------------------- one fit
def lyapunov_exponents(dim: int, size: int, estimator: str) -> np.ndarray:
    """r_i = E log(χ²_{M−i}/c) = ψ((M−i)/2) + ln 2 − ln c, i = 1 … d (decreasing), shape
    (d,): the drift of log λ_i(Σ_n) per fit (for i ≤ M − 1)."""
    _check_full_rank(dim, size)
    half = (size - np.arange(1, dim + 1)) / 2
    return special.digamma(half) + np.log(2.0) - np.log(variance_divisor(size, estimator)[0])


def log_det_step_mean(dim: int, size: int, estimator: str) -> float:
    """E log det of one fit's step, Σ_i r_i ≈ −d(d+1)/(2M) (unbiased) or −d(d+3)/(2M) (ML)
    for M ≫ d: per dimension ≈ −(d+1)/(2M) or −(d+3)/(2M), the collapse rate scales with
    d/M."""
    return float(lyapunov_exponents(dim, size, estimator).sum())


def log_det_step_variance(dim: int, size: int) -> float:
    """Var of one fit's step of log det, Σ_i ψ′((M−i)/2)."""
    _check_full_rank(dim, size)
    return float(special.polygamma(1, (size - np.arange(1, dim + 1)) / 2).sum())


# ----------------------------------------------------------------------------- log det law
_CF_STEP, _CF_POINTS, _Z_LIMIT = 0.04, 1250, 40.0


def _standardised_cf(half_dofs: np.ndarray, n_terms: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes t and φ_Z(t) for Z = (S − E S)/sd(S), S the sum of ``n_terms`` independent copies
    of Σ_i log χ²_{2·half_dofs[i]}, from E[(χ²_k)^{iu}] = 2^{iu} Γ(k/2 + iu)/Γ(k/2)."""
    t = (np.arange(_CF_POINTS) + 0.5) * _CF_STEP
    u = t / np.sqrt(n_terms * special.polygamma(1, half_dofs).sum())
    log_phi = n_terms * (special.loggamma(half_dofs[:, None] + 1j * u)
                         - special.gammaln(half_dofs)[:, None]
                         - 1j * u * special.digamma(half_dofs)[:, None]).sum(axis=0)
    phi = np.exp(log_phi)
    keep = max(int(np.nonzero(np.abs(phi) > 1e-20)[0].max()) + 1, 8)
    return t[:keep], phi[:keep]


def _standardised_quantiles(quantiles: np.ndarray, t: np.ndarray, phi: np.ndarray,
                            tolerance: float = 1e-10) -> np.ndarray:
    """Quantiles of Z from its characteristic function (Gil-Pelaez, midpoint rule with step
    0.04: aliasing at 2π/0.04 ≈ 157 SD; |z| ≤ 40 carries all but < e⁻⁴⁰ of the mass), by
    Newton's method safeguarded by bisection."""
    z = stats.norm.ppf(quantiles)
    low, high = np.full(z.shape, -_Z_LIMIT), np.full(z.shape, _Z_LIMIT)
    for _ in range(100):
        rotated = phi * np.exp(-1j * t * z[:, None])
        cdf = 0.5 - _CF_STEP / np.pi * np.sum(rotated.imag / t, axis=1)
        pdf = _CF_STEP / np.pi * np.sum(rotated.real, axis=1)
        error = cdf - quantiles
        if np.all(np.abs(error) < tolerance):
            break
        low, high = np.where(error < 0, z, low), np.where(error < 0, high, z)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = z - error / pdf
        z = np.where((pdf > 0) & (step > low) & (step < high), step, (low + high) / 2)
    return z


def log_det_quantiles(quantiles, dim: int, size: int, generations, estimator: str,
                      sigma: float = 1.0) -> np.ndarray:
    """Exact quantiles of log det Σ_n under `replace` with constant M > d, shape
    (len(quantiles), len(generations)): the law of d log σ² + a sum of (n + 1)·d independent
    log(χ²_{M−i}/c) terms."""
    quantiles = np.atleast_1d(np.asarray(quantiles, float))
    half = (size - np.arange(1, dim + 1)) / 2.0
    mean_step, variance_step = log_det_step_mean(dim, size, estimator), \
        log_det_step_variance(dim, size)
    result = np.empty((quantiles.size, np.size(generations)))
    for column, generation in enumerate(np.atleast_1d(generations)):
        n_terms = float(generation) + 1
        z = _standardised_quantiles(quantiles, *_standardised_cf(half, n_terms))
        result[:, column] = (2 * dim * np.log(sigma) + n_terms * mean_step
                             + np.sqrt(n_terms * variance_step) * z)
    return result


def eigenvalue_quantiles(quantiles, dim: int, size: int, generations, estimator: str,
                         sigma: float = 1.0) -> np.ndarray:
    """*Asymptotic* (n → ∞) quantiles of the ordered eigenvalues λ_1 ≥ … ≥ λ_d of Σ_n,
    shape (len(quantiles), len(generations), d): log λ_i ≈ N((n+1) r_i, (n+1) ψ′((M−i)/2))
    (Lyapunov exponents of the product of Bartlett factors, fluctuations asymptotically
    independent); it ignores O(1) offsets, so it describes the slopes, not small n."""
    quantiles = np.atleast_1d(np.asarray(quantiles, float))
    n_terms = np.atleast_1d(np.asarray(generations, float))[:, None] + 1
    rates = lyapunov_exponents(dim, size, estimator)
    spread = special.polygamma(1, (size - np.arange(1, dim + 1)) / 2)
    z = stats.norm.ppf(quantiles)[:, None, None]
    return sigma ** 2 * np.exp(n_terms * rates + np.sqrt(n_terms * spread) * z)


# ----------------------------------------------------------------------------- expectations
def expected_trace(dim: int, sizes, estimator: str, sigma: float = 1.0) -> np.ndarray:
    """E tr Σ_n, n = 0 … len(sizes) − 1: dσ² (unbiased: a martingale) or dσ² ∏ (M_i − 1)/M_i."""
    sizes = _sizes(sizes)
    return dim * sigma ** 2 * np.cumprod((sizes - 1) / variance_divisor(sizes, estimator))


def expected_mean_error(dim: int, sizes, estimator: str, sigma: float = 1.0) -> np.ndarray:
    """E‖μ_n − μ‖² = Σ_{i≤n} E tr Σ_{i−1}/M_i (Σ_{−1} = σ²I): dσ² Σ 1/M_i (unbiased, the
    divergent part of Theorem 3.1) or dσ²(1 − ∏(1 − 1/M_i)) ≤ dσ² (ML)."""
    sizes = _sizes(sizes)
    previous = np.concatenate([[dim * sigma ** 2],
                               expected_trace(dim, sizes, estimator, sigma)[:-1]])
    return np.cumsum(previous / sizes)


def alpha(sizes, estimator: str) -> np.ndarray:
    """α(M) = E√(χ²_{M−1}/c): E σ_n of the 1-D chain is σ ∏ α(M_i)."""
    sizes = _sizes(sizes)
    return np.exp(special.gammaln(sizes / 2) - special.gammaln((sizes - 1) / 2)) \
        * np.sqrt(2 / variance_divisor(sizes, estimator))


def w2_bounds(dim: int, sizes, estimator: str, sigma: float = 1.0) -> tuple[np.ndarray,
                                                                             np.ndarray]:
    """Exact bounds on E[W2²(N(μ_n, Σ_n), N(μ, σ²I))] = E‖μ_n − μ‖² + E tr Σ_n + dσ² −
    2σ E tr Σ_n^{1/2}, from 0 ≤ tr Σ^{1/2} ≤ Σ_j √Σ_jj (concavity of √) and E√Σ_jj = σ∏α:
    lower = d × the 1-D chain's E[W2²] (also W2² ≥ the sum over coordinates of the marginals'
    W2²), upper = E‖μ_n − μ‖² + E tr Σ_n + dσ². The gap 2dσ²∏α(M_i) vanishes like
    e^{−n/(4M)}; the lower end diverges like dσ²n/M (unbiased), the upper stays 2dσ² (ML)."""
    sizes = _sizes(sizes)
    upper = (expected_mean_error(dim, sizes, estimator, sigma)
             + expected_trace(dim, sizes, estimator, sigma) + dim * sigma ** 2)
    return upper - 2 * dim * sigma ** 2 * np.cumprod(alpha(sizes, estimator)), upper


def w2_upper_amgm(dim: int, sizes, estimator: str, sigma: float = 1.0) -> np.ndarray:
    """A tighter exact upper bound on E[W2²] for M_i > d: tr Σ^{1/2} ≥ d det(Σ)^{1/(2d)}
    (arithmetic ≥ geometric mean of the eigenvalues' roots), and E det(Σ_n)^{1/(2d)} =
    σ ∏_fits ∏_i (2/c)^{1/(2d)} Γ((M−i)/2 + 1/(2d))/Γ((M−i)/2) exactly (moments of χ²). Tight
    while the spectrum is narrow (early), loose once it spreads (late), where
    :func:`w2_bounds` closes instead."""
    sizes = _sizes(sizes)
    if np.any(sizes <= dim):
        raise ValueError("the AM-GM bound needs M_i > d (otherwise det Σ_n = 0)")
    power, half = 1 / (2 * dim), (sizes[:, None] - np.arange(1, dim + 1)) / 2
    log_moment = (power * np.log(2 / variance_divisor(sizes, estimator))[:, None]
                  + special.gammaln(half + power) - special.gammaln(half)).sum(axis=1)
    _, upper = w2_bounds(dim, sizes, estimator, sigma)
    return upper - 2 * dim * sigma ** 2 * np.exp(np.cumsum(log_moment))


def pool_expectations(dim: int, size: int, n_generations: int, estimator: str,
                      subsample: bool, sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(E‖μ_n − μ‖², E tr Σ_n), n = 0 … N, under `accumulate` (fit to the whole pool of
    C_n = (n+1)M points) or `accumulate_subsample` (fit to M points drawn without replacement
    from it), exactly, per coordinate × d.

    Per coordinate, with A = E[pool scatter] and B = E(pool mean − μ)², the fit has
    E σ̂² = A/c(C) (whole pool) or (M−1)/c(M) · A/(C−1) (subsample) and E(μ̂ − pool mean)² = 0
    or A/((C−1)M)·(1 − M/C) (finite-population correction); a new block of M points from the
    fit adds (M−1)E σ̂² to A plus C M/(C+M) · D, and (M/(C+M))² D to B, with
    D = E(μ̂ − pool mean)² + E σ̂²/M (the block mean's distance to the pool mean)."""
    size = int(_sizes(size)[0])
    c_fit = variance_divisor(size, estimator)[0]
    scatter, mean_error = (size - 1) * sigma ** 2, sigma ** 2 / size
    mean_errors, variances = [], []
    for generation in range(n_generations + 1):
        count = (generation + 1) * size
        if subsample and count > size:
            variance = (size - 1) / c_fit * scatter / (count - 1)
            jitter = scatter / ((count - 1) * size) * (1 - size / count)
        else:
            variance = scatter / variance_divisor(count, estimator)[0]
            jitter = 0.0
        mean_errors.append(mean_error + jitter)
        variances.append(variance)
        distance = jitter + variance / size
        scatter += (size - 1) * variance + count * size / (count + size) * distance
        mean_error += (size / (count + size)) ** 2 * distance
    return dim * np.array(mean_errors), dim * np.array(variances)
