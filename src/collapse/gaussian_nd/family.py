"""The d-dimensional Gaussian families of Theorem 3.1: fitting and sampling only.

Both families carry a leading seed axis (S chains at once) and work with
:func:`collapse.core.loop.run_generations`. A fitted model (:class:`GaussianFit`) is a mean
μ̂ (S, d) and a *factor* F (S, d, r) with Σ̂ = F Fᵀ, r = rank Σ̂ ≤ d:

* :class:`ExactGaussian` works on sufficient statistics (:class:`ScatterStats`: count, mean,
  scatter matrix Σ(x − x̄)(x − x̄)ᵀ). Drawing M points from N(μ, F Fᵀ) and summarising them is
  replaced by drawing the summary: x̄ = μ + F z/√M with z ~ N(0, I_r), and scatter = F W Fᵀ with
  W ~ Wishart_r(I, M − 1) = B Bᵀ, B the Bartlett factor (:func:`bartlett_factor`), independent
  of x̄ (Cochran). F B is a factor of the new scatter, lower triangular when F is, so under
  `replace` no matrix is ever decomposed: a generation costs O(S d³) whatever M is. Pooling for
  `accumulate` is exact on (count, mean, scatter); the pooled scatter is then factorised
  (Cholesky, or an eigendecomposition when it is singular).
* :class:`NaiveGaussian` draws all M points (:class:`Points`, shape (S, M, d)), as a direct
  implementation would; `accumulate_subsample` needs it (it resamples points of the pool).

Both fit the mean and either the unbiased covariance (÷(M − 1), Theorem 3.1) or the maximum-
likelihood one (÷M, ``np.cov(bias=True)``, Kazdan et al.'s and the authors' 1-D code):
:data:`ESTIMATORS`.

Ranks. M points span an affine subspace of dimension ≤ M − 1, so a fit to M ≤ d points is
singular (det Σ̂ = 0, log det = −∞). Every point any policy of the loop pools lies in the affine
hull of the real data (generated points lie in the hull of the data their model was fitted to),
so the rank of a pool is that of its largest part. The data types carry this rank.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Sequence

import numpy as np

from ..core.checks import check_sample_size

__all__ = [
    "ESTIMATORS", "check_estimator", "GaussianFit", "ScatterStats", "SufficientStatistics",
    "Points", "PointData", "ExactGaussian", "NaiveGaussian", "bartlett_factor", "truth",
    "true_data", "METRICS",
]

ESTIMATORS = ("unbiased", "ml")


def check_estimator(estimator: str) -> str:
    """Return ``estimator`` if it is one of :data:`ESTIMATORS`, else raise ValueError."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {', '.join(ESTIMATORS)}; got {estimator!r}")
    return estimator


def divisor(count: int, estimator: str) -> int:
    """c(M): M − 1 (unbiased) or M (maximum likelihood)."""
    check_sample_size(count, "number of points fitted")
    return count - 1 if check_estimator(estimator) == "unbiased" else count


# =============================================================================== models
@dataclasses.dataclass(frozen=True)
class GaussianFit:
    """S fitted N(mean, factor factorᵀ): ``mean`` (S, d), ``factor`` (S, d, r) (lower
    triangular when r = d), ``log_det`` (S,) log det Σ̂ (−∞ when r < d)."""

    mean: np.ndarray
    factor: np.ndarray
    log_det: np.ndarray

    @property
    def n_seeds(self) -> int:
        return int(self.mean.shape[0])

    @property
    def dim(self) -> int:
        return int(self.mean.shape[1])

    @property
    def rank(self) -> int:
        return int(self.factor.shape[2])

    @property
    def covariance(self) -> np.ndarray:
        """Σ̂, shape (S, d, d)."""
        return self.factor @ np.swapaxes(self.factor, 1, 2)

    def eigenvalues(self) -> np.ndarray:
        """Eigenvalues of Σ̂ in decreasing order, shape (S, d) (zeros beyond the rank)."""
        values = np.linalg.svd(self.factor, compute_uv=False) ** 2
        return np.pad(values, ((0, 0), (0, self.dim - values.shape[1])))


def truth(n_seeds: int, dim: int, mu: float = 0.0, sigma: float = 1.0) -> GaussianFit:
    """The original distribution N(mu·1, sigma² I) for every seed."""
    factor = np.broadcast_to(sigma * np.eye(dim), (n_seeds, dim, dim)).copy()
    return GaussianFit(np.full((n_seeds, dim), float(mu)), factor,
                       np.full(n_seeds, 2 * dim * math.log(sigma)))


