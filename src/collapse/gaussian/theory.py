"""Exact theory of the 1-D Gaussian recursion (PAPER.md, "Theory" items 2–3).

Conventions (the same as :func:`collapse.core.loop.run_generations`): generation 0 is the
Gaussian fitted to the M_0 real points drawn from N(μ, σ²); generation n is fitted to the M_n
points drawn from generation n−1. So generation n is the result of n + 1 fits, and the sums
and products below run over i = 0 … n (``sizes[i]`` = M_i, the size of the data generation i
was fitted to). With the paper's indexing (μ_1 fitted to real data) the same formulas read with
n in place of n + 1.

Two estimators of the variance:

* ``"unbiased"``: s² = Σ(x − x̄)² / (M − 1) (Theorem 3.1);
* ``"biased"``: Σ(x − x̄)² / M, i.e. ``np.std`` as in the authors' notebook.

(:data:`ESTIMATORS` and :func:`check_estimator` live with the fits, in
:mod:`collapse.gaussian.family`, and are re-exported here.)

Every step multiplies the variance by an independent χ²_{M−1}/c, c = M − 1 (unbiased) or M
(biased), and moves the mean by an independent N(0, σ²_{previous}/M) (Cochran's theorem).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import integrate, special, stats

from .family import ESTIMATORS, check_estimator

__all__ = [
    "ESTIMATORS", "check_estimator", "variance_divisor", "log_step_mean", "log_step_variance",
    "alpha", "expected_variance", "expected_std", "expected_mean_error",
    "expected_pooled_variance", "expected_w2_squared",
    "log_variance_mean", "median_variance_drift", "log_variance_cdf", "variance_quantiles",
    "prob_std_below", "gaussian_w2_squared", "tail_mass_beyond", "tail_share",
    "StartDistribution", "student_t_start", "bimodal_start", "gaussian_start",
    "mc_resolution_limit", "accumulate_expected_variance", "accumulate_expected_mean_error",
]


def _sizes(sizes) -> np.ndarray:
    array = np.atleast_1d(np.asarray(sizes, dtype=float))
    if np.any(array < 2) or not np.all(np.isfinite(array)):
        raise ValueError(f"sample sizes M_i must be >= 2, got minimum {array.min()!r}")
    return array


def variance_divisor(sizes, estimator: str):
    """c(M): M − 1 for the unbiased estimator, M for the biased one (``np.std``)."""
    sizes = _sizes(sizes)
    return sizes - 1.0 if check_estimator(estimator) == "unbiased" else sizes


# ----------------------------------------------------------------------------- one step
def log_step_mean(sizes, estimator: str) -> np.ndarray:
    """E log(χ²_{M−1}/c) = ψ((M−1)/2) + ln 2 − ln c: the drift of log σ² per fit."""
    sizes = _sizes(sizes)
    return special.digamma((sizes - 1) / 2) + np.log(2.0) - np.log(
        variance_divisor(sizes, estimator))


def log_step_variance(sizes) -> np.ndarray:
    """Var log χ²_{M−1} = ψ′((M−1)/2) (the same for both estimators)."""
    return special.polygamma(1, (_sizes(sizes) - 1) / 2)


def _log_gamma_ratio_half(x: np.ndarray) -> np.ndarray:
    """ln[Γ(x + ½) / (Γ(x) √x)], accurate to ~1e-16 for every x > 0 (gammaln loses digits
    to cancellation for large x, so x ≥ 20 uses the asymptotic series
    −1/(8x) + 1/(192x³) − 1/(640x⁵) + 17/(14336x⁷) − 31/(18432x⁹), error < 2e-17 there)."""
    x = np.asarray(x, float)
    small = np.minimum(x, 20.0)
    direct = special.gammaln(small + 0.5) - special.gammaln(small) - 0.5 * np.log(small)
    inverse = 1.0 / np.maximum(x, 20.0)
    series = inverse * (-1 / 8 + inverse ** 2 * (1 / 192 + inverse ** 2 * (
        -1 / 640 + inverse ** 2 * (17 / 14336 - inverse ** 2 * 31 / 18432))))
    return np.where(x < 20.0, direct, series)


def alpha(sizes, estimator: str = "unbiased") -> np.ndarray:
    """α(M) = E√(χ²_{M−1}/c) = √(2/c) Γ(M/2)/Γ((M−1)/2) (≈ 1 − 1/(4M) unbiased).

    Computed as exp of ln Γ(x+½) − ln Γ(x) − ½ ln x, x = (M−1)/2, plus ½ ln((M−1)/c):
    gammaln for small M, its asymptotic series for large M (where the plain gammaln
    difference loses ~1e-10 to cancellation at M = 10⁶).
    """
    sizes = _sizes(sizes)
    divisor = variance_divisor(sizes, estimator)
    return np.exp(_log_gamma_ratio_half((sizes - 1) / 2) + 0.5 * np.log((sizes - 1) / divisor))


# ----------------------------------------------------------------------------- moments
def expected_variance(sizes, estimator: str, sigma: float = 1.0) -> np.ndarray:
    """E[σ²_n] for n = 0 … len(sizes)−1: σ² (unbiased, a martingale) or σ² ∏ (M_i−1)/M_i."""
    sizes = _sizes(sizes)
    return sigma ** 2 * np.cumprod((sizes - 1) / variance_divisor(sizes, estimator))


def expected_std(sizes, estimator: str, sigma: float = 1.0) -> np.ndarray:
    """E[σ_n] = σ ∏_{i≤n} α(M_i) (Bertrand et al.; Suresh et al.)."""
    return sigma * np.cumprod(alpha(sizes, estimator))


def expected_mean_error(sizes, estimator: str, sigma: float = 1.0) -> np.ndarray:
    """E|μ_n − μ|² = Σ_{i≤n} E[σ²_{i−1}]/M_i (σ²_{−1} = σ², the truth).

    Unbiased: σ² Σ 1/M_i. Biased, constant M: σ²(1 − (1 − 1/M)^{n+1}) ≤ σ².
    """
    sizes = _sizes(sizes)
    previous_variance = np.concatenate([[sigma ** 2],
                                        expected_variance(sizes, estimator, sigma)[:-1]])
    return np.cumsum(previous_variance / sizes)


def expected_pooled_variance(sizes, estimator: str, sigma: float = 1.0) -> np.ndarray:
    """Var(X_n) of a draw X_n from generation n's model, pooled over chains:
    E[σ²_n] + E|μ_n − μ|² (E μ_n = μ). Unbiased: σ²(1 + Σ_{i≤n} 1/M_i), the paper's
    Var(X_j^n), growing like a random walk for constant M; biased: exactly σ² (the two terms
    telescope: σ²β^{n+1} + σ²(1 − β^{n+1}), β = (M−1)/M)."""
    return expected_variance(sizes, estimator, sigma) + expected_mean_error(sizes, estimator,
                                                                            sigma)


def expected_w2_squared(sizes, estimator: str, sigma: float = 1.0) -> np.ndarray:
    """E[W2²(N(μ_n, σ_n²), N(μ, σ²))] = E|μ_n−μ|² + E[σ_n²] − 2σE[σ_n] + σ², exactly.

    Unbiased: σ² Σ 1/M_i + 2σ²(1 − ∏ α(M_i)), which diverges iff Σ 1/M_i does (Theorem 3.1).
    Biased: the sum telescopes to 2σ²(1 − ∏ α_b(M_i)) with α_b(M) = α(M)√((M−1)/M), which
    stays below 2σ² for every schedule.
    """
    sizes = _sizes(sizes)
    return (expected_mean_error(sizes, estimator, sigma)
            + expected_variance(sizes, estimator, sigma)
            - 2 * sigma * expected_std(sizes, estimator, sigma) + sigma ** 2)


def accumulate_expected_variance(sample_size: int, n_generations: int, estimator: str,
                                 sigma: float = 1.0) -> np.ndarray:
    """E[σ²_n], n = 0 … N, under `accumulate` (generation n fitted to the pool of all
    (n+1)·M points so far, every block of M drawn from the previous generation).

    Adding a block of M points from N(μ_old, σ²_old) to a pool of C points multiplies
    E[σ²] by (c(C) + M − 1 + C/(C+M)) / c(C+M) = 1 − M/((C+M)(C+M−1)) (unbiased) or
    1 − M/(C+M)² (biased), c the estimator's divisor: the product converges, so E[σ²_n] has a
    positive limit.
    """
    size = _constant_size(sample_size)
    pool_before = size * np.arange(1, n_generations + 1, dtype=float)  # C for steps 1..N
    divisor = (lambda count: count - 1) if check_estimator(estimator) == "unbiased" \
        else (lambda count: count)
    factors = (divisor(pool_before) + size - 1 + pool_before / (pool_before + size)) \
        / divisor(pool_before + size)
    first = sigma ** 2 * (size - 1) / divisor(size)
    return first * np.concatenate([[1.0], np.cumprod(factors)])


def accumulate_expected_mean_error(sample_size: int, n_generations: int, estimator: str,
                                   sigma: float = 1.0) -> np.ndarray:
    """E|μ_n − μ|² under `accumulate`: the pooled mean moves by (x̄_new − μ_old)/(n+1), a
    martingale difference of variance E[σ²_{n−1}]/(M(n+1)²), so
    E|μ_n − μ|² = σ²/M + Σ_{j=1}^{n} E[σ²_{j−1}]/(M(j+1)²) → ≈ (π²/6)·σ²/M: bounded, at about
    π²/6 times generation 0's error (cf. Gerstgrasser et al.'s π²/6 for linear regression)."""
    size = _constant_size(sample_size)
    variance = accumulate_expected_variance(size, n_generations, estimator, sigma)
    steps = variance[:-1] / (size * np.arange(2, n_generations + 2, dtype=float) ** 2)
    return sigma ** 2 / size + np.concatenate([[0.0], np.cumsum(steps)])


# ----------------------------------------------------------------------------- distribution
def log_variance_mean(sizes, estimator: str, sigma: float = 1.0) -> np.ndarray:
    """E log σ²_n = log σ² + Σ_{i≤n} [ψ((M_i−1)/2) + ln 2 − ln c_i] (the digamma drift)."""
    return 2 * np.log(sigma) + np.cumsum(log_step_mean(sizes, estimator))


def median_variance_drift(sizes, estimator: str, sigma: float = 1.0) -> np.ndarray:
    """exp(E log σ²_n), the "digamma drift" median of σ²_n. The exact median (see
    :func:`variance_quantiles`) sits higher by the skewness of log χ²: in total (not per step)
    about +1/(3(M−1)) in log σ² for constant M, negligible. For large M this is
    ≈ exp(−(n+1)/M) (unbiased) or exp(−2(n+1)/M) (biased)."""
    return np.exp(log_variance_mean(sizes, estimator, sigma))


_CF_STEP, _CF_POINTS = 0.04, 1250


def _standardised_cf(half_df: float, n_terms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nodes t (T,) and φ_Z(t) (..., T) for Z = (S − E S)/sd(S), S a sum of ``n_terms``
    i.i.d. log χ²_{2·half_df}, from the exact characteristic function of log χ²_k:
    E[(χ²_k)^{it}] = 2^{it} Γ(k/2 + it)/Γ(k/2)."""
    n_terms = np.asarray(n_terms, float)
    t = (np.arange(_CF_POINTS) + 0.5) * _CF_STEP
    u = t / np.sqrt(n_terms * special.polygamma(1, half_df))[..., None]
    log_phi = n_terms[..., None] * (special.loggamma(half_df + 1j * u)
                                   - special.gammaln(half_df) - 1j * u * special.digamma(half_df))
    phi = np.exp(log_phi)
    # drop the nodes where |φ_Z| < 1e-20 for every row: they add nothing to the integrals
    keep = max(int(np.nonzero(np.abs(phi).reshape(-1, t.size).max(axis=0) > 1e-20)[0].max()) + 1,
               8)
    return t[:keep], phi[..., :keep]


