"""Two-dimensional Gaussian-mixture EM batched across independent seeds (numpy).

The paper's GMM experiment refits scikit-learn's ``GaussianMixture(n_components=2,
covariance_type="full", tol=1e-5, max_iter=2000)`` once per generation. One refit costs
milliseconds, nearly all of it per-call overhead, and thousands of generations times many seeds
need the same algorithm run on every seed at once (a leading seed axis). This module is that
algorithm, step for step:

* **initialisation** = scikit-learn's default ``init_params="kmeans"``: k-means with one
  greedy k-means++ seeding (``2 + int(log k)`` local trials, as ``sklearn.cluster.KMeans``),
  Lloyd iterations until the labels repeat or the total squared centre shift is at most
  ``1e-4`` times the mean per-feature variance (``max_iter=300``; after a tolerance stop the
  labels are recomputed for the final centres), then one M-step on the one-hot labels
  (weights = counts / N, ``reg_covar`` on the covariance diagonal). One documented
  difference: an empty k-means cluster keeps its centre (scikit-learn moves it to the
  farthest point); with k-means++ seeding this needs duplicated points and does not happen
  on continuous data.
* **EM** = ``GaussianMixture.fit`` with ``n_init=1``: the E-step evaluates the mean
  log-likelihood per sample (the "lower bound") under the current parameters, the M-step
  uses ``nk = Σ resp + 10·eps`` and adds ``reg_covar`` (1e-6) to the covariance diagonals;
  a seed stops at the first iteration whose lower-bound change is below ``tol`` (1e-5), or
  after ``max_iter`` (2000).

How it is fast: a 2-D Gaussian log-density is linear in the point features
``[x², xy, y², x, y, 1]``, and the M-step needs only responsibility-weighted sums of the same
features, so one EM iteration for all seeds is two batched matrix products plus one ``exp``
per point (two components); seeds that have converged leave the batch. The data are centred
per seed first (exact in arithmetic; keeps the moment form accurate). The price of the
moment form is rounding: a log-density carries an absolute error of about
eps · (|x − centre| / sd)², e.g. 1e-12 for components of sd 0.01 one unit from the centre
(the collapsed fits of this chapter) — far below ``tol`` — and 1e-8 only for components of
sd 0.001 five units away.

The random streams differ from scikit-learn's (one ``numpy.random.Generator`` for all seeds),
so a batched fit equals scikit-learn's given the *same initial parameters*; the tests check
that against ``GaussianMixture(weights_init=..., means_init=..., precisions_init=...)``.

Shapes: S seeds, N points, K components, 2 dimensions; data ``X``: (S, N, 2).
"""
from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["Mixture", "EMResult", "kmeans_plusplus", "kmeans", "mixture_from_labels",
           "fit_em", "sample_mixture", "mean_log_likelihood", "log_density", "point_features"]

EPS = np.finfo(np.float64).eps
LOG_2PI = np.log(2 * np.pi)