def _fit_scatter(mean: np.ndarray, scatter: np.ndarray, count: int, rank: int,
                 estimator: str, basis: np.ndarray | None = None) -> GaussianFit:
    """Σ̂ = scatter/c factorised: Cholesky when full rank; else Cholesky of Qᵀ Σ̂ Q in an
    orthonormal ``basis`` Q (S, d, rank) of the points' hull (or, without one, the top
    ``rank`` eigenpairs)."""
    c, dim = divisor(count, estimator), scatter.shape[-1]
    if rank >= dim:
        lower = np.linalg.cholesky(scatter / c)
        log_det = 2 * np.log(np.diagonal(lower, axis1=1, axis2=2)).sum(axis=1)
        return GaussianFit(mean, lower, log_det)
    if basis is None:
        basis = _hull_basis(scatter, rank)
    reduced = np.swapaxes(basis, 1, 2) @ (scatter / c) @ basis
    return GaussianFit(mean, basis @ np.linalg.cholesky(reduced),
                       np.full(mean.shape[0], -np.inf))


def _hull_basis(scatter: np.ndarray, rank: int) -> np.ndarray:
    """Orthonormal basis (S, d, rank) of the column space of a rank-``rank`` scatter matrix."""
    return np.linalg.eigh(scatter)[1][:, :, scatter.shape[-1] - rank:]


def _scatter(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean (S, d), scatter (S, d, d)) of points (S, M, d)."""
    mean = points.mean(axis=1)
    centred = points - mean[:, None, :]
    return mean, np.swapaxes(centred, 1, 2) @ centred


# =============================================================================== exact sampler
def bartlett_factor(rng: np.random.Generator, n_seeds: int, dim: int, dof: int) -> np.ndarray:
    """B (S, dim, min(dim, dof)) with B Bᵀ ~ Wishart_dim(I, dof): lower trapezoidal, B_ii² ~
    χ²_{dof − i} (i = 0 …), N(0, 1) below the diagonal (Bartlett's decomposition; for
    dof < dim the rows beyond dof are all N(0, 1), the singular Wishart)."""
    dof = check_sample_size(dof, "Wishart degrees of freedom", minimum=1)
    width = min(dim, dof)
    factor = np.zeros((n_seeds, dim, width))
    rows, cols = np.tril_indices(dim, -1, width)
    factor[:, rows, cols] = rng.standard_normal((n_seeds, rows.size))
    diagonal = np.arange(width)
    factor[:, diagonal, diagonal] = np.sqrt(rng.chisquare(dof - diagonal, (n_seeds, width)))
    return factor


@dataclasses.dataclass(frozen=True)
class ScatterStats:
    """Sufficient statistics of S datasets of ``count`` points in d dimensions: ``mean``
    (S, d) and the scatter matrix Σ(x − x̄)(x − x̄)ᵀ, given as ``factor`` G (S, d, r) with
    scatter = G Gᵀ (drawn by the exact sampler) or as ``scatter`` (S, d, d) (pooled or
    summarised points); ``rank`` = rank of the points' affine hull, ``basis`` an orthonormal
    basis (S, d, rank) of it when rank < d (kept by pools)."""

    count: int
    mean: np.ndarray
    rank: int
    factor: np.ndarray | None = None
    scatter: np.ndarray | None = None
    basis: np.ndarray | None = None

    @property
    def scatter_matrix(self) -> np.ndarray:
        if self.scatter is not None:
            return self.scatter
        return self.factor @ np.swapaxes(self.factor, 1, 2)

    def hull_basis(self) -> np.ndarray:
        """An orthonormal basis of the points' hull (rank < d)."""
        if self.basis is not None:
            return self.basis
        if self.factor is not None:
            return np.linalg.qr(self.factor)[0][:, :, :self.rank]
        return _hull_basis(self.scatter, self.rank)

    @classmethod
    def from_points(cls, points: np.ndarray) -> "ScatterStats":
        """Summarise points of shape (S, M, d)."""
        points = np.asarray(points, float)
        if points.ndim != 3:
            raise ValueError(f"points must have shape (seeds, M, d), got {points.shape}")
        count, dim = points.shape[1], points.shape[2]
        check_sample_size(count, "number of points per seed")
        mean, scatter = _scatter(points)
        return cls(count, mean, min(dim, count - 1), scatter=scatter)


