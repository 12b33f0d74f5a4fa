"""The Gaussian under `mix_real(f)`: an exact linear recursion of E|μ_n − μ|² and E s²_n (not in
the paper; derived in book/escaping.md, "How much real data is enough").

The real part of each generation is a fresh subsample of the *same* M real points (the loop's
:class:`collapse.core.policies.MixReal`), the rest is drawn from generation n.
"""
from __future__ import annotations

import numpy as np

from ..core.checks import check_fraction, check_sample_size

__all__ = ["gaussian_mix_real_moments", "gaussian_mix_real_threshold", "exact_mean_error_ratio"]


def gaussian_mix_real_moments(sample_size: int, fraction: float, n_generations: int,
                              sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Exact E|μ_n − μ|² and E s²_n, n = 0 … N, of the unbiased Gaussian fit under
    `mix_real(f)`, where the k = round(fM) real points of each generation are drawn without
    replacement from the SAME M real points (the loop's policy), the rest from generation n.

    With d_n = μ_n − x̄_R (x̄_R the real sample's mean; d_0 = 0) and f = k/M:
    E d²_{n+1} = f(1−f)σ²/M + (1−f) E s²_n / M + (1−f)² E d²_n,
    (M−1) E s²_{n+1} = (k − 1 + (1−f)²)σ² + ((1−f)M − 1 + f) E s²_n + f(1−f)M E d²_n,
    and E|μ_n − μ|² = σ²/M + E d²_n (d_n is uncorrelated with x̄_R − μ). f = 0 is replace
    (E s² = σ², E|μ_n − μ|² = (n + 1)σ²/M); f = 1 repeats generation 0."""
    size = check_sample_size(sample_size, "sample_size")
    k = int(round(check_fraction(fraction, "fraction") * size))
    f = k / size
    d2, s2 = [0.0], [sigma ** 2]
    for _ in range(n_generations):
        d_next = f * (1 - f) * sigma ** 2 / size + (1 - f) * s2[-1] / size + (1 - f) ** 2 * d2[-1]
        if k == 0:
            s_next = s2[-1]
        else:
            s_next = ((k - 1 + (1 - f) ** 2) * sigma ** 2 + ((1 - f) * size - 1 + f) * s2[-1]
                      + f * (1 - f) * size * d2[-1]) / (size - 1)
        d2.append(d_next)
        s2.append(s_next)
    return sigma ** 2 / size + np.array(d2), np.array(s2)


def gaussian_mix_real_threshold(sample_size: int, tolerance: float = 0.1,
                                n_generations: int = 100) -> float:
    """Smallest f (to 1e-4, by bisection on the exact recursion) whose E|μ_N − μ|² stays
    within (1 + tolerance) × generation 0's σ²/M at generation N."""
    def excess(fraction):
        error, _ = gaussian_mix_real_moments(sample_size, fraction, n_generations)
        return error[-1] / error[0] - (1 + tolerance)
    low, high = 0.0, 1.0
    while high - low > 1e-4:
        middle = (low + high) / 2
        low, high = (middle, high) if excess(middle) > 0 else (low, middle)
    return high


def exact_mean_error_ratio(sample_size: int, n_generations: int, fractions: np.ndarray
                           ) -> np.ndarray:
    """E|μ_N − μ|² / (σ²/M) at generation N for every fraction of ``fractions`` (F,): the exact
    ratio to generation 0 that the chapter's fraction figure draws."""
    return np.array([gaussian_mix_real_moments(sample_size, f, n_generations)[0][-1]
                     * sample_size for f in fractions])