@dataclasses.dataclass
class Mixture:
    """Two-dimensional Gaussian mixtures with a leading seed axis.

    ``weights`` (S, K), ``means`` (S, K, 2), ``covariances`` (S, K, 2, 2).
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray

    def __post_init__(self):
        self.weights = np.asarray(self.weights, dtype=float)
        self.means = np.asarray(self.means, dtype=float)
        self.covariances = np.asarray(self.covariances, dtype=float)
        if self.weights.ndim != 2:
            raise ValueError(f"weights must have shape (n_seeds, n_components), "
                             f"got {self.weights.shape}")
        s, k = self.weights.shape
        if self.means.shape != (s, k, 2) or self.covariances.shape != (s, k, 2, 2):
            raise ValueError(f"inconsistent mixture shapes: weights {self.weights.shape}, "
                             f"means {self.means.shape} (expected {(s, k, 2)}), covariances "
                             f"{self.covariances.shape} (expected {(s, k, 2, 2)})")

    @property
    def n_seeds(self) -> int:
        return self.weights.shape[0]

    @property
    def n_components(self) -> int:
        return self.weights.shape[1]

    def select(self, index) -> "Mixture":
        """The mixtures of the seeds picked by ``index`` (any numpy index on the seed axis)."""
        return Mixture(self.weights[index], self.means[index], self.covariances[index])

    def precisions(self) -> np.ndarray:
        """Σ⁻¹ per component: (S, K, 2, 2)."""
        return np.linalg.inv(self.covariances)

    @staticmethod
    def stack(mixtures) -> "Mixture":
        """Concatenate mixtures along the seed axis."""
        mixtures = list(mixtures)
        return Mixture(np.concatenate([m.weights for m in mixtures]),
                       np.concatenate([m.means for m in mixtures]),
                       np.concatenate([m.covariances for m in mixtures]))


@dataclasses.dataclass
class EMResult:
    """A batched EM fit: the mixtures, iterations used, convergence flags and the final
    lower bound (mean log-likelihood per sample in the last E-step), all per seed (S,)."""

    mixture: Mixture
    n_iter: np.ndarray
    converged: np.ndarray
    lower_bound: np.ndarray


# --------------------------------------------------------------------------- helpers
def _check_data(X) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 3 or X.shape[-1] != 2:
        raise ValueError(f"X must have shape (n_seeds, n_points, 2), got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or infinite values")
    return X


def point_features(X: np.ndarray) -> np.ndarray:
    """[x², xy, y², x, y, 1] per point: (..., 2) -> (..., 6)."""
    x, y = X[..., 0], X[..., 1]
    return np.stack([x * x, x * y, y * y, x, y, np.ones_like(x)], axis=-1)


def _log_density_coefficients(weights, m0, m1, a, b, c) -> np.ndarray:
    """Coefficients (S, 6, K) with point_features(x) @ coef = log w_k + log N(x; μ_k, Σ_k),
    Σ_k = [[a, b], [b, c]], μ_k = (m0, m1); all inputs (S, K)."""
    det = a * c - b * b
    if not (np.all(a > 0) and np.all(det > 0)):
        raise ValueError("a mixture component has an ill-defined (not positive definite) "
                         "covariance; increase reg_covar")
    p00, p01, p11 = c / det, -b / det, a / det                       # Σ⁻¹
    l0, l1 = p00 * m0 + p01 * m1, p01 * m0 + p11 * m1                # Σ⁻¹ μ
    constant = -0.5 * (l0 * m0 + l1 * m1 + np.log(det)) - LOG_2PI + np.log(weights)
    return np.stack([-0.5 * p00, -p01, -0.5 * p11, l0, l1, constant], axis=1)


def _parameters_from_moments(moments: np.ndarray, reg_covar: float):
    """Responsibility-weighted feature sums (S, K, 6) -> nk, m0, m1, a, b, c (each (S, K)):
    scikit-learn's ``_estimate_gaussian_parameters`` ("full") in moment form."""
    nk = moments[..., 5] + 10 * EPS
    m0, m1 = moments[..., 3] / nk, moments[..., 4] / nk
    a = moments[..., 0] / nk - m0 * m0 + reg_covar
    b = moments[..., 1] / nk - m0 * m1
    c = moments[..., 2] / nk - m1 * m1 + reg_covar
    return nk, m0, m1, a, b, c


def _unpack(mixture: Mixture, centre: np.ndarray):
    cov = mixture.covariances
    return (mixture.weights, mixture.means[..., 0] - centre[:, :1],
            mixture.means[..., 1] - centre[:, 1:], cov[..., 0, 0],
            0.5 * (cov[..., 0, 1] + cov[..., 1, 0]), cov[..., 1, 1])


def _pack(weights, m0, m1, a, b, c, centre: np.ndarray) -> Mixture:
    means = np.stack([m0 + centre[:, :1], m1 + centre[:, 1:]], axis=-1)
    covariances = np.stack([np.stack([a, b], -1), np.stack([b, c], -1)], axis=-2)
    return Mixture(weights, means, covariances)