class SufficientStatistics:
    """Data type of :class:`ScatterStats`: sized by ``count``, pooled exactly (scatter =
    Σ scatter_j + Σ n_j (x̄_j − x̄)(x̄_j − x̄)ᵀ; the pool lies in its first part's hull), never
    subsampled."""

    def size(self, data: ScatterStats) -> int:
        return int(data.count)

    def concat(self, parts: Sequence[ScatterStats]) -> ScatterStats:
        parts = list(parts)
        count = sum(part.count for part in parts)
        mean = sum(part.count * part.mean for part in parts) / count
        scatter = sum(part.scatter_matrix + part.count * np.einsum(
            "si,sj->sij", part.mean - mean, part.mean - mean) for part in parts)
        rank = max(part.rank for part in parts)
        basis = parts[0].hull_basis() if rank < mean.shape[1] else None
        return ScatterStats(count, mean, rank, scatter=scatter, basis=basis)

    def take(self, data: ScatterStats, n: int, rng: np.random.Generator):
        raise ValueError(
            "the exact d-dimensional Gaussian family keeps only sufficient statistics (count, "
            "mean, scatter) and cannot draw individual points; 'accumulate_subsample' and "
            "'mix_real' need points: run them with NaiveGaussian")


class _Family:
    def __init__(self, estimator: str = "unbiased"):
        self.estimator = check_estimator(estimator)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.estimator!r})"


class ExactGaussian(_Family):
    """d-dimensional Gaussian family on sufficient statistics (Wishart sampler, O(S d³) per
    generation whatever M is)."""

    sampler = "exact"
    data_type = SufficientStatistics()

    def fit(self, data: ScatterStats, rng: np.random.Generator = None) -> GaussianFit:
        if not isinstance(data, ScatterStats):
            raise ValueError(f"ExactGaussian fits ScatterStats, got {type(data).__name__}; "
                             "summarise points with ScatterStats.from_points")
        if data.factor is None:
            return _fit_scatter(data.mean, data.scatter, data.count, data.rank, self.estimator,
                                data.basis)
        c, dim = divisor(data.count, self.estimator), data.mean.shape[1]
        factor = data.factor / math.sqrt(c)
        if factor.shape[2] < dim:
            return GaussianFit(data.mean, factor, np.full(data.mean.shape[0], -np.inf))
        # a product of lower-triangular factors: log det from the diagonal
        diagonal = np.abs(np.diagonal(factor, axis1=1, axis2=2))
        return GaussianFit(data.mean, factor, 2 * np.log(diagonal).sum(axis=1))

    def generate(self, model: GaussianFit, n: int, rng: np.random.Generator,
                 context: Any = None) -> ScatterStats:
        n = check_sample_size(n, "sample size M")
        seeds, rank = model.n_seeds, model.rank
        noise = rng.standard_normal((seeds, rank, 1))
        mean = model.mean + (model.factor @ noise)[:, :, 0] / math.sqrt(n)
        factor = model.factor @ bartlett_factor(rng, seeds, rank, n - 1)
        return ScatterStats(n, mean, min(rank, n - 1), factor=factor)


# =============================================================================== naive sampler
class _Buffer:
    """A growable (S, capacity, d) array that pools share: appending to the latest pool writes
    in place (amortised O(new points)), so `accumulate_subsample` does not copy its growing pool
    every generation."""

    def __init__(self, first: np.ndarray, capacity: int):
        self.array = np.empty((first.shape[0], capacity, first.shape[2]))
        self.array[:, :first.shape[1]] = first
        self.length = first.shape[1]

    def append(self, values: np.ndarray) -> None:
        end = self.length + values.shape[1]
        if end > self.array.shape[1]:
            grown = np.empty((self.array.shape[0], 2 * end, self.array.shape[2]))
            grown[:, :self.length] = self.array[:, :self.length]
            self.array = grown
        self.array[:, self.length:end] = values
        self.length = end


