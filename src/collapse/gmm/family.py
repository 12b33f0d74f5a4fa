"""The Gaussian-mixture family: true distributions, data, fitting and sampling (PAPER.md, "GMM").

* :class:`Setup` / :data:`SETUPS`: the true distributions, sampled as ``make_blobs`` does;
* :class:`PointData`: points with a leading seed axis, pooled in place (:class:`PointPool`);
* :class:`BatchedGMMFamily`: ``GaussianMixture(2, covariance_type="full", tol=1e-5,
  max_iter=2000)`` refitted on every seed at once (:mod:`collapse.gmm.batched_em`);
* :class:`SklearnGMMFamily`: the authors' loop, one scikit-learn refit per generation;
* :class:`SeedGroups`: several data policies side by side in one batch of seeds.
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Sequence

import numpy as np

from ..core.checks import check_sample_size
from ..core.family import ArrayData, GenerationContext
from ..core.policies import Accumulate, Policy
from . import batched_em
from .batched_em import Mixture

__all__ = ["Setup", "SETUPS", "setup_named", "PointPool", "PointData", "GMMFit",
           "BatchedGMMFamily", "SklearnGMMFamily", "SeedGroups"]


# --------------------------------------------------------------------------- setups
@dataclasses.dataclass(frozen=True)
class Setup:
    """A true data distribution: equal-weight isotropic Gaussians at ``centers``, sampled as
    ``sklearn.datasets.make_blobs(n, centers=centers, cluster_std=cluster_std)`` (which
    splits the n points evenly between the centres)."""

    name: str
    label: str
    centers: tuple
    cluster_std: float = 1.0

    def true_mixture(self) -> Mixture:
        """The true distribution as a one-seed mixture."""
        centers = np.asarray(self.centers, dtype=float)
        k = len(centers)
        return Mixture(np.full((1, k), 1.0 / k), centers[None],
                       np.broadcast_to(self.cluster_std ** 2 * np.eye(2), (1, k, 2, 2)).copy())

    def real_data(self, n_points: int, n_seeds: int, rng: np.random.Generator) -> np.ndarray:
        """(n_seeds, n_points, 2): one ``make_blobs`` draw per seed, as the authors' notebook."""
        from sklearn.datasets import make_blobs
        n_points = check_sample_size(n_points, "n_points")
        n_seeds = check_sample_size(n_seeds, "n_seeds", minimum=1)
        states = rng.integers(0, 2 ** 31 - 1, size=n_seeds)
        return np.stack([make_blobs(n_samples=n_points, centers=[list(c) for c in self.centers],
                                    cluster_std=self.cluster_std, random_state=int(state))[0]
                         for state in states])


SETUPS: dict[str, Setup] = {
    "one_blob": Setup("one_blob", "one standard 2-D Gaussian (the authors' code)",
                      ((0.0, 0.0),)),
    "two_gaussians": Setup("two_gaussians",
                           "two well-separated Gaussians at (±4, 0) (the paper's text)",
                           ((-4.0, 0.0), (4.0, 0.0))),
}


def setup_named(name: str) -> Setup:
    """The setup called ``name``, or ValueError naming the allowed ones."""
    if name not in SETUPS:
        raise ValueError(f"unknown setup {name!r}; allowed: {', '.join(SETUPS)}")
    return SETUPS[name]


# --------------------------------------------------------------------------- data type
class _Buffer:
    """Append-only storage shared by the :class:`PointPool` views of one growing pool."""

    def __init__(self, array: np.ndarray, filled: int):
        self.array, self.filled = array, filled

    def reserve(self, size: int) -> None:
        if size > self.array.shape[1]:
            grown = np.empty((self.array.shape[0], max(size, 2 * self.array.shape[1]),
                              self.array.shape[2]))
            grown[:, :self.filled] = self.array[:, :self.filled]
            self.array = grown