def _mean_log_half_to_one(values: np.ndarray) -> np.ndarray:
    """mean(log(values), axis=-1) for values in [1/2, 1], as sums of logs of products of
    blocks of <= 1000 values (each product >= 2^-1000 ~ 1e-301 stays a normal double; the
    relative rounding error of a product is <= 1000 eps): a fifth of the cost of a log per
    value, with an absolute error below 1e-13 on the mean."""
    n = values.shape[-1]
    if n % 1000 == 0:
        blocks = values.reshape(values.shape[:-1] + (-1, 1000))
        return np.add.reduce(np.log(np.multiply.reduce(blocks, axis=-1)), axis=-1) / n
    full = n - n % 1000
    total = np.zeros(values.shape[:-1])
    if full:
        total += np.log(np.prod(values[..., :full].reshape(values.shape[:-1] + (-1, 1000)),
                                axis=-1)).sum(-1)
    if full < n:
        total += np.log(np.prod(values[..., full:], axis=-1))
    return total / n


def _e_step(features_t: np.ndarray, mean_features: np.ndarray, coefficients: np.ndarray,
            resp: np.ndarray) -> np.ndarray:
    """Responsibilities into ``resp`` (A, K, N); returns the mean log-likelihood (A,).

    features_t: (A, 6, N) point features, mean_features: (A, 6) their mean over points."""
    if coefficients.shape[-1] == 2:
        # resp_1 = 1 / (1 + e^-g), resp_0 = e^-g resp_1 with g = w_1 - w_0 (e^-g capped at
        # e^700 so that it stays finite: then resp_1 ~ 1e-304 instead of underflowing to 0),
        # and log p = w_0 + max(g, 0) - log max(resp_0, resp_1): one exp per point (the logs
        # are taken of block products, see _mean_log_half_to_one)
        minus_gap = ((coefficients[:, :, 0] - coefficients[:, :, 1])[:, None, :]
                     @ features_t)[:, 0]                                   # (A, N)
        ratio = np.exp(np.minimum(minus_gap, 700.0))
        np.add(ratio, 1.0, out=resp[:, 1])
        np.reciprocal(resp[:, 1], out=resp[:, 1])
        np.multiply(ratio, resp[:, 1], out=resp[:, 0])
        larger = np.maximum(resp[:, 0], resp[:, 1], out=ratio)           # in [1/2, 1]
        n = minus_gap.shape[-1]
        return (np.einsum("af,af->a", mean_features, coefficients[:, :, 0])
                - np.add.reduce(np.minimum(minus_gap, 0.0, out=minus_gap), axis=-1) / n
                - _mean_log_half_to_one(larger))
    weighted = np.swapaxes(coefficients, 1, 2) @ features_t                 # (A, K, N)
    top = weighted.max(1, keepdims=True)
    with np.errstate(under="ignore"):
        np.exp(weighted - top, out=resp)
    total = resp.sum(1, keepdims=True)
    resp /= total
    return (top + np.log(total))[:, 0].mean(-1)