@dataclasses.dataclass(frozen=True)
class Points:
    """Points of S datasets, ``values`` (S, count, d), with the rank of their affine hull and,
    in pools with rank < d, an orthonormal ``basis`` (S, d, rank) of it (``buffer``: the shared
    growable array behind a pool, if any)."""

    values: np.ndarray
    rank: int
    basis: np.ndarray | None = dataclasses.field(default=None, repr=False, compare=False)
    buffer: _Buffer | None = dataclasses.field(default=None, repr=False, compare=False)

    def hull_basis(self) -> np.ndarray:
        if self.basis is not None:
            return self.basis
        return _hull_basis(_scatter(self.values)[1], self.rank)


class PointData:
    """Data type of :class:`Points`: concatenated along the point axis (in place when extending
    the latest pool; the pool lies in its first part's hull), subsampled independently per
    seed. ``capacity``: the points per seed a pool will reach, if known (allocated at once)."""

    def __init__(self, capacity: int | None = None):
        self.capacity = capacity

    def size(self, data: Points) -> int:
        return int(data.values.shape[1])

    def concat(self, parts: Sequence[Points]) -> Points:
        first, *rest = list(parts)
        rank = max(part.rank for part in parts)
        basis = first.hull_basis() if rank < first.values.shape[2] else None
        if first.buffer is not None and first.buffer.length == self.size(first):
            buffer = first.buffer
        else:
            total = sum(self.size(part) for part in parts)
            buffer = _Buffer(first.values, max(2 * total, self.capacity or 0))
        for part in rest:
            buffer.append(part.values)
        return Points(buffer.array[:, :buffer.length], rank, basis, buffer)

    def take(self, data: Points, n: int, rng: np.random.Generator) -> Points:
        """n points per seed, a uniformly random n-subset of that seed's points."""
        size = self.size(data)
        if n > size:
            raise ValueError(f"cannot take {n} points from a dataset of {size}")
        index = np.stack([rng.choice(size, n, replace=False)
                          for _ in range(data.values.shape[0])])
        rank = min(data.rank, n - 1)
        return Points(np.take_along_axis(data.values, index[:, :, None], axis=1), rank,
                      data.basis if rank == data.rank else None)


class NaiveGaussian(_Family):
    """d-dimensional Gaussian family on points (draws all M points per seed);
    ``pool_capacity``: points per seed its pools will reach (see :class:`PointData`)."""

    sampler = "naive"

    def __init__(self, estimator: str = "unbiased", pool_capacity: int | None = None):
        super().__init__(estimator)
        self.data_type = PointData(pool_capacity)

    def fit(self, data: Points, rng: np.random.Generator = None) -> GaussianFit:
        if not isinstance(data, Points):
            raise ValueError(f"NaiveGaussian fits Points, got {type(data).__name__}")
        check_sample_size(data.values.shape[1], "number of points per seed")
        mean, scatter = _scatter(data.values)
        return _fit_scatter(mean, scatter, data.values.shape[1], data.rank, self.estimator,
                            data.basis)

    def generate(self, model: GaussianFit, n: int, rng: np.random.Generator,
                 context: Any = None) -> Points:
        n = check_sample_size(n, "sample size M")
        noise = rng.standard_normal((model.n_seeds, n, model.rank))
        return Points(model.mean[:, None, :] + noise @ np.swapaxes(model.factor, 1, 2),
                      min(model.rank, n - 1))


def true_data(family: _Family, n_seeds: int, sample_size: int, dim: int,
              rng: np.random.Generator, mu: float = 0.0, sigma: float = 1.0):
    """Generation 0's real data: M points from N(mu·1, sigma² I) per seed, in ``family``'s
    form (drawn exactly as sufficient statistics for :class:`ExactGaussian`)."""
    return family.generate(truth(n_seeds, dim, mu, sigma), sample_size, rng)


# =============================================================================== loop metrics
def _squared_mean_error(model: GaussianFit, data: Any, generation: int) -> np.ndarray:
    return (model.mean ** 2).sum(axis=1)


def _log_det(model: GaussianFit, data: Any, generation: int) -> np.ndarray:
    return model.log_det


def _trace(model: GaussianFit, data: Any, generation: int) -> np.ndarray:
    return (model.factor ** 2).sum(axis=(1, 2))


METRICS: dict[str, Callable] = {"mean_error": _squared_mean_error, "log_det": _log_det,
                                "trace": _trace}
"""Loop metrics of every run, (S,) each, for the truth N(0, σ²I): ‖μ̂_n − μ‖², log det Σ̂_n,
tr Σ̂_n."""