def _gil_pelaez(z: np.ndarray, t: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F(z), f(z)) from φ on the nodes t: F = 1/2 − (1/π)∫_0^∞ Im[e^{−itz}φ(t)]/t dt and
    f = (1/π)∫_0^∞ Re[e^{−itz}φ(t)] dt, by the midpoint rule with step h = 0.04 on [0, 50].
    The error is of the order of the mass farther than 2π/h ≈ 157 standard deviations plus
    |φ_Z| beyond t = 50; both are negligible here (checked against χ² in the tests)."""
    rotated = phi * np.exp(-1j * t * z[..., None])
    cdf = 0.5 - _CF_STEP / np.pi * np.sum(rotated.imag / t, axis=-1)
    pdf = _CF_STEP / np.pi * np.sum(rotated.real, axis=-1)
    return np.clip(cdf, 0.0, 1.0), pdf


_Z_LIMIT = 40.0  # |z| beyond which the CDF is 0 or 1 to < 1e-19 (see _standardised_sum_cdf)


def _standardised_sum_cdf(z, half_df: float, n_terms) -> np.ndarray:
    """P(Z ≤ z), Z as in :func:`_standardised_cf`; ``z`` and ``n_terms`` broadcast.

    The midpoint rule aliases with period 2π/h ≈ 157 standard deviations, so it is only used
    for |z| ≤ 40; beyond, the CDF is set to 0 or 1: the lightest tail of log χ²_k (the left
    one, P(Z < −z) ≈ exp(−z·√ψ′(k/2)·k/2)) puts less than e^{−44} beyond 40 standard
    deviations for every k ≥ 1, and sums only thin it further."""
    z, n_terms = np.broadcast_arrays(np.asarray(z, float), np.asarray(n_terms, float))
    t, phi = _standardised_cf(half_df, n_terms)
    inside = np.clip(z, -_Z_LIMIT, _Z_LIMIT)
    cdf = _gil_pelaez(inside, t, phi)[0]
    return np.where(z < -_Z_LIMIT, 0.0, np.where(z > _Z_LIMIT, 1.0, cdf))


def _standardised_sum_quantiles(quantiles: np.ndarray, half_df: float,
                                n_terms: np.ndarray, tolerance: float = 1e-11) -> np.ndarray:
    """Quantiles (Q, P) of Z by Newton's method on the Gil-Pelaez CDF, safeguarded by a
    bracket (bisection whenever a Newton step leaves it), started at the normal quantile."""
    quantiles = np.asarray(quantiles, float)[:, None]
    t, phi = _standardised_cf(half_df, np.asarray(n_terms, float))
    phi = np.broadcast_to(phi, (quantiles.shape[0],) + phi.shape)
    z = np.broadcast_to(stats.norm.ppf(quantiles), phi.shape[:-1]).copy()
    low, high = np.full(z.shape, -_Z_LIMIT), np.full(z.shape, _Z_LIMIT)
    for iteration in range(100):
        cdf, pdf = _gil_pelaez(z, t, phi)
        error = cdf - quantiles
        if np.all(np.abs(error) < tolerance):
            break
        low, high = np.where(error < 0, z, low), np.where(error < 0, high, z)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = z - error / pdf
        z = np.where((pdf > 0) & (step > low) & (step < high), step, (low + high) / 2)
    return z


def _constant_size(sample_size) -> float:
    sample_size = _sizes(sample_size)
    if sample_size.size != 1:
        raise ValueError("the exact distribution is implemented for a constant M; "
                         "use log_variance_mean for a schedule")
    return float(sample_size[0])


def log_variance_cdf(x, sample_size: int, generations, estimator: str,
                     sigma: float = 1.0) -> np.ndarray:
    """P(log σ²_n ≤ x) at generation(s) n, constant M, exactly (n + 1 fits; see
    :func:`_standardised_sum_cdf` for the numerical inversion). ``x`` and ``generations``
    broadcast."""
    size = _constant_size(sample_size)
    n_terms = np.asarray(generations, float) + 1
    mean = n_terms * log_step_mean(size, estimator)[0] + 2 * np.log(sigma)
    sd = np.sqrt(n_terms * log_step_variance(size)[0])
    return _standardised_sum_cdf((np.asarray(x, float) - mean) / sd, (size - 1) / 2, n_terms)


def variance_quantiles(quantiles, sample_size: int, generations, estimator: str,
                       sigma: float = 1.0) -> np.ndarray:
    """Exact quantiles of σ²_n (constant M), shape (len(quantiles), len(generations)):
    the sum of n + 1 i.i.d. log(χ²_{M−1}/c), inverted from its characteristic function."""
    size = _constant_size(sample_size)
    n_terms = np.atleast_1d(np.asarray(generations, float)) + 1
    z = _standardised_sum_quantiles(quantiles, (size - 1) / 2, n_terms)
    mean = n_terms * log_step_mean(size, estimator)[0] + 2 * np.log(sigma)
    sd = np.sqrt(n_terms * log_step_variance(size)[0])
    return np.exp(mean + sd * z)


def prob_std_below(threshold: float, sample_size: int, generations, estimator: str,
                   sigma: float = 1.0) -> np.ndarray:
    """P(σ_n < threshold) at each generation, exactly (constant M)."""
    return log_variance_cdf(2 * np.log(threshold), sample_size, generations, estimator, sigma)


def mc_resolution_limit(n_seeds: int, sample_size: int, estimator: str = "unbiased") -> float:
    """Heuristic generation beyond which an ``n_seeds`` Monte-Carlo mean of σ²_n misses E[σ²_n].

    log σ²_n is close to normal with variance v_n = (n+1)ψ′((M−1)/2); the mean of the
    lognormal is carried by paths about √v_n standard deviations above the median, which a
    sample of ``n_seeds`` reaches only while √v_n ≲ z_max = Φ^{-1}(1 − 1/n_seeds). Returns the
    n where √v_n = z_max (≈ z_max² M / 2, i.e. ≈ 4.8 M for 1,000 seeds).
    """
    z_max = stats.norm.isf(1.0 / n_seeds)
    return float(z_max ** 2 / log_step_variance(sample_size)[0] - 1)


# ----------------------------------------------------------------------------- distances
def gaussian_w2_squared(mean, std, mu: float = 0.0, sigma: float = 1.0):
    """W2²(N(mean, std²), N(mu, sigma²)) = (mean − mu)² + (std − sigma)² (elementwise)."""
    return (np.asarray(mean) - mu) ** 2 + (np.asarray(std) - sigma) ** 2


def tail_mass_beyond(k: float, mean, std, mu: float = 0.0, sigma: float = 1.0):
    """P_n(|X − mu| > k·sigma) for X ~ N(mean, std²): the mass generation n still assigns to
    the region where the original N(mu, sigma²) has its k-sigma tails (elementwise)."""
    mean, std = np.asarray(mean, float), np.asarray(std, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = stats.norm.cdf((mu - k * sigma - mean) / std)
        upper = stats.norm.sf((mu + k * sigma - mean) / std)
    return lower + upper


def tail_share(k: float, mean, std, mu: float = 0.0, sigma: float = 1.0):
    """:func:`tail_mass_beyond` divided by the original's own mass there, 2Φ(−k)."""
    return tail_mass_beyond(k, mean, std, mu, sigma) / (2 * stats.norm.sf(k))