# --------------------------------------------------------------------------- k-means init
def _nearest(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index of the nearest centre (first on ties): X (S, N, 2), centres (S, K, 2) -> (S, N)."""
    score = np.square(centers).sum(-1)[:, None, :] - 2 * (X @ np.swapaxes(centers, 1, 2))
    return np.argmin(score, axis=-1)


def kmeans_plusplus(X: np.ndarray, n_clusters: int, rng: np.random.Generator,
                    n_local_trials: int | None = None) -> np.ndarray:
    """Greedy k-means++ seeding of every seed's data (as ``sklearn.cluster.kmeans_plusplus``).

    X: (S, N, 2) -> centres (S, K, 2)."""
    X = _check_data(X)
    n_seeds, n_points, _ = X.shape
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))
    rows = np.arange(n_seeds)
    first = rng.integers(0, n_points, size=n_seeds)
    centers = [X[rows, first]]
    closest = np.square(X - centers[0][:, None, :]).sum(-1)              # (S, N)
    for _ in range(1, n_clusters):
        potential = closest.sum(-1)                                        # (S,)
        cumulative = np.cumsum(closest, axis=1)
        targets = rng.random((n_seeds, n_local_trials)) * potential[:, None]
        candidates = np.minimum((cumulative[:, None, :] < targets[:, :, None]).sum(-1),
                                n_points - 1)                              # searchsorted, left
        candidate_points = X[rows[:, None], candidates]                    # (S, T, 2)
        distances = np.square(X[:, :, None, :] - candidate_points[:, None, :, :]).sum(-1)
        new_closest = np.minimum(closest[:, :, None], distances)           # (S, N, T)
        best = np.argmin(new_closest.sum(1), axis=1)                       # (S,)
        centers.append(candidate_points[rows, best])
        closest = new_closest[rows, :, best]
    return np.stack(centers, axis=1)


def kmeans(X: np.ndarray, n_clusters: int, rng: np.random.Generator | None,
           max_iter: int = 300, tol: float = 1e-4,
           initial_centers: np.ndarray | None = None) -> np.ndarray:
    """Lloyd k-means from k-means++ seeds (or from ``initial_centers`` (S, K, 2)), per seed,
    as ``sklearn.cluster.KMeans(n_clusters, n_init=1)``. X: (S, N, 2) -> labels (S, N)."""
    X = _check_data(X)
    n_seeds, n_points, _ = X.shape
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)) \
            or not 1 <= n_clusters <= n_points:
        raise ValueError(f"n_clusters must be an integer in [1, n_points = {n_points}], "
                         f"got {n_clusters!r}")
    if initial_centers is None:
        centers = kmeans_plusplus(X, n_clusters, rng)
    else:
        centers = np.asarray(initial_centers, dtype=float)
        if centers.shape != (n_seeds, n_clusters, 2):
            raise ValueError(f"initial_centers must have shape {(n_seeds, n_clusters, 2)}, "
                             f"got {centers.shape}")
    threshold = tol * X.var(axis=1).mean(-1)                               # (S,)
    labels_out = np.empty((n_seeds, n_points), dtype=np.intp)
    active = np.arange(n_seeds)
    labels_old = None
    X_active = X
    totals = X.sum(1)                                                      # (S, 2)
    cluster_index = np.arange(n_clusters)
    for _ in range(max_iter):
        if n_clusters == 2:   # nearest of two centres: one projection per point
            direction = (centers[:, 1] - centers[:, 0])[:, :, None]       # (A, 2, 1)
            offset = 0.5 * (np.square(centers[:, 1]).sum(-1)
                            - np.square(centers[:, 0]).sum(-1))
            labels = (X_active @ direction)[..., 0] > offset[:, None]     # (A, N) bool
            count = labels.sum(1)
            sum_second = (labels.astype(float)[:, None, :] @ X_active)[:, 0]
            counts = np.stack([n_points - count, count], axis=1)           # (A, 2)
            sums = np.stack([totals[active] - sum_second, sum_second], axis=1)
        else:
            labels = _nearest(X_active, centers)                           # (A, N)
            one_hot = (labels[:, :, None] == cluster_index).astype(float)  # (A, N, K)
            counts = one_hot.sum(1)                                        # (A, K)
            sums = np.swapaxes(one_hot, 1, 2) @ X_active                   # (A, K, 2)
        new_centers = np.where(counts[..., None] > 0,
                               sums / np.maximum(counts, 1)[..., None], centers)
        shift = np.square(new_centers - centers).sum((1, 2))
        centers = new_centers
        same = np.zeros(len(active), dtype=bool) if labels_old is None else \
            (labels == labels_old).all(1)
        done = same | (shift <= threshold[active])
        if done.any():
            final = labels[done].astype(np.intp)
            redo = ~same[done]      # tolerance stop: labels for the final centres
            if redo.any():
                final[redo] = _nearest(X_active[done][redo], centers[done][redo])
            labels_out[active[done]] = final
            keep = ~done
            active, X_active = active[keep], X_active[keep]
            centers, labels = centers[keep], labels[keep]
            if active.size == 0:
                break
        labels_old = labels
    if active.size:
        labels_out[active] = _nearest(X_active, centers)
    return labels_out


def mixture_from_labels(X: np.ndarray, labels: np.ndarray, n_components: int,
                        reg_covar: float = 1e-6) -> Mixture:
    """scikit-learn's ``_initialize``: one M-step on one-hot responsibilities.

    X: (S, N, 2), labels: (S, N) -> Mixture with weights = counts / N."""
    X = _check_data(X)
    centre = X.mean(1)                                                     # (S, 2)
    resp = (labels[:, None, :] == np.arange(n_components)[:, None]).astype(float)  # (S,K,N)
    nk, m0, m1, a, b, c = _parameters_from_moments(
        resp @ point_features(X - centre[:, None, :]), reg_covar)
    return _pack(nk / X.shape[1], m0, m1, a, b, c, centre)


# --------------------------------------------------------------------------- EM
def mean_log_likelihood(X, mixture: Mixture) -> np.ndarray:
    """Per-seed mean log-likelihood (scikit-learn's ``score``): X (S, N, 2) -> (S,)."""
    X = _check_data(X)
    centre = X.mean(1)
    features_t = np.swapaxes(point_features(X - centre[:, None, :]), 1, 2)
    coefficients = _log_density_coefficients(*_unpack(mixture, centre))
    resp = np.empty((X.shape[0], mixture.n_components, X.shape[1]))
    return _e_step(features_t, features_t.mean(-1), coefficients, resp)


def log_density(X, mixture: Mixture) -> np.ndarray:
    """log p(x) of every point under its seed's mixture: X (S, N, 2) -> (S, N).

    A mixture with one seed is applied to every seed of X."""
    X = _check_data(X)
    if mixture.n_seeds == 1 and X.shape[0] > 1:
        mixture = Mixture(*(np.broadcast_to(v, (X.shape[0],) + v.shape[1:]) for v in
                            (mixture.weights, mixture.means, mixture.covariances)))
    if mixture.n_seeds != X.shape[0]:
        raise ValueError(f"mixture has {mixture.n_seeds} seeds, data has {X.shape[0]}")
    centre = X.mean(1)
    coefficients = _log_density_coefficients(*_unpack(mixture, centre))   # (S, 6, K)
    weighted = np.swapaxes(coefficients, 1, 2) @ np.swapaxes(
        point_features(X - centre[:, None, :]), 1, 2)                     # (S, K, N)
    top = weighted.max(1)
    with np.errstate(under="ignore"):
        return top + np.log(np.exp(weighted - top[:, None, :]).sum(1))


def fit_em(X, n_components: int = 2, rng: np.random.Generator | None = None, *,
           tol: float = 1e-5, max_iter: int = 2000, reg_covar: float = 1e-6,
           initial: Mixture | None = None) -> EMResult:
    """Fit a full-covariance Gaussian mixture to every seed's 2-D data by EM.

    X: (S, N, 2). ``initial``: start from these parameters (else the k-means initialisation,
    which needs ``rng``). Stopping rule as scikit-learn: a seed stops at the first iteration
    whose lower-bound change is below ``tol`` (``converged``) or after ``max_iter``.
    """
    X = _check_data(X)
    n_seeds, n_points, _ = X.shape
    if isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer)) \
            or n_components < 1:
        raise ValueError(f"n_components must be an integer >= 1, got {n_components!r}")
    if n_points < max(2, n_components):
        raise ValueError(f"each seed needs at least max(2, n_components) = "
                         f"{max(2, n_components)} points, got {n_points}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) \
            or max_iter < 1:
        raise ValueError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    if not tol >= 0:
        raise ValueError(f"tol must be a number >= 0, got {tol!r}")
    if not reg_covar >= 0:
        raise ValueError(f"reg_covar must be a number >= 0, got {reg_covar!r}")
    if initial is None:
        if rng is None:
            raise ValueError("fit_em needs rng for the k-means initialisation "
                             "(or initial= parameters)")
        initial = mixture_from_labels(X, kmeans(X, n_components, rng), n_components,
                                      reg_covar)
    elif initial.weights.shape != (n_seeds, n_components):
        raise ValueError(f"initial mixture has weights of shape {initial.weights.shape}, "
                         f"expected {(n_seeds, n_components)}")

    centre = X.mean(1)                                                     # (S, 2)
    centred = X - centre[:, None, :]
    features = point_features(centred)                                     # (S, N, 6)
    features_t = np.ascontiguousarray(np.swapaxes(features, 1, 2))        # (S, 6, N)
    mean_features = features.mean(1)                                       # (S, 6)
    final = [np.array(p, copy=True) for p in _unpack(initial, centre)]    # 6 x (S, K)
    n_iter = np.zeros(n_seeds, dtype=int)
    converged = np.zeros(n_seeds, dtype=bool)
    lower_bound = np.full(n_seeds, -np.inf)

    active = np.arange(n_seeds)            # the seed of each row of the batch
    running = np.ones(n_seeds, dtype=bool)  # rows whose seed has not stopped yet
    parameters = list(final)
    previous = np.full(n_seeds, -np.inf)
    resp = np.empty((n_seeds, n_components, n_points))
    for iteration in range(1, max_iter + 1):
        coefficients = _log_density_coefficients(*parameters)
        bound = _e_step(features_t, mean_features, coefficients, resp)
        nk, *rest = _parameters_from_moments(resp @ features, reg_covar)   # M-step
        parameters = [nk / nk.sum(-1, keepdims=True), *rest]
        done = np.abs(bound - previous) < tol
        previous = bound
        stop = running & (done if iteration < max_iter else True)
        if stop.any():
            finished = active[stop]
            for stored, value in zip(final, parameters):
                stored[finished] = value[stop]
            n_iter[finished] = iteration
            converged[finished] = done[stop]
            lower_bound[finished] = bound[stop]
            running &= ~stop
            n_running = running.sum()
            if n_running == 0:
                break
            # Stopped rows keep iterating (harmlessly: their results are stored) until a
            # quarter of the batch has stopped; then the batch is compacted. Copying the
            # features costs about one iteration, so this bounds both costs.
            if n_running <= 0.75 * len(running):
                keep = running
                active, previous, running = active[keep], previous[keep], running[keep]
                features, features_t = features[keep], features_t[keep]
                mean_features, resp = mean_features[keep], resp[keep]
                parameters = [value[keep] for value in parameters]
    return EMResult(_pack(*final, centre), n_iter, converged, lower_bound)


# --------------------------------------------------------------------------- sampling
def sample_mixture(mixture: Mixture, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` i.i.d. points from every seed's mixture: (S, n, 2).

    Component labels are drawn i.i.d. from the weights (scikit-learn draws multinomial
    counts and orders the points by component: the same distribution of the sample as a
    set, which is all EM sees)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    s, k, _ = mixture.means.shape
    cumulative = np.cumsum(mixture.weights, axis=1)
    labels = (rng.random((s, n, 1)) >= cumulative[:, None, :k - 1]).sum(-1)   # (S, n)
    lower = np.linalg.cholesky(mixture.covariances)                        # (S, K, 2, 2)
    rows = np.arange(s)[:, None]
    noise = rng.standard_normal((2, s, n))
    chosen_means, chosen_lower = mixture.means[rows, labels], lower[rows, labels]
    first = chosen_means[..., 0] + chosen_lower[..., 0, 0] * noise[0]
    second = (chosen_means[..., 1] + chosen_lower[..., 1, 0] * noise[0]
              + chosen_lower[..., 1, 1] * noise[1])
    return np.stack([first, second], axis=-1)
