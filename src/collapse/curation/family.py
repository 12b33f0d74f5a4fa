"""The curation chapter's own model family and true distributions: fitting and sampling only.

* Verification (Feng et al.'s setting): a two-class Gaussian mixture in d dimensions,
  y = ±1 equally likely and x | y ~ N(y·μ, I_d). The family :class:`NoisyGaussianClassifier`
  is a generative classifier: it fits the class mean m = mean of label·x (the maximum-likelihood
  class means with the known identity covariance; its classifier is sign(m·x)) and generates
  (x, label) pairs from N(y·m, I) whose label is flipped with probability ``label_noise`` (the
  noisy generator). Data: :class:`LabelledPoints`, shape (S, N, d + 2): the d coordinates, the
  label the generator reports, and the class the point was drawn from (what a perfect
  verifier knows: the label is *correct* when the two agree).
* Best-of-K curation (Ferbach et al.'s setting): a ring of equal Gaussians in 2-D
  (:class:`Ring`), fitted by the Gaussian-mixture family of :mod:`collapse.gmm`.
* Self-correction (Gillman et al.'s setting): the 1-D Gaussian of :mod:`collapse.gaussian`.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..core.checks import check_fraction, check_sample_size
from ..core.family import ArrayData

__all__ = ["ClassMeans", "LabelledPoints", "NoisyGaussianClassifier", "labelled_real_data",
           "truth_mean", "Ring"]


# =============================================================================== verification
@dataclasses.dataclass(frozen=True)
class ClassMeans:
    """Generation n's generative classifiers, one per seed: ``mean`` (S, d) is m, the mean of
    class +1 (class −1 has mean −m, both with identity covariance)."""

    mean: np.ndarray

    @property
    def n_seeds(self) -> int:
        return int(self.mean.shape[0])


class LabelledPoints(ArrayData):
    """Labelled points with a leading seed axis: (S, N, d + 2) = (coordinates, reported label,
    generating class). ``features``, ``labels`` and ``classes`` read the three parts."""

    def __init__(self):
        super().__init__(axis=1)

    @staticmethod
    def features(data: np.ndarray) -> np.ndarray:
        """x: (S, N, d)."""
        return np.asarray(data)[..., :-2]

    @staticmethod
    def labels(data: np.ndarray) -> np.ndarray:
        """The label the data report (what a model is trained on): (S, N), ±1."""
        return np.asarray(data)[..., -2]

    @staticmethod
    def classes(data: np.ndarray) -> np.ndarray:
        """The class each point was drawn from: (S, N), ±1."""
        return np.asarray(data)[..., -1]

    @staticmethod
    def pack(features: np.ndarray, labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
        return np.concatenate([features, labels[..., None], classes[..., None]], axis=-1)


class NoisyGaussianClassifier:
    """The generative classifier of the verification experiment.

    ``fit``: m = (1/N) Σ labelᵢ xᵢ per seed. ``generate``: y = ±1 equally likely, x ~ N(y m, I),
    the reported label −y with probability ``label_noise`` (the generator's errors), else y.
    """

    data_type = LabelledPoints()

    def __init__(self, label_noise: float):
        self.label_noise = check_fraction(label_noise, "label_noise")

    def fit(self, data: np.ndarray, rng: np.random.Generator | None = None) -> ClassMeans:
        data = np.asarray(data, float)
        if data.ndim != 3 or data.shape[-1] < 3:
            raise ValueError(f"labelled points must have shape (seeds, N, d + 2), "
                             f"got {data.shape}")
        labels = LabelledPoints.labels(data)
        return ClassMeans((labels[..., None] * LabelledPoints.features(data)).mean(axis=1))

    def generate(self, model: ClassMeans, n: int, rng: np.random.Generator,
                 context=None) -> np.ndarray:
        n = check_sample_size(n, "n", minimum=1)
        seeds, dims = model.mean.shape
        classes = rng.choice([-1.0, 1.0], size=(seeds, n))
        features = classes[..., None] * model.mean[:, None, :] \
            + rng.standard_normal((seeds, n, dims))
        flipped = rng.random((seeds, n)) < self.label_noise
        return LabelledPoints.pack(features, np.where(flipped, -classes, classes), classes)


def truth_mean(dims: int, mean_norm: float) -> np.ndarray:
    """μ = ‖μ‖ e₁ (d,): the true class-+1 mean (Bayes accuracy Φ(‖μ‖))."""
    dims = check_sample_size(dims, "dims", minimum=2)
    if not mean_norm > 0:
        raise ValueError(f"mean_norm must be a number > 0, got {mean_norm!r}")
    mean = np.zeros(dims)
    mean[0] = float(mean_norm)
    return mean


def labelled_real_data(mean: np.ndarray, n_seeds: int, n_points: int,
                       rng: np.random.Generator) -> np.ndarray:
    """Generation 0's data: n points of the true mixture per seed, correctly labelled:
    (S, n, d + 2)."""
    n_seeds = check_sample_size(n_seeds, "n_seeds", minimum=1)
    n_points = check_sample_size(n_points, "n_points")
    classes = rng.choice([-1.0, 1.0], size=(n_seeds, n_points))
    features = classes[..., None] * mean + rng.standard_normal((n_seeds, n_points, len(mean)))
    return LabelledPoints.pack(features, classes, classes)


# =============================================================================== the ring
@dataclasses.dataclass(frozen=True)
class Ring:
    """``n_modes`` equal isotropic Gaussians of standard deviation ``sd`` at equal angles on a
    circle of ``radius`` (the first at (radius, 0)): Ferbach et al.'s synthetic 2-D setting."""

    n_modes: int = 8
    radius: float = 4.0
    sd: float = 0.5

    def __post_init__(self):
        check_sample_size(self.n_modes, "n_modes", minimum=2)
        if not (self.radius > 0 and self.sd > 0):
            raise ValueError(f"radius and sd must be > 0, got {self.radius!r}, {self.sd!r}")

    @property
    def centres(self) -> np.ndarray:
        """(n_modes, 2)."""
        angles = 2 * math.pi * np.arange(self.n_modes) / self.n_modes
        return self.radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)

    def sample(self, n_seeds: int, n_points: int, rng: np.random.Generator) -> np.ndarray:
        """(S, n, 2): every point from a uniformly chosen mode."""
        n_seeds = check_sample_size(n_seeds, "n_seeds", minimum=1)
        n_points = check_sample_size(n_points, "n_points")
        modes = rng.integers(0, self.n_modes, size=(n_seeds, n_points))
        return self.centres[modes] + self.sd * rng.standard_normal((n_seeds, n_points, 2))

    def density(self, points: np.ndarray) -> np.ndarray:
        """p₀(x) at ``points`` (..., 2)."""
        squared = ((np.asarray(points)[..., None, :] - self.centres) ** 2).sum(-1)
        return np.exp(-squared / (2 * self.sd ** 2)).mean(-1) / (2 * math.pi * self.sd ** 2)

    def nearest_mode(self, points: np.ndarray) -> np.ndarray:
        """Index of the nearest ring centre of every point (..., 2) -> (...)."""
        squared = ((np.asarray(points)[..., None, :] - self.centres) ** 2).sum(-1)
        return np.argmin(squared, axis=-1)