class PointPool:
    """The first ``length`` points of a shared append-only buffer: (S, length, 2) as an array.

    ``np.asarray(pool)`` is a view. Appending to the newest view of a buffer writes in place
    (amortised doubling), so the `accumulate` pool costs O(new points) per generation; views
    never change once made (like slices of a Go slice)."""

    def __init__(self, buffer: _Buffer, length: int):
        self.buffer, self.length = buffer, length

    @property
    def shape(self) -> tuple:
        return (self.buffer.array.shape[0], self.length, self.buffer.array.shape[2])

    @property
    def ndim(self) -> int:
        return 3

    def __array__(self, dtype=None, copy=None):
        view = self.buffer.array[:, :self.length]
        if dtype is not None and np.dtype(dtype) != view.dtype:
            return view.astype(dtype)
        return view.copy() if copy else view

    def __getstate__(self):  # pickle only the visible points
        return {"points": np.asarray(self).copy()}

    def __setstate__(self, state):
        points = state["points"]
        self.buffer, self.length = _Buffer(points, points.shape[1]), points.shape[1]


class PointData(ArrayData):
    """Points with a leading seed axis (``ArrayData(axis=1)``) for long runs: pools grow in
    place and a subsample of n points from a pool of P costs O(n) (Floyd's algorithm inside
    ``Generator.choice``) instead of the O(P log P) argsort of the generic ``take``."""

    def __init__(self):
        super().__init__(axis=1)

    def concat(self, parts: Sequence[Any]) -> PointPool:
        parts = list(parts)
        if not parts:
            raise ValueError("concat needs at least one dataset")
        head, tail = parts[0], [np.asarray(part, dtype=float) for part in parts[1:]]
        seeds, dims = np.shape(head)[0], np.shape(head)[2]
        for part in tail:
            if part.ndim != 3 or part.shape[0] != seeds or part.shape[2] != dims:
                raise ValueError(f"cannot pool data of shape {part.shape} with "
                                 f"{np.shape(head)}: seeds and dimensions must match")
        extra = sum(part.shape[1] for part in tail)
        if isinstance(head, PointPool) and head.buffer.filled == head.length:
            buffer, start = head.buffer, head.length
            buffer.reserve(start + extra)
        else:
            head_points = np.asarray(head, dtype=float)
            start = head_points.shape[1]
            buffer = _Buffer(np.empty((seeds, start + extra, dims)), start)
            buffer.array[:, :start] = head_points
        for part in tail:
            buffer.array[:, start:start + part.shape[1]] = part
            start += part.shape[1]
        buffer.filled = start
        return PointPool(buffer, start)

    def take(self, data: Any, n: int, rng: np.random.Generator) -> np.ndarray:
        points = np.asarray(data)
        size = points.shape[1]
        if n > size:
            raise ValueError(f"cannot take {n} points from a dataset of {size}")
        index = np.stack([rng.choice(size, size=n, replace=False)
                          for _ in range(points.shape[0])])
        return np.take_along_axis(points, index[:, :, None], axis=1)


# --------------------------------------------------------------------------- families
@dataclasses.dataclass
class GMMFit:
    """Generation n's mixtures (one per seed) and the EM iterations each fit took."""

    mixture: Mixture
    n_iter: np.ndarray

    def select(self, index) -> "GMMFit":
        """The fits of the seeds picked by ``index`` (a slice or index array)."""
        return GMMFit(self.mixture.select(index), self.n_iter[index])