# ----------------------------------------------------------------------------- non-Gaussian D_0
@dataclass
class StartDistribution:
    """A non-Gaussian D_0 for Theorem 3.1's generality (any D_0 with non-zero variance).

    ``sample(rng, shape)`` draws from D_0; ``cdf``/``sf``/``pdf`` are D_0's. The W2 distance
    from a Gaussian to D_0 uses the quantile coupling:
    W2²(N(m, s²), D_0) = ∫_0^1 (m + sΦ^{-1}(u) − F^{-1}(u))² du
                       = (m − μ_0)² + s² − 2s·κ + σ_0², κ = E[Φ^{-1}(U) F^{-1}(U)],
    with κ computed once by quadrature as ∫ x Φ^{-1}(F(x)) f(x) dx (κ = σ_0 for a Gaussian).
    """

    name: str
    mean: float
    variance: float
    sample: Callable[[np.random.Generator, tuple], np.ndarray] = field(repr=False)
    pdf: Callable = field(repr=False)
    cdf: Callable = field(repr=False)
    sf: Callable = field(repr=False)
    _kappa: float | None = field(default=None, repr=False)

    @property
    def std(self) -> float:
        return float(np.sqrt(self.variance))

    @property
    def quantile_correlation(self) -> float:
        """κ = E[Φ^{-1}(U) F^{-1}(U)] (≤ σ_0, with equality iff D_0 is Gaussian)."""
        if self._kappa is None:
            def integrand(x):
                # Φ^{-1}(F(x)) from the side where F or 1 − F is small, for accuracy
                z = stats.norm.ppf(self.cdf(x)) if x < self.mean else -stats.norm.ppf(self.sf(x))
                density = self.pdf(x)
                return x * z * density if density > 0 and np.isfinite(z) else 0.0
            with warnings.catch_warnings():  # quad's round-off notes at ~1e-12: harmless here
                warnings.simplefilter("ignore", integrate.IntegrationWarning)
                left, _ = integrate.quad(integrand, -np.inf, self.mean, limit=200)
                right, _ = integrate.quad(integrand, self.mean, np.inf, limit=200)
            self._kappa = left + right
        return self._kappa

    def w2_squared_to_gaussian(self, mean, std):
        """W2²(N(mean, std²), D_0), elementwise."""
        mean, std = np.asarray(mean, float), np.asarray(std, float)
        return ((mean - self.mean) ** 2 + std ** 2 - 2 * std * self.quantile_correlation
                + self.variance)

    @property
    def w2_squared_floor(self) -> float:
        """min over Gaussians of W2²(N, D_0) = σ_0² − κ² (0 iff D_0 is Gaussian)."""
        return max(self.variance - self.quantile_correlation ** 2, 0.0)


def gaussian_start(mu: float = 0.0, sigma: float = 1.0) -> StartDistribution:
    """D_0 = N(mu, sigma²) (for checks: κ = sigma)."""
    law = stats.norm(mu, sigma)
    return StartDistribution("Gaussian", mu, sigma ** 2,
                             lambda rng, shape: mu + sigma * rng.standard_normal(shape),
                             law.pdf, law.cdf, law.sf)


def student_t_start(dof: float = 3.0) -> StartDistribution:
    """D_0 = Student-t with ``dof`` > 2 degrees of freedom, scaled to unit variance."""
    if not dof > 2:
        raise ValueError(f"dof must be > 2 (finite variance), got {dof!r}")
    scale = np.sqrt((dof - 2) / dof)
    law = stats.t(dof, scale=scale)
    return StartDistribution(f"Student-t (ν={dof:g})", 0.0, 1.0,
                             lambda rng, shape: scale * rng.standard_t(dof, shape),
                             law.pdf, law.cdf, law.sf)


def bimodal_start(separation: float = 0.9, component_std: float | None = None) \
        -> StartDistribution:
    """D_0 = ½N(−a, s²) + ½N(a, s²) with a = ``separation``, s² = 1 − a² (unit variance)."""
    if component_std is None:
        if not 0 < separation < 1:
            raise ValueError(f"separation must be in (0, 1) for unit variance, got {separation}")
        component_std = float(np.sqrt(1 - separation ** 2))
    a, s = separation, component_std

    def sample(rng, shape):
        signs = np.where(rng.random(shape) < 0.5, -1.0, 1.0)
        return signs * a + s * rng.standard_normal(shape)

    return StartDistribution(
        f"bimodal ½N(±{a:g}, {s ** 2:.2g})", 0.0, a ** 2 + s ** 2, sample,
        lambda x: 0.5 * (stats.norm.pdf(x, -a, s) + stats.norm.pdf(x, a, s)),
        lambda x: 0.5 * (stats.norm.cdf(x, -a, s) + stats.norm.cdf(x, a, s)),
        lambda x: 0.5 * (stats.norm.sf(x, -a, s) + stats.norm.sf(x, a, s)))