def _check_em_options(tol, max_iter, reg_covar) -> tuple[float, int, float]:
    """EM's stopping rule and covariance floor, or ValueError naming the bad one."""
    for name, value in (("tol", tol), ("reg_covar", reg_covar)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                or not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(tol), check_sample_size(max_iter, "max_iter", minimum=1), float(reg_covar)


class BatchedGMMFamily:
    """``GaussianMixture(n_components, covariance_type="full", tol, max_iter, reg_covar)``
    refitted on every seed at once (:func:`collapse.gmm.batched_em.fit_em`, k-means init)."""

    def __init__(self, n_components: int = 2, tol: float = 1e-5, max_iter: int = 2000,
                 reg_covar: float = 1e-6):
        self.n_components = check_sample_size(n_components, "n_components", minimum=1)
        self.tol, self.max_iter, self.reg_covar = _check_em_options(tol, max_iter, reg_covar)
        self.data_type = PointData()

    def fit(self, data: Any, rng: np.random.Generator) -> GMMFit:
        result = batched_em.fit_em(np.asarray(data), self.n_components, rng, tol=self.tol,
                                   max_iter=self.max_iter, reg_covar=self.reg_covar)
        return GMMFit(result.mixture, result.n_iter)

    def generate(self, model: GMMFit, n: int, rng: np.random.Generator,
                 context: GenerationContext | None = None) -> np.ndarray:
        return batched_em.sample_mixture(model.mixture, n, rng)


class SklearnGMMFamily:
    """The authors' loop: one ``sklearn.mixture.GaussianMixture`` refit per generation, data
    (N, 2) without a seed axis; ``fit`` and ``sample`` get integer seeds drawn from ``rng``."""

    def __init__(self, n_components: int = 2, tol: float = 1e-5, max_iter: int = 2000):
        self.n_components = check_sample_size(n_components, "n_components", minimum=1)
        self.tol, self.max_iter, _ = _check_em_options(tol, max_iter, 0.0)
        self.data_type = ArrayData(axis=0)

    def fit(self, data: np.ndarray, rng: np.random.Generator):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.mixture import GaussianMixture
        model = GaussianMixture(n_components=self.n_components, covariance_type="full",
                                tol=self.tol, max_iter=self.max_iter,
                                random_state=int(rng.integers(2 ** 31 - 1)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return model.fit(np.asarray(data))

    def generate(self, model, n: int, rng: np.random.Generator,
                 context: GenerationContext | None = None) -> np.ndarray:
        model.random_state = int(rng.integers(2 ** 31 - 1))
        return model.sample(n)[0]


# --------------------------------------------------------------------------- seed groups
class _GroupPools(list):
    """The pools of the seed groups of :class:`SeedGroups` (one entry per group)."""


class SeedGroups(Policy):
    """Several data policies side by side in ONE batch: group g (``sizes[g]`` consecutive
    seeds) follows ``policies[g]``. Each group's next dataset is made by that policy's own
    ``next_data`` (the shared implementation) on the group's slice of the model, real data,
    previous data and pool; the groups are then stacked on the seed axis. Every group must
    train on the same number of points per generation (so `accumulate`, whose training set
    grows, cannot join). Why: one batched EM iteration costs mostly a fixed overhead, and the
    slowest seed sets the number of iterations, so runs that share a batch cost far less
    than the same runs one after another. The model must have ``select(seed_index)``."""

    name = "groups"
    needs_points = True

    def __init__(self, groups: Sequence[tuple[int, Policy]]):
        super().__init__(None)
        if not groups:
            raise ValueError("SeedGroups needs at least one (n_seeds, policy) group")
        self.sizes = [check_sample_size(size, "group size", minimum=1) for size, _ in groups]
        self.policies = [policy for _, policy in groups]
        for policy in self.policies:
            if isinstance(policy, (Accumulate, SeedGroups)):
                raise ValueError(f"policy {policy.label()!r} cannot share a batch: its "
                                 f"training set does not keep a fixed size")
        bounds = np.cumsum([0] + self.sizes)
        self.slices = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]

    def label(self) -> str:
        return " | ".join(f"{size}×{policy.label()}"
                          for size, policy in zip(self.sizes, self.policies))

    def next_data(self, family, model, pool, real, previous, generation, rng):
        real_points, previous_points = np.asarray(real), np.asarray(previous)
        if real_points.shape[0] != sum(self.sizes):
            raise ValueError(f"SeedGroups covers {sum(self.sizes)} seeds, the data have "
                             f"{real_points.shape[0]}")
        if not isinstance(pool, _GroupPools):   # generation 1: every pool starts as real
            pool = _GroupPools(real_points[part] for part in self.slices)
        datasets, pools = [], _GroupPools()
        for part, policy, group_pool in zip(self.slices, self.policies, pool):
            data, new_pool = policy.next_data(family, model.select(part), group_pool,
                                              real_points[part], previous_points[part],
                                              generation, rng)
            datasets.append(np.asarray(data))
            pools.append(new_pool)
        sizes = {data.shape[1] for data in datasets}
        if len(sizes) != 1:
            raise ValueError(f"the groups produced training sets of different sizes {sizes}")
        return np.concatenate(datasets, axis=0), pools
